"""`task bench -- --quick` runs and reports every figure (never asserts a time)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_quick_bench_reports_every_figure(rabbitmq_url: str) -> None:
    before = set((ROOT / "bench" / "results").glob("*.json"))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    after = set((ROOT / "bench" / "results").glob("*.json")) - before
    assert len(after) == 1
    report = json.loads(after.pop().read_text())
    broker = report["benches"]["broker"]
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
    assert "| runtime, RabbitMQ backend" in done.stdout
