"""`task bench -- --quick` runs and reports every figure (never asserts a time)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def run_quick(bench: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """``task bench -- --quick --only <bench>``: (that bench's report, the printed table)."""
    before = set((ROOT / "bench" / "results").glob("*.json"))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", bench],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    after = set((ROOT / "bench" / "results").glob("*.json")) - before
    assert len(after) == 1
    report: dict[str, Any] = json.loads(after.pop().read_text())["benches"][bench]
    return report, done.stdout


def test_quick_broker_bench_reports_every_figure(rabbitmq_url: str) -> None:
    # Each bench runs once in CI: this one the broker, the tests below the others.
    broker, stdout = run_quick("broker")
    names = {row["name"] for row in broker["rows"]}
    assert names == {
        "raw aio-pika (confirms + consume)",
        "runtime, RabbitMQ backend",
        "runtime, PostgreSQL backend",
    }
    for row in broker["rows"]:
        assert row["events"] > 0
        assert row["events_per_s"] > 0
        assert row["p95_ms"] >= row["p50_ms"] > 0
        if row["name"] != broker["baseline"]:
            assert row["rate_vs_raw"] > 0
    assert "| runtime, RabbitMQ backend" in stdout


def test_quick_quota_bench_reports_every_figure(external_redis_url: str) -> None:
    quotas, stdout = run_quick("quotas", {"BENCH_REDIS_URL": external_redis_url})
    assert quotas["baseline"] == "raw Redis INCR"
    redis_rows = {
        (row["name"], row["mode"]): row for row in quotas["rows"] if "checks_per_s" in row
    }
    assert set(redis_rows) == {
        (name, mode)
        for name in ("raw Redis INCR", "quota check-and-consume")
        for mode in ("sequential", "concurrency 16")
    }
    for (name, mode), row in redis_rows.items():
        assert row["ops"] > 0
        assert row["checks_per_s"] > 0
        assert row["checks_per_s_max"] >= row["checks_per_s"] >= row["checks_per_s_min"] > 0
        assert row["p99_us"] >= row["p50_us"] > 0
        if name != "raw Redis INCR":
            assert row["rate_vs_raw"] > 0
            assert row["p99_vs_raw"] > 0
            assert redis_rows[("raw Redis INCR", mode)]["runs"] == row["runs"]
    argon2 = [row for row in quotas["rows"] if "hashes_per_s_per_core" in row]
    if importlib.util.find_spec("argon2") is None:
        assert argon2 == []
    else:
        (row,) = argon2
        assert row["hashes_per_s_per_core"] > 0
    assert "| quota check-and-consume" in stdout


def test_quick_embedder_bench_reports_every_figure() -> None:
    embedder, stdout = run_quick("embedder")
    rows = {row["name"]: row for row in embedder["rows"]}
    raw = rows["raw sentence-transformers encode"]
    served = rows["embedder function over HTTP"]
    for row in (raw, served):
        assert row["chunks"] > 0
        assert 500 <= row["chunk_chars"] <= 900
        assert row["chunks_per_s_max"] >= row["chunks_per_s"] >= row["chunks_per_s_min"] > 0
    assert served["vs_raw"] > 0
    assert served["model_load_s"] > 0
    gemini = [row for row in embedder["rows"] if "requests_per_s" in row]
    names = [row["name"] for row in gemini]
    assert names[:3] == [
        "raw aiohttp POST to fake Gemini",
        "google-genai embed_content alone",
        "GeminiEmbedder, breaker in process",
    ]
    for row in gemini:
        assert row["requests"] > 0
        assert row["texts_per_request"] == 100
        assert row["requests_per_s"] > 0
        assert row["p95_ms"] >= row["p50_ms"] > 0
        if row["name"] != "raw aiohttp POST to fake Gemini":
            assert "overhead_p50_ms" in row
            assert row["rate_vs_raw"] > 0
    assert "| embedder function over HTTP" in stdout


def test_quick_ingest_bench_reports_every_figure() -> None:
    ingest, stdout = run_quick("ingest")
    rows = {row["name"]: row for row in ingest["rows"]}
    bare = rows["bare steps: extract + chunk + terms + encode"]
    served = rows["upload to ready (content > outbox > broker > embed > embedder)"]
    raw = rows["raw aiohttp POST to fake Gemini (resume chunks)"]
    gemini = rows["GeminiEmbedder.embed (resume chunks)"]
    assert set(rows) == {bare["name"], served["name"], raw["name"], gemini["name"]}
    for row in rows.values():
        assert row["runs"] > 0
        assert row["max_ms"] >= row["median_ms"] >= row["min_ms"] > 0
    # The same resume both ways: ten pages of real text make the same chunks.
    assert served["chunks"] == bare["chunks"] >= 10
    assert raw["texts"] == gemini["texts"] == bare["chunks"]
    assert served["vs_baseline"] > 0
    assert gemini["vs_baseline"] > 0
    assert "overhead_median_ms" in gemini
    assert "10 pages" in ingest["resume"] or ingest["resume"].startswith("synthetic")
    assert "| upload to ready" in stdout


def test_quick_ask_bench_reports_every_figure(external_redis_url: str) -> None:
    ask, stdout = run_quick("ask", {"BENCH_REDIS_URL": external_redis_url})
    assert ask["baseline"] == "bare SQL of the same retrieval"
    rows = {(row["name"], row["mode"]): row for row in ask["rows"]}
    names = ("ask path (no generation)", "retrieval only (Retriever.retrieve)", ask["baseline"])
    assert set(rows) == {(name, "concurrency 1") for name in names} | {
        (name, "concurrency 16") for name in (names[0], names[2])
    }
    for (name, mode), row in rows.items():
        assert row["ops"] > 0
        assert row["runs"] > 0
        if mode == "concurrency 1":
            assert row["p50_ms_max"] >= row["p50_ms"] >= row["p50_ms_min"] > 0
            assert row["p95_ms_max"] >= row["p95_ms"] >= row["p95_ms_min"] > 0
            assert row["p95_ms"] >= row["p50_ms"]
            if name != ask["baseline"]:
                assert row["p50_vs_bare"] > 0
                assert row["p95_vs_bare"] > 0
        else:
            assert row["per_s_max"] >= row["per_s"] >= row["per_s_min"] > 0
            if name != ask["baseline"]:
                assert row["rate_vs_bare"] > 0
    # Every question was answered from the bot's own chunks (both legs found them).
    assert ask["answerable_share"] == 1.0
    assert "5,000 chunks over 50 bots" in ask["figure"]
    assert "| ask path (no generation)" in stdout


def test_quick_recall_bench_reports_every_figure() -> None:
    recall, stdout = run_quick("recall")
    rows = recall["rows"]
    for share in ("1%", "0.1%"):
        mine = [row for row in rows if row["bots"].startswith(f"{share} of chunks")]
        names = [row["name"] for row in mine]
        assert names[0] == recall["baseline"]
        assert names[1].startswith("Retriever (ef_search ")
        assert len(names) == 6
        for row in mine:
            assert row["queries"] > 0
            assert 0.0 <= row["recall_at_10"] <= 1.0
            assert row["p50_ms"] > 0
            assert row["plan"]
        # Exact search is exact; the Retriever always gets k rows whenever k exist.
        assert mine[0]["recall_at_10"] == 1.0
        assert "HNSW" not in mine[0]["plan"]
        assert mine[1]["returned_k"] == min(10, int(mine[1]["bots"].split("(")[1].split()[0]))
        assert all(row["plan"] == "HNSW index scan" for row in mine[2:])
    assert "| Retriever (ef_search" in stdout


def test_quick_peer_bench_reports_every_figure() -> None:
    peer, stdout = run_quick("peer")
    assert peer["peer_version"].startswith("langchain-postgres ")
    for share in ("1%", "0.1%"):
        mine = [row for row in peer["rows"] if row["bots"].startswith(f"{share} of chunks")]
        assert [row["name"] for row in mine] == [
            peer["baseline"],
            "langchain-postgres PGVector retriever, as shipped (no vector index)",
            "langchain-postgres PGVector retriever, HNSW index (pgvector defaults)",
        ]
        for row in mine:
            assert row["queries"] > 0
            assert 0.0 <= row["recall_at_10"] <= 1.0
            assert row["max_ms"] >= row["p95_ms"] >= row["p50_ms"] >= row["min_ms"] > 0
        assert mine[0]["recall_at_10"] == 1.0  # ours at this size: exact plans
        assert mine[1]["recall_at_10"] == 1.0  # the peer without an index scans everything
        assert mine[1]["p50_vs_ours"] > 0
        assert mine[2]["p50_vs_ours"] > 0
    assert peer["peer_load_s"]["hnsw_index_s"] >= 0
    assert "| langchain-postgres PGVector retriever" in stdout


def test_quick_coldstart_bench_lists_every_function() -> None:
    coldstart, stdout = run_quick("coldstart")
    rows = {row["name"]: row for row in coldstart["rows"]}
    services = sorted(p.stem for p in (ROOT / "knative" / "base" / "services").glob("*.yaml"))
    assert set(rows) == {coldstart["baseline"], *services}
    for name, row in rows.items():
        assert row["starts"] > 0
        assert row["cold_start_ms_max"] >= row["cold_start_ms"] >= row["cold_start_ms_min"] > 0
        assert row["idle_rss_mb_max"] >= row["idle_rss_mb"] > 0
        if name != coldstart["baseline"]:
            assert row["start_vs_hello"] > 0
            assert row["rss_vs_hello"] > 0
            assert row["ml"] is (name == "embedder")
    assert "| hello (bare functions-framework)" in stdout
