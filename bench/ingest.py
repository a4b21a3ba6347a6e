"""Ingest: upload-to-ready latency of a 10-page resume PDF through the whole system,
beside the bare steps measured in the same run; and our Gemini embedding path against
a zero-latency fake beside the fake's raw round-trip.

The resume: real resume text (distinct rows of ``../shared/data/resumes/
UpdatedResumeDataSet.csv``, in file order, from one category at a time until ten pages
are full), wrapped at 90 characters, 46 lines a page, as a PDF built here (the test
kit's Type0 writer): the same bytes on every run. Without the dataset: synthetic text.

- "upload to ready": the real local runtime (``python -m localplatform.runtime`` on
  knative/base, PostgreSQL broker backend, the embedder with the packaged model):
  ``POST /api/bots/{bot}/documents`` -> row + outbox -> broker -> embed (pypdf in its
  subprocess, chunks, terms) -> embedder over HTTP -> chunks and vectors in one
  transaction -> ``ready``, polled every 20 ms by the owner's ``GET``.
- baseline "bare steps": in this process, on the same bytes, ``extract`` + ``chunk`` +
  ``terms`` + raw sentence-transformers ``encode`` of the chunks (same model, same
  threads), no HTTP, no database, no broker.
- Gemini: ``GeminiEmbedder.embed`` of the resume's chunks (google-genai, tenacity, the
  breaker) against the tests' fake Gemini answering at once, beside a bare aiohttp POST
  of the same ``batchEmbedContents`` body.

Figures: median after warm-up, with min and max, and the ratio to the baseline.
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.embedder import BENCH_KEY, DATASET, gemini_request, load_raw_model
from localplatform.embedded.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
PAGES = 10
LINES_PER_PAGE = 46
WIDTH = 90
POLL_S = 0.02


# ----------------------------------------------------------------------------- resume


def resume_pages() -> tuple[list[list[str]], str]:
    """Ten pages of wrapped lines of real resume text (deterministic)."""
    need = PAGES * LINES_PER_PAGE
    lines: list[str] = []
    if DATASET.is_file():
        csv.field_size_limit(sys.maxsize)
        with DATASET.open(newline="", encoding="utf-8", errors="replace") as f:
            rows = list(csv.DictReader(f))
        seen: set[str] = set()
        by_category: dict[str, list[str]] = {}
        for row in rows:
            if row["Resume"] not in seen:
                seen.add(row["Resume"])
                by_category.setdefault(row["Category"], []).append(row["Resume"])
        for category, resumes in by_category.items():
            lines.append(category.upper())
            for resume in resumes:
                for paragraph in resume.replace("\r", "\n").split("\n"):
                    text = " ".join(paragraph.split())
                    if text:
                        lines.extend(textwrap.wrap(text, WIDTH) or [text])
                if len(lines) >= need:
                    break
            if len(lines) >= need:
                break
        source = f"{DATASET.name}: distinct resumes in file order, {PAGES} pages"
    else:
        sentence = "Operated Kafka, PostgreSQL and Kubernetes for a payments platform."
        lines = textwrap.wrap(" ".join([sentence] * need), WIDTH)
        source = "synthetic"
    lines = lines[:need]
    return [lines[i : i + LINES_PER_PAGE] for i in range(0, need, LINES_PER_PAGE)], source


def resume_pdf() -> tuple[bytes, str]:
    from tests.documents.samples import make_pdf

    pages, source = resume_pages()
    return make_pdf(pages), source


# ----------------------------------------------------------------------------- figures


def _row(name: str, seconds: list[float], baseline: list[float] | None, **extra: Any) -> dict:
    row: dict[str, Any] = {
        "name": name,
        "runs": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }
    if baseline is not None:
        row["vs_baseline"] = round(statistics.median(seconds) / statistics.median(baseline), 2)
    row.update(extra)
    return row


async def _timed(call: Callable[[], Awaitable[Any]], warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        await call()
    out: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


# ----------------------------------------------------------------------------- bare steps


def bare_steps(pdf: bytes, model: Any) -> tuple[int, float]:
    """extract + chunk + terms + raw encode; (chunks, seconds)."""
    from shared.documents import MediaType, chunk, extract, index_terms

    started = time.perf_counter()
    pieces = chunk(extract(pdf, MediaType.PDF, filename="resume.pdf"))
    for piece in pieces:
        index_terms(piece.text)
    model.encode(
        [p.text for p in pieces], batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return len(pieces), time.perf_counter() - started


def chunk_texts(pdf: bytes) -> list[str]:
    from shared.documents import MediaType, chunk, extract

    return [c.text for c in chunk(extract(pdf, MediaType.PDF, filename="resume.pdf"))]


# ----------------------------------------------------------------------------- system


class _System:
    """The local runtime on a fresh data directory, with a protostar and a bot."""

    def __init__(self, work: Path) -> None:
        from tests.support.runtime import Up

        self.work = work
        self.up = Up(
            work / "data",
            free_port(),
            extra_env={"BROKER_BACKEND": "postgres", "LOG_LEVEL": "WARNING"},
            args=["--status", "off"],
        )
        self.session: aiohttp.ClientSession | None = None
        self.base = ""

    async def start(self) -> None:
        from tests.support.runtime import clean_env

        state = await asyncio.to_thread(self.up.wait_state, 180)
        self.base = state["public_url"]
        invite = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.accounts.invite_cli"],
            cwd=ROOT,
            env=clean_env({"PROTOSTAR_DATA": str(self.work / "data")}),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        code = invite.stdout.strip().splitlines()[-1]
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        signup = await self._json(
            "POST",
            "/api/auth/signup",
            json={"email": "bench@example.com", "password": "correct horse 9 battery"},
        )
        self.token = signup["access_token"]
        self.token = (await self._json("POST", "/api/users/me/invite", json={"code": code}))[
            "access_token"
        ]
        await self._json("POST", "/api/bots", json={"slug": "bench", "name": "Bench"})

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {self.token}"} if hasattr(self, "token") else {}
        async with self.session.request(
            method, self.base + path, headers=headers, **kwargs
        ) as response:
            body = await response.json()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {body}")
            return body

    async def upload_to_ready(self, pdf: bytes) -> int:
        form = aiohttp.FormData()
        form.add_field("file", pdf, filename="resume.pdf", content_type="application/pdf")
        doc = await self._json("POST", "/api/bots/bench/documents", data=form)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            body = await self._json("GET", f"/api/bots/bench/documents/{doc['id']}")
            if body["status"] == "ready":
                return int(body["chunks"])
            if body["status"] == "failed":
                raise RuntimeError(f"the resume failed: {body.get('error')}")
            await asyncio.sleep(POLL_S)
        raise RuntimeError("the resume never became ready")

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        await asyncio.to_thread(self.up.close)


async def system_rows(quick: bool, work: Path, pdf: bytes) -> list[dict[str, Any]]:
    warmup, runs = (1, 3) if quick else (2, 10)
    loading = asyncio.ensure_future(asyncio.to_thread(load_raw_model))
    system = _System(work)
    try:
        await system.start()
        model = await loading
        chunks: list[int] = []
        bare: list[float] = []
        served: list[float] = []
        # Warm-up: the embedder loads its model, pypdf's worker and the pools start.
        for _ in range(warmup):
            await system.upload_to_ready(pdf)
            await asyncio.to_thread(bare_steps, pdf, model)
        for i in range(runs):  # taking turns, so that machine drift hits both alike
            for step in ("system", "bare") if i % 2 == 0 else ("bare", "system"):
                if step == "bare":
                    count, seconds = await asyncio.to_thread(bare_steps, pdf, model)
                    bare.append(seconds)
                else:
                    started = time.perf_counter()
                    chunks.append(await system.upload_to_ready(pdf))
                    served.append(time.perf_counter() - started)
    finally:
        await system.close()
    return [
        _row("bare steps: extract + chunk + terms + encode", bare, None, chunks=count),
        _row(
            "upload to ready (content > outbox > broker > embed > embedder)",
            served,
            bare,
            chunks=chunks[-1],
            poll_ms=POLL_S * 1000,
        ),
    ]


# ----------------------------------------------------------------------------- gemini


async def gemini_rows(quick: bool, texts: list[str]) -> list[dict[str, Any]]:
    from shared.embeddings.gemini import GeminiEmbedder
    from tests.embeddings.fake_gemini import FakeGemini, serve

    warmup, runs = (3, 10) if quick else (10, 100)
    fake = FakeGemini(BENCH_KEY)
    async with serve(fake.app, free_port()) as url:
        endpoint, body, headers = gemini_request(url, texts)
        session = aiohttp.ClientSession()
        embedder = GeminiEmbedder(api_key=BENCH_KEY, base_url=url)

        async def raw() -> None:
            async with session.post(endpoint, data=body, headers=headers) as response:
                assert len((await response.json())["embeddings"]) == len(texts)

        async def ours() -> None:
            assert len(await embedder.embed(texts)) == len(texts)

        try:
            raw_s: list[float] = []
            ours_s: list[float] = []
            for _ in range(warmup):
                await raw()
                await ours()
            for i in range(runs):
                first, second = (raw, ours) if i % 2 == 0 else (ours, raw)
                for call in (first, second):
                    started = time.perf_counter()
                    await call()
                    (raw_s if call is raw else ours_s).append(time.perf_counter() - started)
        finally:
            await session.close()
            await embedder.close()
    raw_row = _row("raw aiohttp POST to fake Gemini (resume chunks)", raw_s, None)
    ours_row = _row(
        "GeminiEmbedder.embed (resume chunks)",
        ours_s,
        raw_s,
        overhead_median_ms=round((statistics.median(ours_s) - statistics.median(raw_s)) * 1000, 2),
    )
    for row in (raw_row, ours_row):
        row["texts"] = len(texts)
    return [raw_row, ours_row]


# ----------------------------------------------------------------------------- report


async def run(quick: bool, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    pdf, source = resume_pdf()
    rows = await system_rows(quick, work, pdf)
    rows += await gemini_rows(quick, await asyncio.to_thread(chunk_texts, pdf))
    return {
        "figure": "ingest: upload-to-ready of a 10-page resume PDF; Gemini embedding overhead",
        "baseline": "bare steps in process; raw aiohttp POST (Gemini rows)",
        "aim": "report the system's overhead over the bare work (median, min, max)",
        "resume": f"{source}; {len(pdf):,} bytes",
        "rows": rows,
    }
