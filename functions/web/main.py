"""web: the demo blog page (/), the widget loader (/widget.js), the chat page
(/b/{bot}), the owner dashboard (/dashboard), the password reset page (/reset), the
talent-search page (/talent) and their static files (/static/...)."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shared.bots.service import BotService, bot_service
from shared.errors import NotFound
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources
from shared.web import assets
from shared.web.demo import DEMO_BOT
from shared.web.embedding import chat_page_values
from shared.web.headers import asset_headers, content_security_policy, page_headers

configure_logging("web")


async def _bots() -> BotService:
    return await bot_service(get_resources("web"))


def _html(
    body: str, *, csp: str, frameable: bool = False, secret: bool = False, status: int = 200
) -> Response:
    headers = page_headers(csp, frameable=frameable, secret=secret)
    return HTMLResponse(body, status_code=status, headers=headers)


def _asset(request: Request, asset: assets.Asset, cache: str, *, cross_origin: bool) -> Response:
    headers = {
        **asset_headers(asset.content_type, cross_origin=cross_origin),
        "ETag": asset.etag,
        "Cache-Control": cache,
    }
    if assets.not_modified(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, headers=headers)


async def demo_blog(request: Request) -> Response:
    settings = get_resources("web").settings
    if not settings.protostar_demo:
        # The dashboard is on the admin host (the same one unless ADMIN_URL differs).
        admin = settings.admin_base_url
        same = admin == settings.public_base_url
        return RedirectResponse("/dashboard" if same else f"{admin}/dashboard", status_code=302)
    body = assets.page("demo", bot=DEMO_BOT)
    return _html(body, csp=content_security_policy(frames=True))


async def widget(request: Request) -> Response:
    # Blogs load it cross-site; a short cache lets an update reach every blog soon.
    return _asset(request, assets.widget(), "public, max-age=300", cross_origin=True)


async def chat(request: Request) -> Response:
    slug = request.path_params["bot"]
    try:
        origins = await (await _bots()).allowed_origins(slug)
    except NotFound:
        body = assets.page("missing", lang="en")
        return _html(body, csp=content_security_policy(), status=404)
    settings = get_resources("web").settings
    values = chat_page_values(
        slug,
        origins,
        own_origin=settings.public_base_url,
        parent=request.query_params.get("parent"),
        lang=request.query_params.get("lang"),
    )
    csp = content_security_policy(frame_ancestors=origins)
    return _html(assets.page("chat", **values), csp=csp, frameable=True)


async def dashboard(request: Request) -> Response:
    return _html(assets.page("dashboard"), csp=content_security_policy())


async def reset(request: Request) -> Response:
    # The reset link's token is in the fragment, which never reaches a server; the page
    # reads it, so it is never stored, never framed and sends no referrer.
    csp = content_security_policy(framed=False)
    return _html(assets.page("reset"), csp=csp, secret=True)


async def talent(request: Request) -> Response:
    # Signs users in and shows what they searched for: framed by nobody (its sign-in form
    # cannot be clickjacked), never stored, no referrer.
    csp = content_security_policy(framed=False)
    return _html(assets.page("talent"), csp=csp, secret=True)


async def static(request: Request) -> Response:
    asset = assets.static(request.path_params["name"])
    if asset is None:
        raise NotFound(f"no file {request.url.path}")
    return _asset(request, asset, "no-cache", cross_origin=False)


router = Router(
    [
        ("GET", "/", demo_blog),
        ("GET", "/widget.js", widget),
        ("GET", "/b/{bot}", chat),
        ("GET", "/dashboard", dashboard),
        ("GET", "/reset", reset),
        ("GET", "/talent", talent),
        ("GET", "/static/{name}", static),
    ]
)


@functions_framework.aio.http
@endpoint
async def web(request: Request) -> Response:
    return await router(request)
