"""`task eval`: answer quality of the offline default, measured the way a visitor meets
it, on any folder of documents and any question file.

Every question goes through the same path as ``/ask`` (:meth:`ChatService.trial`:
retrieval, the answer/refuse decision, the extractive answer, the sources), with
documents ingested through the real upload and embed steps into a throw-away embedded
PostgreSQL (the packaged all-MiniLM-L6-v2 in this process). Printed per corpus and per
language pair (question → evidence: ko→ko, en→ko, ko→en, en→en):

- retrieval hit@1 / hit@5 / hit@k (k: the passages the answerer gets, RETRIEVAL_K): a
  retrieved passage holds one of the evidence strings;
- visible: the visitor sees the evidence, in the answer text or a source's snippet
  (a refused question sees nothing);
- false refusals: answerable questions refused; refusal recall and precision: the
  unanswerable questions are the positives.

Question files (YAML, or JSON, which is YAML too)::

    corpus: {dir: corpus}            # optional: documents beside the file by default;
                                     # or {resumes: {csv: PATH, rows: {bot: ROW, ...}}}
    questions:
      - id: k001
        question: "..."
        lang: ko                     # optional (detected)
        bot: main                    # optional: which bot, when the corpus has several
        evidence:                    # any one answers it: exact text of a document
          - "a string"               #   (10-80 characters, within one sentence)
          - {document: file.md, text: "a string"}
      - id: k002
        question: "..."
        unanswerable: true

``task eval`` runs the evaluation corpora (eval/sets.yaml); ``--holdout`` runs the
held-out corpus instead (once a session, as a final check, never to tune on);
``--corpus DIR --questions FILE`` runs yours. ``--calibrate`` fits the decision model
cross-validated by corpus (each corpus scored by a model fitted on the others) and
prints the figures and the model fitted on all of them (shared/chat/decision.py).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import yaml

from shared.chat.decision import FEATURES, MODELS, Model
from shared.documents.sentences import language as text_language
from shared.embeddings import EmbeddingProvider, Task

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT / "eval" / "sets.yaml"
DOCUMENT_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"}
_SPACE = re.compile(r"\s+")
PAIRS = ("ko→ko", "en→ko", "ko→en", "en→en")


@dataclass(frozen=True)
class Evidence:
    text: str
    document: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    text: str
    evidence: tuple[Evidence, ...]
    bot: str = "main"

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)

    @property
    def pair(self) -> str:
        """question language → evidence language (the question's own when some
        evidence is in it: a reader can answer without crossing languages)."""
        if not self.evidence:
            return f"{self.lang}→-"
        langs = {text_language(e.text) for e in self.evidence}
        return f"{self.lang}→{self.lang if self.lang in langs else sorted(langs)[0]}"


@dataclass
class EvalSet:
    name: str
    path: Path
    questions: list[Question]
    bots: dict[str, dict[str, bytes]]  # bot name -> file name -> bytes
    holdout: bool = False


@dataclass
class Outcome:
    """One question through the ask path; ``visible`` is what the visitor would see if
    the question is answered (the decision applied on top, so that any decision model
    can be scored without asking again)."""

    set: str
    id: str
    pair: str
    answerable: bool
    rank: int | None
    visible: bool
    features: dict[str, float]
    probability: float
    sources: int
    answer: str = ""
    refused: bool = False


# ------------------------------------------------------------------ question files


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def load_set(
    path: Path, corpus: Path | None = None, *, name: str | None = None, holdout: bool = False
) -> EvalSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise SystemExit(f"{path}: expected a mapping with a 'questions' list")
    questions = [_question(path, i, q) for i, q in enumerate(data["questions"])]
    spec = data.get("corpus") or {}
    bots: dict[str, dict[str, bytes]]
    if corpus is not None:
        bots = {"main": _folder(corpus)}
    elif "resumes" in spec:
        bots = _resumes(spec["resumes"])
    else:
        bots = {"main": _folder(path.parent / spec.get("dir", "corpus"))}
    unknown = {q.bot for q in questions} - set(bots)
    if unknown:
        raise SystemExit(f"{path}: questions name bots with no documents: {sorted(unknown)}")
    return EvalSet(name or path.parent.name, path, questions, bots, holdout)


def _question(path: Path, index: int, q: Any) -> Question:
    if not isinstance(q, dict) or not isinstance(q.get("question"), str):
        raise SystemExit(f"{path}: question {index + 1} has no 'question' text")
    evidence: list[Evidence] = []
    for item in q.get("evidence") or ():
        if isinstance(item, str):
            evidence.append(Evidence(item))
        else:
            evidence.append(Evidence(item["text"], item.get("document")))
    for item in q.get("answers") or ():  # the demo set's older shape
        evidence.append(Evidence(item["contains"], item["document"]))
    unanswerable = q.get("unanswerable") is True or q.get("answerable") is False
    if unanswerable == bool(evidence):
        raise SystemExit(
            f"{path}: question {q.get('id', index + 1)} needs evidence or unanswerable: true"
        )
    text = q["question"]
    return Question(
        str(q.get("id", index + 1)), q.get("lang") or text_language(text), text, tuple(evidence),
        str(q.get("bot", "main")),
    )  # fmt: skip


def _folder(folder: Path) -> dict[str, bytes]:
    files = {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
    }
    if not files:
        raise SystemExit(f"{folder}: no documents ({', '.join(sorted(DOCUMENT_SUFFIXES))})")
    return files


def _resumes(spec: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    """Bots made of rows of the resume dataset (read where it lies; nothing copied)."""
    path = (ROOT / spec["csv"]).resolve()
    if not path.is_file():
        raise SystemExit(f"{path}: the resume dataset is not there")
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        rows = [r["Resume"] for r in csv.DictReader(f)]
    return {bot: {f"resume-{row}.txt": rows[row].encode()} for bot, row in spec["rows"].items()}


def configured_sets(*, holdout: bool) -> list[EvalSet]:
    listed = yaml.safe_load(SETS.read_text(encoding="utf-8"))
    key = "holdout" if holdout else "sets"
    return [
        load_set(ROOT / entry["questions"], name=entry["name"], holdout=holdout)
        for entry in listed[key]
    ]


# ------------------------------------------------------------------ scoring


def retrieval_rank(question: Question, hits: Sequence[Any], files: dict[str, str]) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        text = _norm(hit.text)
        for ev in question.evidence:
            if ev.document and files.get(hit.document_id) != ev.document:
                continue
            if _norm(ev.text) in text:
                return rank
    return None


def is_visible(question: Question, answer: str, citations: Sequence[dict[str, str]]) -> bool:
    seen = _norm(" ".join([answer, *(c["snippet"] for c in citations)]))
    return any(_norm(ev.text) in seen for ev in question.evidence)


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    def block(items: Sequence[Outcome]) -> dict[str, Any]:
        ans = [o for o in items if o.answerable]
        una = [o for o in items if not o.answerable]
        refused = [o for o in items if o.refused]
        out: dict[str, Any] = {"questions": len(items), "answerable": len(ans)}
        if ans:
            out["hit1"] = round(sum(o.rank == 1 for o in ans) / len(ans), 3)
            out["hit5"] = round(sum(o.rank is not None and o.rank <= 5 for o in ans) / len(ans), 3)
            out["hitk"] = round(sum(o.rank is not None for o in ans) / len(ans), 3)
            out["visible"] = round(sum(o.visible and not o.refused for o in ans) / len(ans), 3)
            out["false_refusals"] = round(sum(o.refused for o in ans) / len(ans), 3)
        out["unanswerable"] = len(una)
        if una:
            out["refusal_recall"] = round(sum(o.refused for o in una) / len(una), 3)
        if refused:
            out["refusal_precision"] = round(
                sum(not o.answerable for o in refused) / len(refused), 3
            )
        return out

    report = block(outcomes)
    by_pair = {}
    for pair in PAIRS:
        items = [o for o in outcomes if o.pair == pair]
        if items:
            by_pair[pair] = block(items)
    report["by_pair"] = by_pair
    same = [o for o in outcomes if o.answerable and o.pair in ("ko→ko", "en→en")]
    cross = [o for o in outcomes if o.answerable and o.pair in ("en→ko", "ko→en")]
    if same and cross:
        report["visible_same"] = block(same)["visible"]
        report["visible_cross"] = block(cross)["visible"]
    return report


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    *,
    l2: float = 0.05,
    steps: int = 4000,
    rate: float = 0.5,
) -> Model:
    """Logistic regression (full-batch gradient descent, L2 on the weights, classes
    balanced so that the few unanswerable questions count as much as the many
    answerable ones). Pure Python: it runs in `task eval`, never in a function."""
    n = len(rows)
    if n == 0:
        raise ValueError("nothing to fit")
    positives = sum(labels)
    negatives = n - positives
    weight_of = {
        True: n / (2 * positives) if positives else 0.0,
        False: n / (2 * negatives) if negatives else 0.0,
    }
    w = dict.fromkeys(FEATURES, 0.0)
    b = 0.0
    for _ in range(steps):
        gw = dict.fromkeys(FEATURES, 0.0)
        gb = 0.0
        for x, y in zip(rows, labels, strict=True):
            z = b + sum(w[f] * x[f] for f in FEATURES)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            err = (p - (1.0 if y else 0.0)) * weight_of[y]
            gb += err
            for f in FEATURES:
                gw[f] += err * x[f]
        b -= rate * gb / n
        for f in FEATURES:
            w[f] -= rate * (gw[f] / n + l2 * w[f])
    return Model(bias=round(b, 3), weights={f: round(v, 3) for f, v in w.items()})


def apply(outcomes: Sequence[Outcome], model: Model) -> list[Outcome]:
    out = []
    for o in outcomes:
        p = model.probability(o.features)
        out.append(replace(o, probability=p, refused=p < model.threshold))
    return out


def cross_validate(
    outcomes: Sequence[Outcome], base: Model, *, l2: float
) -> tuple[dict[str, Any], Model]:
    """Each corpus scored by a model fitted on the other corpora; then the model fitted
    on all of them."""
    names = sorted({o.set for o in outcomes})
    scored: list[Outcome] = []
    folds: dict[str, Any] = {}
    for name in names:
        train = [o for o in outcomes if o.set != name]
        model = fit([o.features for o in train], [o.answerable for o in train], l2=l2)
        model = replace(model, threshold=base.threshold)
        held = apply([o for o in outcomes if o.set == name], model)
        scored.extend(held)
        folds[name] = summarize(held)
    folds["all (cross-validated)"] = summarize(scored)
    final = fit([o.features for o in outcomes], [o.answerable for o in outcomes], l2=l2)
    return folds, replace(final, threshold=base.threshold)


# ------------------------------------------------------------------ the run


class InProcessEmbedder(EmbeddingProvider):
    """The packaged model in this process (what the embedder service serves)."""

    def __init__(self) -> None:
        from shared.embeddings.model import get_model

        self._model = get_model()
        self.name = f"local:{self._model.name}"
        self.dimensions = self._model.dimensions

    async def embed(self, texts: Sequence[str], *, task: Task = "document") -> list[list[float]]:
        return await asyncio.to_thread(self._model.encode, list(texts))


@dataclass
class Harness:
    pool: Any
    store: Any
    provider: EmbeddingProvider
    owner: str
    service: Any
    files: dict[str, str] = field(default_factory=dict)  # document id -> file name

    async def add_bot(self, slug: str, name: str, documents: dict[str, bytes]) -> None:
        from shared.accounts.principal import Principal
        from shared.content.embedding import process
        from shared.content.service import ContentService
        from shared.events import outbox

        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', %s, true)", (self.owner,))
            await conn.execute(
                "INSERT INTO bots (owner_id, slug, name) VALUES (%s, %s, %s)",
                (self.owner, slug, name),
            )
        content = ContentService(self.pool, self.store, max_bytes=10_000_000)
        principal = Principal(subject=self.owner, role="protostar")
        for filename, data in documents.items():
            body, event_id = await content.upload(principal, slug, filename, data)
            event = await outbox.load(self.pool, event_id)
            assert event is not None
            outcome = await process(self.pool, self.store, self.provider, event)
            if outcome != "ready":
                raise SystemExit(f"{filename}: {outcome}")
            self.files[str(body["id"])] = filename

    async def ask(self, eval_set: EvalSet, slug: str, question: Question) -> Outcome:
        return await ask(self.service, self.owner, slug, eval_set.name, question, self.files)


async def ask(
    service: Any, owner: str, slug: str, set_name: str, question: Question, files: dict[str, str]
) -> Outcome:
    """One question through :meth:`ChatService.trial` (the ask path, nothing stored)."""
    from shared.accounts.principal import Principal

    bot = await service.bot(slug)
    answer = await service.trial(Principal(subject=owner, role="protostar"), bot, question.text)
    decision = answer.decision
    answer.answerable = True  # what the visitor would see if answered
    text = "".join([piece async for piece in answer.pieces()])
    citations = answer.citations()
    return Outcome(
        set=set_name,
        id=question.id,
        pair=question.pair,
        answerable=question.answerable,
        rank=retrieval_rank(question, answer.retrieval.hits, files)
        if question.answerable
        else None,
        visible=question.answerable and is_visible(question, text, citations),
        features=decision.evidence.features(),
        probability=decision.probability,
        sources=len(citations),
        answer=text,
        refused=not decision.answerable,
    )


async def document_files(pool: Any, owner_id: str, bot_id: str) -> dict[str, str]:
    """document id -> the file name it was uploaded as."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.user_id', %s, true)", (owner_id,))
        cur = await conn.execute(
            "SELECT id::text, filename FROM documents WHERE bot_id = %s", (bot_id,)
        )
        return {r[0]: r[1] for r in await cur.fetchall()}


async def run(sets: Sequence[EvalSet]) -> tuple[list[Outcome], str]:
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    from localplatform.embedded.postgres import EmbeddedPostgres
    from shared.chat.extractive import ExtractiveAnswerer
    from shared.chat.retrieval import Retriever
    from shared.chat.service import ChatService
    from shared.db import bootstrap
    from shared.db.migrate import migrate
    from shared.storage.files import FileObjectStore

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
            app_url = server.url(roles.app, roles.app_password, roles.database)
            async with AsyncConnectionPool(
                app_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
            ) as pool:
                store = FileObjectStore(
                    root / "objects", signing_key=b"eval", public_base="http://eval"
                )
                provider = InProcessEmbedder()
                service = ChatService(
                    pool, cast(Any, None), cast(Any, None), Retriever(pool, provider),
                    ExtractiveAnswerer(),
                )  # fmt: skip
                harness = Harness(pool, store, provider, user[0], service)
                outcomes = []
                for n, eval_set in enumerate(sets):
                    slugs = {}
                    for b, (bot, documents) in enumerate(sorted(eval_set.bots.items())):
                        slugs[bot] = f"eval-{n}-{b}"
                        await harness.add_bot(slugs[bot], eval_set.name, documents)
                    for question in eval_set.questions:
                        outcomes.append(await harness.ask(eval_set, slugs[question.bot], question))
        finally:
            server.stop()
    return outcomes, provider.name


# ------------------------------------------------------------------ printing

_HEADS = ("questions", "hit1", "hit5", "hitk", "visible", "false_refusals", "refusal_recall",
          "refusal_precision")  # fmt: skip
_SHORT = ("n", "hit@1", "hit@5", "hit@k", "visible", "false ref", "refuse R", "refuse P")


def table(title: str, rows: dict[str, dict[str, Any]]) -> str:
    lines = [title, f"{'':<22}" + "".join(f"{h:>10}" for h in _SHORT)]
    for name, figures in rows.items():
        cells = []
        for key in _HEADS:
            value = figures.get(key)
            cells.append(f"{'-':>10}" if value is None else f"{value:>10}")
        lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)


def report_text(report: dict[str, Any]) -> str:
    out = [f"model {report['model']} · decision {report['decision']}"]
    rows = {name: figures for name, figures in report["sets"].items()}
    out.append(table("per corpus", rows))
    for name, figures in report["sets"].items():
        out.append(table(f"{name}: per language pair (question→evidence)", figures["by_pair"]))
    if "calibration" in report:
        cal = report["calibration"]
        out.append(table("cross-validated by corpus (fitted on the others)", cal["folds"]))
        out.append("fitted on all: " + json.dumps(cal["model"]))
    if report.get("failures"):
        out.append("answerable questions the visitor does not see answered:")
        out.extend(f"  {f}" for f in report["failures"])
    out.append(f"({report['seconds']} s)")
    return "\n\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="task eval", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="a folder of documents")
    parser.add_argument("--questions", type=Path, help="a question file (YAML or JSON)")
    parser.add_argument("--holdout", action="store_true", help="the held-out corpus only")
    parser.add_argument("--calibrate", action="store_true", help="fit the decision model")
    parser.add_argument("--l2", type=float, default=0.003, help="calibration: L2 penalty")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--failures", action="store_true", help="list what was not seen")
    args = parser.parse_args(argv)
    if args.corpus and not args.questions:
        parser.error("--corpus needs --questions")
    started = time.perf_counter()
    if args.questions:
        sets = [load_set(args.questions, args.corpus)]
    else:
        sets = configured_sets(holdout=args.holdout)
    outcomes, model_name = asyncio.run(run(sets))
    from shared.chat.decision import FALLBACK_MODEL

    model = MODELS.get(model_name, FALLBACK_MODEL)
    report: dict[str, Any] = {
        "model": model_name,
        "decision": {"bias": model.bias, "weights": dict(model.weights),
                     "threshold": model.threshold},
        "features": list(FEATURES),
        "sets": {s.name: summarize([o for o in outcomes if o.set == s.name]) for s in sets},
    }  # fmt: skip
    if len(sets) > 1:
        report["sets"]["all"] = summarize(outcomes)
    if args.calibrate:
        folds, fitted = cross_validate(outcomes, model, l2=args.l2)
        report["calibration"] = {
            "folds": folds,
            "model": {"bias": fitted.bias, "weights": dict(fitted.weights)},
        }
    if args.failures:
        report["failures"] = [
            f"{o.set}/{o.id} {o.pair} rank={o.rank} p={o.probability:.2f} "
            f"{'refused' if o.refused else 'not visible'}"
            for o in outcomes
            if o.answerable and (o.refused or not o.visible)
        ] + [
            f"{o.set}/{o.id} unanswerable, answered p={o.probability:.2f}"
            for o in outcomes
            if not o.answerable and not o.refused
        ]
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else report_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
