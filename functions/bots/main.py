"""bots: a protostar's bot settings, and the public view of a bot that its widget reads."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.context import authenticate
from shared.bots.service import BotService, bot_service
from shared.cors import CorsPolicy
from shared.http import Router, endpoint, json_body
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("bots")
NO_STORE = {"Cache-Control": "no-store"}
# The widget may cache a bot's public view briefly; an owner's change shows within a minute.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}


async def _service() -> BotService:
    return await bot_service(get_resources("bots"))


async def create_bot(request: Request) -> Response:
    principal = authenticate(request, "access")
    bot = await (await _service()).create(principal, await json_body(request))
    return JSONResponse(
        bot.owner_view(),
        status_code=201,
        headers={**NO_STORE, "Location": f"/api/bots/{bot.slug}"},
    )


async def list_bots(request: Request) -> Response:
    principal = authenticate(request, "access")
    bots = await (await _service()).list(principal)
    return JSONResponse({"bots": [bot.owner_view() for bot in bots]}, headers=NO_STORE)


async def get_bot(request: Request) -> Response:
    principal = authenticate(request, "access")
    bot = await (await _service()).get(principal, request.path_params["bot"])
    return JSONResponse(bot.owner_view(), headers=NO_STORE)


async def update_bot(request: Request) -> Response:
    principal = authenticate(request, "access")
    body = await json_body(request)
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


router = Router(
    [
        ("POST", "/api/bots", create_bot),
        ("GET", "/api/bots", list_bots),
        ("GET", "/api/bots/{bot}", get_bot),
        ("PATCH", "/api/bots/{bot}", update_bot),
        ("GET", "/api/bots/{bot}/public", public_bot),
        ("OPTIONS", "/api/bots/{bot}/public", public_bot_preflight),
    ]
)


@functions_framework.aio.http
@endpoint
async def bots(request: Request) -> Response:
    return await router(request)
