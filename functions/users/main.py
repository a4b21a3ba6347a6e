"""users: the signed-in user's profile, sessions, export and deletion; invite codes."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts import contracts as c
from shared.accounts.context import account_service
from shared.accounts.principal import Principal
from shared.accounts.service import AccountService, Session
from shared.api.operation import operations
from shared.errors import Forbidden
from shared.http import Router, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("users")
NO_STORE = {"Cache-Control": "no-store"}


async def _service() -> AccountService:
    return await account_service(get_resources("users"))


async def me(request: Request, principal: Principal) -> Response:
    user = await (await _service()).get_user(principal.subject)
    return JSONResponse(user.public(), headers=NO_STORE)


async def update_me(request: Request, principal: Principal, body: c.ProfileChanges) -> Response:
    changed = await (await _service()).update_user(principal.subject, body)
    if isinstance(changed, Session):  # a new password: this device's fresh session
        return JSONResponse(changed.response(), headers=NO_STORE)
    return JSONResponse(changed.public(), headers=NO_STORE)


async def revoke_sessions(request: Request, principal: Principal) -> Response:
    await (await _service()).revoke_sessions(principal.subject)
    return Response(status_code=204)


async def delete_me(request: Request, principal: Principal, body: c.AccountDeletion) -> Response:
    service = await _service()
    store = get_resources("users").object_store()
    for prefix in await service.delete_user(principal.subject, body.current_password):
        await store.delete_prefix(prefix)
    return Response(status_code=204)


async def export_me(request: Request, principal: Principal) -> Response:
    data = await (await _service()).export_user(principal.subject)
    return JSONResponse(
        data,
        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="protostar-export.json"'},
    )


async def redeem(request: Request, principal: Principal, body: c.InviteCode) -> Response:
    session = await (await _service()).redeem_invite(principal.subject, body.code)
    return JSONResponse(session.response(), headers=NO_STORE)


async def issue_invite(request: Request, principal: Principal) -> Response:
    invite = await (await _service()).issue_invite(principal)
    return JSONResponse(invite, status_code=201, headers=NO_STORE)


async def list_invites(request: Request, principal: Principal) -> Response:
    if principal.role != "protostar" and not principal.is_admin:
        raise Forbidden("only protostars have invite codes", code="not_protostar")
    invites = await (await _service()).list_invites(principal)
    return JSONResponse({"invites": invites}, headers=NO_STORE)


_op = operations("users")
router = Router(
    [
        _op("GET", "/api/users/me", me, "The signed-in user", op_id="getMe",
            responses={200: c.UserView}, errors=(401, 404)),
        _op("PATCH", "/api/users/me", update_me,
            "Change display name, locale or password (a new password needs the current one, "
            "signs out every session and answers a fresh one)",
            op_id="updateMe", body=c.ProfileChanges, responses={200: c.ProfileUpdated},
            errors=(400, 401, 403, 404, 429)),
        _op("DELETE", "/api/users/me", delete_me,
            "Delete the account and everything it owns (needs the current password)",
            op_id="deleteMe", body=c.AccountDeletion, responses={204: None},
            errors=(400, 401, 403, 404, 429)),
        _op("POST", "/api/users/me/sessions/revoke", revoke_sessions,
            "Sign out everywhere: every refresh token of the user stops working",
            op_id="revokeSessions", responses={204: None}, errors=(401, 404)),
        _op("GET", "/api/users/me/export", export_me, "All of the user's data as JSON",
            op_id="exportMe", responses={200: c.Export}, errors=(401,)),
        _op("POST", "/api/users/me/invite", redeem,
            "Redeem an invite code: a stargazer becomes a protostar (fresh tokens)",
            op_id="redeemInvite", body=c.InviteCode, responses={200: c.TokenResponse},
            errors=(400, 401, 404, 409, 410)),
        _op("POST", "/api/invites", issue_invite,
            "Issue an invite code (protostars: a limited number)", op_id="issueInvite",
            responses={201: c.Invite}, errors=(401, 403)),
        _op("GET", "/api/invites", list_invites, "The invite codes you issued",
            op_id="listInvites", responses={200: c.InviteList}, errors=(401, 403)),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def users(request: Request) -> Response:
    return await router(request)
