"""auth: sign-up, sign-in, refresh rotation, sign-out, guest identities, password reset,
and the JWKS (public keys) other services verify tokens with."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts.context import account_service, token_verifier
from shared.accounts.service import AccountService
from shared.http import Router, client_ip, endpoint, json_body
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("auth")


async def _service() -> AccountService:
    return await account_service(get_resources("auth"))


async def signup(request: Request) -> Response:
    body = await json_body(request)
    session = await (await _service()).signup(
        body.get("email"), body.get("password"), body.get("display_name")
    )
    return JSONResponse(session.response(), status_code=201, headers={"Cache-Control": "no-store"})


async def login(request: Request) -> Response:
    body = await json_body(request)
    session = await (await _service()).login(
        body.get("email"), body.get("password"), client_ip(request)
    )
    return JSONResponse(session.response(), headers={"Cache-Control": "no-store"})


async def refresh(request: Request) -> Response:
    body = await json_body(request)
    session = await (await _service()).refresh(body.get("refresh_token"))
    return JSONResponse(session.response(), headers={"Cache-Control": "no-store"})


async def logout(request: Request) -> Response:
    body = await json_body(request)
    await (await _service()).logout(body.get("refresh_token"))
    return Response(status_code=204)


async def guest(request: Request) -> Response:
    body = await json_body(request)
    token = await (await _service()).guest(body.get("bot"), client_ip(request))
    return JSONResponse(
        {
            "access_token": token.token,
            "token_type": "Bearer",
            "expires_in": token.expires_at - token.issued_at,
            "role": "guest",
            "bot": body.get("bot"),
            "user": None,
        },
        headers={"Cache-Control": "no-store"},
    )


async def password_reset(request: Request) -> Response:
    body = await json_body(request)
    await (await _service()).request_password_reset(body.get("email"))
    return JSONResponse({"status": "sent if the account exists"}, status_code=202)


async def password_reset_confirm(request: Request) -> Response:
    body = await json_body(request)
    await (await _service()).confirm_password_reset(body.get("token"), body.get("password"))
    return JSONResponse({"status": "password changed; sign in again"})


async def jwks(request: Request) -> Response:
    return JSONResponse(token_verifier().jwks(), headers={"Cache-Control": "max-age=300"})


router = Router(
    [
        ("POST", "/api/auth/signup", signup),
        ("POST", "/api/auth/login", login),
        ("POST", "/api/auth/refresh", refresh),
        ("POST", "/api/auth/logout", logout),
        ("POST", "/api/auth/guest", guest),
        ("POST", "/api/auth/password-reset", password_reset),
        ("POST", "/api/auth/password-reset/confirm", password_reset_confirm),
        ("GET", "/api/auth/jwks", jwks),
        ("GET", "/.well-known/jwks.json", jwks),
    ]
)


@functions_framework.aio.http
@endpoint
async def auth(request: Request) -> Response:
    return await router(request)
