"""Talent search for signed-up users: a sentence becomes criteria (a model's structured
output or the rules: shared/talent/understanding.py), the criteria are matched against
every discoverable person (shared/talent/search.py), and the search is saved for its
user (immutable, re-runnable) with one appearance row per person shown (the owner's
Insights count them), in one unit of work.

Counted against the user's daily talent quota first; a search that fails after it was
counted is given back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.accounts.principal import Principal
from shared.db.unit import scope, unit_of_work
from shared.errors import Forbidden, NotFound
from shared.talent import contracts as c
from shared.talent.criteria import Criterion, criterion_from_text
from shared.talent.quota import SearchQuota, TalentQuota
from shared.talent.search import Match, Outcome, TalentSearch
from shared.talent.understanding import CriteriaParser


async def criteria_of(body: c.SearchBody, parser: CriteriaParser) -> list[Criterion]:
    """The criteria read from the query (by the parser: a model's or the rules'), or the
    user's own (edited, toggled, added: read by the lexicon alone, never a model)."""
    if body.criteria is None:
        return await parser.parse(body.query)
    out: list[Criterion] = []
    used = {e.id for e in body.criteria if e.id}
    fresh = (f"c{n}" for n in range(1, 100) if f"c{n}" not in used)
    seen: set[str] = set()
    for edit in body.criteria:
        id_ = edit.id if edit.id and edit.id not in seen else next(fresh)
        seen.add(id_)
        out.append(criterion_from_text(id_, edit.text, edit.kind, enabled=edit.enabled))
    return out


class TalentService:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        quota: TalentQuota,
        search: TalentSearch,
        *,
        public_url: str,
        parser: CriteriaParser | None = None,
    ) -> None:
        self.pool = pool
        self.quota = quota
        self.engine = search
        self.public_url = public_url.rstrip("/")
        self.parser = parser or CriteriaParser()

    async def close(self) -> None:
        """Close the model client, if any (the pool and Redis are the resources')."""
        await self.parser.close()

    async def search(
        self, principal: Principal, body: c.SearchBody
    ) -> tuple[dict[str, Any], SearchQuota]:
        """The search's view (what the API answers) and the quota after it."""
        if principal.is_guest:
            raise Forbidden("talent search is for signed-up users", code="signup_required")
        quota = await self.quota.consume(principal)
        try:
            # After the quota: a model call is not made for a search that is refused.
            criteria = await criteria_of(body, self.parser)
            outcome = await self.engine.run(criteria, body.limit)
            search_id = str(uuid.uuid4())
            created = datetime.now(UTC)
            views = [self._criterion_view(crit, outcome) for crit in criteria]
            counts = {
                "people_searched": outcome.people_searched,
                "matched": outcome.matched,
                "shown": len(outcome.matches),
            }
            async with unit_of_work(self.pool, user=principal.subject, talent=True) as uow:
                await uow.conn.execute(
                    "INSERT INTO talent_searches (id, user_id, query, criteria, result_limit, "
                    "counts, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (search_id, principal.subject, body.query, Jsonb(views), body.limit,
                     Jsonb(counts), created),
                )  # fmt: skip
                if outcome.matches:
                    async with uow.conn.cursor() as cur:
                        await cur.executemany(
                            "INSERT INTO talent_appearances (search_id, bot_id, owner_id, rank, "
                            "score, criteria, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [
                                (search_id, m.person.bot_id, m.person.owner_id, rank, m.score,
                                 Jsonb(self._appearance(m, criteria)), created)
                                for rank, m in enumerate(outcome.matches, start=1)
                            ],
                        )  # fmt: skip
        except BaseException:
            await self.quota.refund(quota)
            raise
        return {
            "id": search_id,
            "query": body.query,
            "criteria": views,
            "results": [self._result(m, body.query) for m in outcome.matches],
            "counts": counts,
            "quota": quota.view(),
            "created_at": created,
        }, quota

    async def saved(
        self, principal: Principal, *, limit: int, before: datetime | None
    ) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, user=principal.subject)
            cur = await conn.execute(
                "SELECT id::text, query, criteria, result_limit, counts, created_at "
                "FROM talent_searches WHERE user_id = %s AND (%s::timestamptz IS NULL "
                "OR created_at < %s) ORDER BY created_at DESC, id LIMIT %s",
                (principal.subject, before, before, limit),
            )
            return [_saved(row) for row in await cur.fetchall()]

    async def one(self, principal: Principal, search_id: str) -> dict[str, Any]:
        try:
            uuid.UUID(search_id)
        except ValueError:
            raise NotFound("no such search", code="search_not_found") from None
        async with self.pool.connection() as conn, conn.transaction():
            await scope(conn, user=principal.subject)
            cur = await conn.execute(
                "SELECT id::text, query, criteria, result_limit, counts, created_at "
                "FROM talent_searches WHERE id = %s AND user_id = %s",
                (search_id, principal.subject),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound("no such search", code="search_not_found")
        return _saved(row)

    # --- views ----------------------------------------------------------------------------
    @staticmethod
    def _criterion_view(crit: Criterion, outcome: Outcome) -> dict[str, Any]:
        view = crit.public()
        view["too_wide"] = crit.id in outcome.too_wide
        return view

    def _result(self, match: Match, query: str) -> dict[str, Any]:
        return {
            "bot": match.person.slug,
            "name": match.person.name,
            "headline": match.headline,
            "score": match.score,
            # The chat page with the question filled in; `via=talent` goes back with the
            # question, so the owner's insights count who asked after finding them here.
            "ask_url": f"{self.public_url}/b/{match.person.slug}?q={quote(query)}&via=talent",
            "criteria": [
                {
                    "id": f.criterion,
                    "verdict": f.verdict,
                    "evidence": [
                        {"document_id": e.document_id, "title": e.title, "snippet": e.snippet}
                        for e in f.evidence
                    ],
                }
                for f in match.findings
            ],
        }

    @staticmethod
    def _appearance(match: Match, criteria: list[Criterion]) -> list[dict[str, Any]]:
        by_id = {crit.id: crit for crit in criteria}
        return [
            {
                "text": by_id[f.criterion].text,
                "kind": by_id[f.criterion].kind,
                "type": by_id[f.criterion].type,
                "verdict": f.verdict,
            }
            for f in match.findings
        ]


def _saved(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "query": row[1],
        "criteria": row[2],
        "limit": row[3],
        "counts": row[4],
        "created_at": row[5],
    }
