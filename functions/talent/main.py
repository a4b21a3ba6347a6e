"""talent: HR search across every discoverable person, with evidence per criterion, and
the user's saved searches. The logic lives in shared/talent/; this is the HTTP surface."""

import asyncio

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.principal import Principal
from shared.api.operation import operations
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources, settle_heap
from shared.talent import contracts as c
from shared.talent.factory import build
from shared.talent.service import TalentService

configure_logging("talent")
NO_STORE = {"Cache-Control": "no-store"}


class _Root:
    """The one place this function's services are built (on the first request)."""

    def __init__(self) -> None:
        self._service: TalentService | None = None
        self._lock = asyncio.Lock()

    async def service(self) -> TalentService:
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    self._service = await build(get_resources("talent"))
        return self._service


ROOT = _Root()


async def search(request: Request, principal: Principal, body: c.SearchBody) -> Response:
    view, quota = await (await ROOT.service()).search(principal, body)
    settle_heap()
    return JSONResponse(
        c.SearchView.model_validate(view).model_dump(mode="json"),
        status_code=201,
        headers={**NO_STORE, **quota.headers(), "Location": f"/api/talent/searches/{view['id']}"},
    )


async def list_searches(request: Request, principal: Principal, query: c.SearchesQuery) -> Response:
    found = await (await ROOT.service()).saved(principal, limit=query.limit, before=query.before)
    reply = c.SavedSearches.model_validate({"searches": found})
    return JSONResponse(reply.model_dump(mode="json"), headers=NO_STORE)


async def get_search(request: Request, principal: Principal) -> Response:
    found = await (await ROOT.service()).one(principal, request.path_params["search"])
    reply = c.SavedSearch.model_validate(found)
    return JSONResponse(reply.model_dump(mode="json"), headers=NO_STORE)


_op = operations("talent")
router = Router(
    [
        _op("POST", "/api/talent/search", search,
            "Find the people who fit a sentence (or edited criteria), with evidence per "
            "criterion; saved to your searches", op_id="searchTalent", body=c.SearchBody,
            responses={201: c.SearchView}, errors=(400, 401, 403, 413, 429, 503)),
        _op("GET", "/api/talent/searches", list_searches, "Your saved searches, newest first",
            op_id="listTalentSearches", query=c.SearchesQuery,
            responses={200: c.SavedSearches}, errors=(400, 401)),
        _op("GET", "/api/talent/searches/{search}", get_search,
            "One of your saved searches (re-run it with its criteria)",
            op_id="getTalentSearch", responses={200: c.SavedSearch}, errors=(401, 404)),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def talent(request: Request) -> Response:
    return await router(request)
