"""bots: a protostar's bot settings, and the public view of a bot that its widget reads."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.principal import Principal
from shared.api.operation import operations
from shared.bots import contracts as c
from shared.bots.service import BotService, bot_service
from shared.cors import CorsPolicy
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("bots")
NO_STORE = {"Cache-Control": "no-store"}
# The widget may cache a bot's public view briefly; an owner's change shows within a minute.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}


async def _service() -> BotService:
    return await bot_service(get_resources("bots"))


async def create_bot(request: Request, principal: Principal, body: c.NewBot) -> Response:
    bot = await (await _service()).create(principal, body)
    return JSONResponse(
        bot.owner_view(),
        status_code=201,
        headers={**NO_STORE, "Location": f"/api/bots/{bot.slug}"},
    )


async def list_bots(request: Request, principal: Principal) -> Response:
    bots = await (await _service()).list(principal)
    return JSONResponse({"bots": [bot.owner_view() for bot in bots]}, headers=NO_STORE)


async def get_bot(request: Request, principal: Principal) -> Response:
    bot = await (await _service()).get(principal, request.path_params["bot"])
    return JSONResponse(bot.owner_view(), headers=NO_STORE)


async def update_bot(request: Request, principal: Principal, body: c.BotSettings) -> Response:
    bot = await (await _service()).update(principal, request.path_params["bot"], body)
    return JSONResponse(bot.owner_view(), headers=NO_STORE)


async def _cors(service: BotService, slug: str) -> CorsPolicy:
    """CORS for exactly the origins the bot's owner allows to embed it."""
    return CorsPolicy(await service.allowed_origins(slug), methods=("GET",))


async def public_bot(request: Request) -> Response:
    service = await _service()
    slug = request.path_params["bot"]
    bot = await service.public(slug)
    response = JSONResponse(bot.public(), headers=PUBLIC_CACHE)
    (await _cors(service, slug)).apply(request.headers, response.headers)
    return response


async def public_bot_preflight(request: Request) -> Response:
    service = await _service()
    return (await _cors(service, request.path_params["bot"])).preflight(request.headers)


_op = operations("bots")
router = Router(
    [
        _op("POST", "/api/bots", create_bot, "Create a bot (protostars)", op_id="createBot",
            body=c.NewBot, responses={201: c.BotView}, errors=(400, 401, 403, 409)),
        _op("GET", "/api/bots", list_bots, "Your bots", op_id="listBots",
            responses={200: c.BotList}, errors=(401, 403)),
        _op("GET", "/api/bots/{bot}", get_bot, "One of your bots (another user's bot is 404)",
            op_id="getBot", responses={200: c.BotView}, errors=(401, 403, 404)),
        _op("PATCH", "/api/bots/{bot}", update_bot, "Change one of your bots' settings",
            op_id="updateBot", body=c.BotSettings, responses={200: c.BotView},
            errors=(400, 401, 403, 404)),
        _op("GET", "/api/bots/{bot}/public", public_bot,
            "What a bot's widget shows: nothing private", op_id="getPublicBot", public=True,
            responses={200: c.PublicBotView}, errors=(404,)),
        _op("OPTIONS", "/api/bots/{bot}/public", public_bot_preflight,
            "CORS preflight: granted (204) only to the bot's allowed origins, else 403",
            op_id="preflightPublicBot", public=True, responses={204: None}, errors=(403, 404)),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def bots(request: Request) -> Response:
    return await router(request)
