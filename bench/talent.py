"""``task eval:talent``: talent-search quality over the resume dataset's 166 people.

Each distinct resume becomes a discoverable owner and bot (``resume-NNN``), its text
uploaded and embedded through the real upload and embed steps (ContentService, then
the embed step with the packaged all-MiniLM-L6-v2 in this process), into a throw-away
embedded PostgreSQL. Every query of the set runs through :class:`TalentService`'s
search (criteria from the offline parser, evidence, ranking) exactly as
``POST /api/talent/search`` runs it, nothing stored.

Relevance is the person's ``Category`` (the dataset's label, never uploaded): printed
are P@10 and nDCG@10 (binary gain), overall and per query language, with the best
P@10 possible (a category smaller than 10 caps it).

    ./scripts/task eval:talent                    # the tuning set (eval/talent/queries.yaml)
    ./scripts/task eval:talent -- --holdout       # the held-out set: a final check, never tuned on
    ./scripts/task eval:talent -- --keep /tmp/tal # keep the loaded database for the next run
    ./scripts/task eval:talent -- --show t07      # one query's criteria and ranking
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.eval import InProcessEmbedder

ROOT = Path(__file__).resolve().parents[1]
SETS = {"tune": ROOT / "eval" / "talent" / "queries.yaml",
        "holdout": ROOT / "eval" / "talent" / "holdout.yaml"}  # fmt: skip
LOADED = "talent-eval-loaded"


@dataclass(frozen=True)
class Query:
    id: str
    lang: str
    text: str
    relevant: frozenset[str]


def load(path: Path) -> list[Query]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Query(q["id"], q["lang"], q["query"], frozenset(q["relevant"])) for q in data["queries"]
    ]


def precision_at(ranked: Sequence[bool], k: int = 10) -> float:
    return sum(ranked[:k]) / k


def ndcg_at(ranked: Sequence[bool], relevant: int, k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, hit in enumerate(ranked[:k]) if hit)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, relevant)))
    return dcg / ideal if ideal else 0.0


async def _load_people(pool: Any, store: Any, provider: Any, owner_url: str) -> dict[str, str]:
    """Owners, discoverable bots and their resume documents; slug -> category."""
    import psycopg

    from localplatform.resumes import read
    from shared.accounts.principal import Principal
    from shared.content.embedding import process
    from shared.content.service import ContentService
    from shared.events import outbox

    people = read()
    content = ContentService(pool, store, max_bytes=10_000_000)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        loaded = conn.execute("SELECT to_regclass('public.talent_eval_loaded')").fetchone()
        if loaded and loaded[0]:
            return {p.slug: p.category for p in people}
    started = time.perf_counter()
    for person in people:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO users (email, password_hash, role) VALUES (%s, 'x', 'protostar') "
                "RETURNING id::text",
                (f"{person.slug}@example.com",),
            ).fetchone()
            assert row is not None
        owner = row[0]
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', %s, true)", (owner,))
            await conn.execute(
                "INSERT INTO bots (owner_id, slug, name, discoverable) VALUES (%s, %s, %s, true)",
                (owner, person.slug, f"Resume {person.row:03d}"),
            )
        principal = Principal(subject=owner, role="protostar")
        _, event_id = await content.upload(
            principal, person.slug, person.filename, person.text.encode()
        )
        event = await outbox.load(pool, event_id)
        assert event is not None
        outcome = await process(pool, store, provider, event)
        if outcome != "ready":
            raise SystemExit(f"{person.slug}: {outcome}")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE talent_eval_loaded ()")
    print(f"loaded {len(people)} people in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {p.slug: p.category for p in people}


async def evaluate(
    queries: Sequence[Query], *, keep: Path | None, show: set[str], config: dict[str, float]
) -> dict[str, Any]:
    import tempfile

    from psycopg_pool import AsyncConnectionPool

    from localplatform.embedded.postgres import EmbeddedPostgres
    from shared.db import bootstrap
    from shared.db.migrate import migrate
    from shared.storage.files import FileObjectStore
    from shared.talent.criteria import parse
    from shared.talent.search import SearchConfig, TalentSearch

    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="protostar-talent-")
        root = Path(tmp.name)
    else:
        root = keep
        root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    secret_file = root / "secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(16))
    secret = secret_file.read_text()
    server = EmbeddedPostgres(root / "pg", password=secret, fsync=False)
    server.start()
    try:
        roles = bootstrap.Roles(owner_password=secret + "o", app_password=secret + "a")
        bootstrap.bootstrap(server.url(), roles)
        owner_url = server.url(roles.owner, roles.owner_password, roles.database)
        migrate(owner_url, roles.app)
        app_url = server.url(roles.app, roles.app_password, roles.database)
        async with AsyncConnectionPool(
            app_url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
        ) as pool:
            store = FileObjectStore(root / "objects", signing_key=b"eval", public_base="http://e")
            provider = InProcessEmbedder()
            category = await _load_people(pool, store, provider, owner_url)
            size = {c: sum(1 for v in category.values() if v == c) for c in set(category.values())}
            search = TalentSearch(pool, provider, replace(SearchConfig(), **config))
            rows = []
            for q in queries:
                criteria = parse(q.text)
                started = time.perf_counter()
                outcome = await search.run(criteria, 10)
                elapsed = (time.perf_counter() - started) * 1000
                ranked = [category[m.person.slug] in q.relevant for m in outcome.matches]
                relevant = sum(size.get(c, 0) for c in q.relevant)
                rows.append({
                    "id": q.id, "lang": q.lang,
                    "p10": precision_at(ranked), "ndcg10": ndcg_at(ranked, relevant),
                    "best_p10": min(10, relevant) / 10, "shown": len(ranked),
                    "matched": outcome.matched, "ms": elapsed,
                })  # fmt: skip
                if q.id in show or "all" in show:
                    await _explain(search, q, criteria, category, outcome)
    finally:
        server.stop()
        if tmp is not None:
            tmp.cleanup()
    return summarize(rows)


async def _explain(
    search: Any, q: Query, criteria: list[Any], category: dict[str, str], outcome: Any
) -> None:
    """One query's criteria, its top 10, and where the relevant people ranked."""
    mark = {"met": "+", "partial": "~", "missing": "-"}
    print(f"\n{q.id} [{q.lang}] {q.text}  relevant={sorted(q.relevant)}")
    for c in criteria:
        wide = " (too wide)" if c.id in outcome.too_wide else ""
        print(f"  {c.id} {c.kind:7} {c.type:10} {c.text!r} -> {c.search_text!r}{wide}")
    everyone = await search.run(criteria, 200)
    for rank, m in enumerate(everyone.matches, start=1):
        relevant = category[m.person.slug] in q.relevant
        if rank > 10 and not relevant:
            continue
        found = " ".join(f"{f.criterion}{mark[f.verdict]}{f.strength:.2f}" for f in m.findings)
        print(f"  {'*' if relevant else ' '} {rank:3} {m.score:.3f} {m.person.slug} "
              f"{category[m.person.slug]:22} {found}")  # fmt: skip


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str, subset: list[dict[str, Any]]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 3) if subset else 0.0

    groups = {
        "all": rows,
        **{lang: [r for r in rows if r["lang"] == lang] for lang in ("en", "ko")},
    }
    return {
        "groups": {
            name: {
                "queries": len(g),
                "P@10": mean("p10", g),
                "nDCG@10": mean("ndcg10", g),
                "best P@10": mean("best_p10", g),
                "ms p50": _pct([r["ms"] for r in g], 50),
            }
            for name, g in groups.items()
        },
        "queries": rows,
    }


def _pct(values: list[float], p: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval:talent")
    parser.add_argument("--holdout", action="store_true", help="the held-out set")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the loaded database here")
    parser.add_argument("--show", default="", help="query ids to print in full (or 'all')")
    parser.add_argument("--set", action="append", default=[], help="SearchConfig key=value")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    queries = load(SETS["holdout" if args.holdout else "tune"])
    config = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    report = asyncio.run(
        evaluate(
            queries, keep=args.keep, show=set(filter(None, args.show.split(","))), config=config
        )
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    name = "holdout" if args.holdout else "tune"
    print(f"\ntalent search, {name} set ({SETS[name].relative_to(ROOT)})")
    print(f"{'':6} {'n':>3} {'P@10':>6} {'nDCG@10':>8} {'best P@10':>9} {'ms p50':>7}")
    for group, g in report["groups"].items():
        print(f"{group:6} {g['queries']:>3} {g['P@10']:>6.3f} {g['nDCG@10']:>8.3f} "
              f"{g['best P@10']:>9.3f} {g['ms p50']:>7.1f}")  # fmt: skip
    weak = [r for r in report["queries"] if r["p10"] < r["best_p10"] / 2]
    if weak:
        print(
            "weakest: " + ", ".join(f"{r['id']} {r['p10']:.1f}/{r['best_p10']:.1f}" for r in weak)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
