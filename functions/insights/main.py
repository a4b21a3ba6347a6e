"""insights: what visitors ask a bot (for its owner). Logic in shared/insights.py."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.principal import Principal
from shared.api.operation import operations
from shared.http import Router, endpoint
from shared.insights import InsightsQuery, InsightsService, InsightsView
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("insights")


async def get_insights(request: Request, principal: Principal, query: InsightsQuery) -> Response:
    days = query.days
    res = get_resources("insights")
    service = InsightsService(await res.pool(), timezone=res.settings.quota_timezone)
    view = await service.insights(principal, request.path_params["bot"], days)
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


router = Router(
    [
        operations("insights")(
            "GET", "/api/bots/{bot}/insights", get_insights,
            "What visitors ask your bot: questions per day, top and unanswered questions, "
            "feedback; and its appearances in talent searches (per week, for which "
            "criteria, the questions then asked from them)", op_id="getInsights",
            query=InsightsQuery, responses={200: InsightsView}, errors=(400, 401, 403, 404),
        )
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def insights(request: Request) -> Response:
    return await router(request)
