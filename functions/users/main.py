"""users: the signed-in user's profile, export and deletion; invite codes."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.context import account_service, authenticate
from shared.accounts.service import AccountService
from shared.errors import Forbidden
from shared.http import Router, endpoint, json_body
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("users")
NO_STORE = {"Cache-Control": "no-store"}


async def _service() -> AccountService:
    return await account_service(get_resources("users"))


def _user_id(request: Request) -> str:
    principal = authenticate(request, "access")
    return principal.subject


async def me(request: Request) -> Response:
    user_id = _user_id(request)  # 401 before anything touches the database
    user = await (await _service()).get_user(user_id)
    return JSONResponse(user.public(), headers=NO_STORE)


async def update_me(request: Request) -> Response:
    user_id = _user_id(request)
    user = await (await _service()).update_user(user_id, await json_body(request))
    return JSONResponse(user.public(), headers=NO_STORE)


async def delete_me(request: Request) -> Response:
    user_id = _user_id(request)
    service = await _service()
    store = get_resources("users").object_store()
    for prefix in await service.delete_user(user_id):
        await store.delete_prefix(prefix)
    return Response(status_code=204)


async def export_me(request: Request) -> Response:
    user_id = _user_id(request)
    data = await (await _service()).export_user(user_id)
    return JSONResponse(
        data,
        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="protostar-export.json"'},
    )


async def redeem(request: Request) -> Response:
    user_id = _user_id(request)
    body = await json_body(request)
    session = await (await _service()).redeem_invite(user_id, body.get("code"))
    return JSONResponse(session.response(), headers=NO_STORE)


async def issue_invite(request: Request) -> Response:
    principal = authenticate(request, "access")
    invite = await (await _service()).issue_invite(principal)
    return JSONResponse(invite, status_code=201, headers=NO_STORE)


async def list_invites(request: Request) -> Response:
    principal = authenticate(request, "access")
    if principal.role != "protostar" and not principal.is_admin:
        raise Forbidden("only protostars have invite codes", code="not_protostar")
    invites = await (await _service()).list_invites(principal)
    return JSONResponse({"invites": invites}, headers=NO_STORE)


router = Router(
    [
        ("GET", "/api/users/me", me),
        ("PATCH", "/api/users/me", update_me),
        ("DELETE", "/api/users/me", delete_me),
        ("GET", "/api/users/me/export", export_me),
        ("POST", "/api/users/me/invite", redeem),
        ("POST", "/api/invites", issue_invite),
        ("GET", "/api/invites", list_invites),
    ]
)


@functions_framework.aio.http
@endpoint
async def users(request: Request) -> Response:
    return await router(request)
