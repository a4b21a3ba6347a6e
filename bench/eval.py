"""`task eval`: retrieval and refusal quality of the offline default on the evaluation
set (shared/demo/eval.yaml over shared/demo/corpus/).

A fresh embedded PostgreSQL gets the demo corpus through the real upload and embed
steps (the packaged all-MiniLM-L6-v2 in this process); then every question is retrieved
the way the chat function retrieves it, and printed:

- hit@1, hit@5 and MRR (over the top 5) of answerable questions: a retrieved chunk hits
  when it comes from a listed document and contains one of the listed answer strings;
- refusal precision and recall: "refuse" is predicted when the evidence is below the
  thresholds; unanswerable questions are the positives;
- the same for the other fusion (RRF vs weighted) and a sweep of the thresholds, which
  is how the defaults in shared/chat/service.py were chosen.

``--json`` prints the figures as JSON (the tests read them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.chat.retrieval import Retrieval, RetrievalConfig, Retriever, answerable
from shared.chat.service import DEFAULT_THRESHOLDS, Thresholds
from shared.documents.sentences import language as text_language
from shared.embeddings import EmbeddingProvider, Task

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "shared" / "demo"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    kind: str
    text: str
    answers: tuple[tuple[str, str], ...]  # (document file name, contains)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class Metrics:
    answerable: int
    unanswerable: int
    hit1: float
    hit5: float
    mrr: float
    refusal_precision: float
    refusal_recall: float
    answered_recall: float  # answerable questions that were not refused
    by_lang: dict[str, dict[str, float]]


def load_questions(path: Path = DEMO / "eval.yaml") -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for q in data["questions"]:
        answers = tuple((a["document"], a["contains"]) for a in q.get("answers") or ())
        out.append(Question(q["id"], q["lang"], q.get("kind", ""), q["question"], answers))
    return out


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def rank_of_answer(question: Question, retrieval: Retrieval, titles: dict[str, str]) -> int | None:
    """1-based rank of the first hit among the retrieved chunks, or None."""
    for rank, hit in enumerate(retrieval.hits, start=1):
        text = _norm(hit.text)
        for document, contains in question.answers:
            if titles.get(hit.document_id) == document and _norm(contains) in text:
                return rank
    return None


def score(
    questions: Sequence[Question],
    retrievals: Sequence[Retrieval],
    titles: dict[str, str],
    thresholds: Thresholds,
    vector_languages: frozenset[str],
) -> Metrics:
    hits1 = hits5 = 0
    rr = 0.0
    refused_right = refused_wrong = missed = answered = 0
    per_lang: dict[str, list[int]] = {}
    n_ans = sum(q.answerable for q in questions)
    for q, r in zip(questions, retrievals, strict=True):
        ok = answerable(
            r,
            min_similarity=thresholds.min_similarity,
            min_coverage=thresholds.min_coverage,
            vector_languages=vector_languages,
            language=text_language(q.text),
        )
        if q.answerable:
            rank = rank_of_answer(q, r, titles)
            stats = per_lang.setdefault(q.lang, [0, 0, 0])
            stats[0] += 1
            if rank == 1:
                hits1 += 1
            if rank is not None and rank <= 5:
                hits5 += 1
                rr += 1 / rank
                stats[1] += 1
            if ok:
                answered += 1
                stats[2] += 1
            else:
                refused_wrong += 1
        elif ok:
            missed += 1
        else:
            refused_right += 1
    refused = refused_right + refused_wrong
    n_un = len(questions) - n_ans
    return Metrics(
        answerable=n_ans,
        unanswerable=n_un,
        hit1=hits1 / n_ans,
        hit5=hits5 / n_ans,
        mrr=rr / n_ans,
        refusal_precision=refused_right / refused if refused else 1.0,
        refusal_recall=refused_right / n_un if n_un else 1.0,
        answered_recall=answered / n_ans,
        by_lang={
            lang: {"questions": s[0], "hit5": s[1] / s[0], "answered": s[2] / s[0]}
            for lang, s in sorted(per_lang.items())
        },
    )


async def retrieve_all(
    retriever: Retriever, bot_id: str, questions: Sequence[Question], config: RetrievalConfig
) -> list[Retrieval]:
    return [await retriever.retrieve(bot_id, q.text, config=config) for q in questions]


async def document_files(pool: Any, owner_id: str, bot_id: str) -> dict[str, str]:
    """document id -> the corpus file name it was uploaded from."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', %s, true)", (owner_id,))
        cur = await conn.execute(
            "SELECT id::text, filename FROM documents WHERE bot_id = %s", (bot_id,)
        )
        return {r[0]: r[1] for r in await cur.fetchall()}


def sweep(
    questions: Sequence[Question],
    retrievals: Sequence[Retrieval],
    titles: dict[str, str],
    vector_languages: frozenset[str],
) -> list[tuple[Thresholds, Metrics]]:
    out = []
    for cov in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        for sim in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 1.01):
            t = Thresholds(min_coverage=cov, min_similarity=sim)
            out.append((t, score(questions, retrievals, titles, t, vector_languages)))
    return out


# ------------------------------------------------------------------ standalone run


class InProcessEmbedder(EmbeddingProvider):
    """The packaged model in this process (what the embedder service serves)."""

    def __init__(self) -> None:
        from shared.embeddings.model import get_model

        self._model = get_model()
        self.name = f"local:{self._model.name}"
        self.dimensions = self._model.dimensions

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        return await asyncio.to_thread(self._model.encode, list(texts))


async def _standalone(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    from shared.accounts.principal import Principal
    from shared.content.embedding import process
    from shared.content.service import ContentService
    from shared.db import bootstrap
    from shared.db.migrate import migrate
    from shared.embedded.postgres import EmbeddedPostgres
    from shared.events.outbox import _event_from_row
    from shared.storage.files import FileObjectStore

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="protostar-eval-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # noqa: ASYNC240 - embedded PostgreSQL runs as its own user
        secret = secrets.token_urlsafe(16)  # a throw-away cluster
        server = EmbeddedPostgres(root / "pg", password=secret, fsync=False)
        server.start()
        try:
            roles = bootstrap.Roles(owner_password=secret + "o", app_password=secret + "a")
            bootstrap.bootstrap(server.url(), roles)
            owner_url = server.url(roles.owner, roles.owner_password, roles.database)
            migrate(owner_url, roles.app)
            with psycopg.connect(owner_url, autocommit=True) as conn:
                user = conn.execute(
                    "INSERT INTO users (email, password_hash, role) "
                    "VALUES ('eval@example.com', 'x', 'protostar') RETURNING id::text"
                ).fetchone()
                assert user is not None
                conn.execute("SELECT set_config('app.user_id', %s, false)", (user[0],))
                bot = conn.execute(
                    "INSERT INTO bots (owner_id, slug, name) VALUES (%s, 'eval-bot', '한서준') "
                    "RETURNING id::text",
                    (user[0],),
                ).fetchone()
                assert bot is not None
            app_url = server.url(roles.app, roles.app_password, roles.database)
            async with AsyncConnectionPool(
                app_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
            ) as pool:
                store = FileObjectStore(
                    root / "objects", signing_key=b"eval", public_base="http://eval"
                )
                provider = InProcessEmbedder()
                content = ContentService(pool, store, max_bytes=10_000_000)
                principal = Principal(subject=user[0], role="protostar")
                for path in sorted((DEMO / "corpus").glob("*.md")):
                    _, event_id = await content.upload(
                        principal, "eval-bot", path.name, path.read_bytes()
                    )
                    async with pool.connection() as conn:
                        cur = await conn.execute(
                            "SELECT event_id, source, type, subject, data, traceparent, "
                            "created_at FROM outbox WHERE event_id = %s",
                            (event_id,),
                        )
                        row = await cur.fetchone()
                    assert row is not None
                    outcome = await process(pool, store, provider, _event_from_row(row))
                    assert outcome == "ready", (path.name, outcome)
                titles = await document_files(pool, user[0], bot[0])
                report = await evaluate(pool, provider, bot[0], titles, sweep_all=args.sweep)
        finally:
            server.stop()
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


async def evaluate(
    pool: Any,
    provider: EmbeddingProvider,
    bot_id: str,
    titles: dict[str, str],
    *,
    sweep_all: bool = False,
) -> dict[str, Any]:
    questions = load_questions()
    retriever = Retriever(pool, provider)
    vector_languages = frozenset({"en"})
    thresholds = DEFAULT_THRESHOLDS[provider.name]
    report: dict[str, Any] = {"model": provider.name, "thresholds": asdict(thresholds)}
    default = RetrievalConfig()
    for fusion, weight in (("rrf", 0.5), ("weighted", 0.3), ("weighted", 0.5), ("weighted", 0.7)):
        config = RetrievalConfig(k=5, fusion=fusion, weight=weight)  # type: ignore[arg-type]
        retrievals = await retrieve_all(retriever, bot_id, questions, config)
        name = fusion if fusion == "rrf" else f"weighted@{weight}"
        metrics = score(questions, retrievals, titles, thresholds, vector_languages)
        report[name] = asdict(metrics)
        if sweep_all and (fusion, weight) == (default.fusion, default.weight):
            report["sweep"] = [
                {**asdict(t), **{k: v for k, v in asdict(m).items() if k != "by_lang"}}
                for t, m in sweep(questions, retrievals, titles, vector_languages)
            ]
        if (fusion, weight) == (default.fusion, default.weight):
            report["default"] = name
            report["misses"] = [
                q.id
                for q, r in zip(questions, retrievals, strict=True)
                if q.answerable and rank_of_answer(q, r, titles) is None
            ]
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"evaluation set: shared/demo/eval.yaml · model {report['model']}")
    print(f"thresholds: {report['thresholds']}")
    heads = ("hit@1", "hit@5", "MRR", "refuse P", "refuse R", "answered")
    widths = (6, 6, 6, 9, 9, 9)
    print(f"{'fusion':<14} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    for name in ("rrf", "weighted@0.3", "weighted@0.5", "weighted@0.7"):
        m = report[name]
        print(
            f"{name:<14} {m['hit1']:6.3f} {m['hit5']:6.3f} {m['mrr']:6.3f} "
            f"{m['refusal_precision']:9.3f} {m['refusal_recall']:9.3f} {m['answered_recall']:9.3f}"
        )
    default = report["default"]
    print(f"default fusion: {default}")
    print(f"by language ({default}):", json.dumps(report[default]["by_lang"]))
    print(f"answerable questions not in the top 5 ({default}):", " ".join(report["misses"]) or "-")
    if "sweep" in report:
        print(f"threshold sweep ({default}): coverage similarity -> refuse P/R, answered")
        for row in report["sweep"]:
            print(
                f"  {row['min_coverage']:.2f} {row['min_similarity']:.2f} -> "
                f"{row['refusal_precision']:.3f}/{row['refusal_recall']:.3f}, "
                f"{row['answered_recall']:.3f}"
            )
    if "seconds" in report:
        print(f"({report['seconds']} s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="task eval", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sweep", action="store_true", help="also sweep the thresholds")
    args = parser.parse_args(argv)
    report = asyncio.run(_standalone(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
