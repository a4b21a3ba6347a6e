"""auth: sign-up, sign-in, refresh rotation, sign-out, guest identities, password reset,
and the JWKS (public keys) other services verify tokens with."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.accounts import contracts as c
from shared.accounts.context import account_service, token_verifier
from shared.accounts.service import AccountService
from shared.api.operation import operations
from shared.http import Router, client_ip, endpoint
from shared.logs import configure_logging
from shared.resources import get_resources

configure_logging("auth")
NO_STORE = {"Cache-Control": "no-store"}


async def _service() -> AccountService:
    return await account_service(get_resources("auth"))


async def signup(request: Request, body: c.Signup) -> Response:
    session = await (await _service()).signup(body)
    return JSONResponse(session.response(), status_code=201, headers=NO_STORE)


async def login(request: Request, body: c.Credentials) -> Response:
    session = await (await _service()).login(body, client_ip(request))
    return JSONResponse(session.response(), headers=NO_STORE)


async def refresh(request: Request, body: c.RefreshToken) -> Response:
    session = await (await _service()).refresh(body.refresh_token)
    return JSONResponse(session.response(), headers=NO_STORE)


async def logout(request: Request, body: c.RefreshToken) -> Response:
    await (await _service()).logout(body.refresh_token)
    return Response(status_code=204)


async def guest(request: Request, body: c.GuestRequest) -> Response:
    token = await (await _service()).guest(body.bot, client_ip(request))
    return JSONResponse(
        {
            "access_token": token.token,
            "token_type": "Bearer",
            "expires_in": token.expires_at - token.issued_at,
            "role": "guest",
            "bot": body.bot,
            "user": None,
        },
        headers=NO_STORE,
    )


async def password_reset(request: Request, body: c.ResetRequest) -> Response:
    await (await _service()).request_password_reset(body.email)
    return JSONResponse({"status": "sent if the account exists"}, status_code=202)


async def password_reset_confirm(request: Request, body: c.ResetConfirm) -> Response:
    session = await (await _service()).confirm_password_reset(body.token, body.password)
    return JSONResponse(session.response(), headers=NO_STORE)


async def jwks(request: Request) -> Response:
    return JSONResponse(token_verifier().jwks(), headers={"Cache-Control": "max-age=300"})


_op = operations("auth", public=True)


router = Router(
    [
        _op("POST", "/api/auth/signup", signup, "Create an account (a stargazer) and sign in",
            op_id="signup", body=c.Signup, responses={201: c.TokenResponse},
            errors=(400, 409, 503)),
        _op("POST", "/api/auth/login", login, "Sign in", op_id="login", body=c.Credentials,
            responses={200: c.TokenResponse}, errors=(400, 401, 429)),
        _op("POST", "/api/auth/refresh", refresh,
            "Rotate a refresh token (reuse of a rotated one revokes the session)",
            op_id="refresh", body=c.RefreshToken, responses={200: c.TokenResponse},
            errors=(400, 401)),
        _op("POST", "/api/auth/logout", logout,
            "Sign out (revokes the refresh token's whole session)", op_id="logout",
            body=c.RefreshToken, responses={204: None}, errors=(400, 401)),
        _op("POST", "/api/auth/guest", guest,
            "A signed visitor identity for one bot (capped per IP per hour)", op_id="guest",
            body=c.GuestRequest, responses={200: c.GuestToken}, errors=(400, 429)),
        _op("POST", "/api/auth/password-reset", password_reset,
            "Ask for a password reset link (always 202)", op_id="passwordReset",
            body=c.ResetRequest, responses={202: c.Status}, errors=(400, 429)),
        _op("POST", "/api/auth/password-reset/confirm", password_reset_confirm,
            "Set a new password with a reset token (single use, expiring); every other "
            "session is signed out and a new one begins",
            op_id="passwordResetConfirm", body=c.ResetConfirm, responses={200: c.TokenResponse},
            errors=(400,)),
        _op("GET", "/api/auth/jwks", jwks, "Public keys that verify our tokens", op_id="jwks",
            responses={200: c.Jwks}),
        _op("GET", "/.well-known/jwks.json", jwks, "Public keys (well-known location)",
            op_id="wellKnownJwks", responses={200: c.Jwks}),
    ]
)  # fmt: skip


@functions_framework.aio.http
@endpoint
async def auth(request: Request) -> Response:
    return await router(request)
