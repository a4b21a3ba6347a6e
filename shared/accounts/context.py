"""Process-wide account objects built from settings and secrets (lazily, once)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from starlette.requests import Request

from shared.accounts.principal import Principal
from shared.accounts.tokens import (
    InvalidToken,
    TokenIssuer,
    TokenType,
    TokenVerifier,
    load_private_key,
    load_public_key,
    public_jwk,
)
from shared.http import bearer_token
from shared.resources import Resources
from shared.secrets import SecretStore
from shared.settings import Settings, get_settings

if TYPE_CHECKING:  # argon2 and the account service load only where they are used
    from shared.accounts.passwords import Passwords
    from shared.accounts.service import AccountService

PRIVATE_KEY = "jwt-signing-key.pem"
PUBLIC_KEY = "jwt-public-key.pem"


def _secrets(settings: Settings) -> SecretStore:
    """Functions only read secrets: the local runtime, a test or `task cluster:secrets`
    makes them, and the manifest mounts the ones a function may have."""
    return SecretStore(settings.secrets_path, create=False)


@functools.cache
def token_issuer() -> TokenIssuer:
    """Only auth and users sign tokens; they are the ones given the private key."""
    settings = get_settings()
    key = load_private_key(_secrets(settings).get_bytes(PRIVATE_KEY))
    return TokenIssuer(
        key,
        issuer=settings.public_base_url,
        audience=settings.jwt_audience,
        ttl={
            "access": settings.access_token_ttl,
            "refresh": settings.refresh_token_ttl,
            "guest": settings.guest_token_ttl,
        },
    )


@functools.cache
def token_verifier() -> TokenVerifier:
    """Every function verifies with the public key (``jwt-public-key.pem``); locally it
    is derived from the private key when only that exists."""
    settings = get_settings()
    path = settings.secrets_path / PUBLIC_KEY
    if path.exists():
        public = load_public_key(path.read_bytes())
    else:
        public = load_private_key(_secrets(settings).get_bytes(PRIVATE_KEY)).public_key()
    return TokenVerifier(
        {public_jwk(public)["kid"]: public},
        issuer=settings.public_base_url,
        audience=settings.jwt_audience,
    )


def authenticate(
    request: Request, expected: TokenType | tuple[TokenType, ...] = ("access", "guest")
) -> Principal:
    """The verified caller of ``request`` (401 without a valid bearer token)."""
    return token_verifier().principal(bearer_token(request), expected)


async def account_service(resources: Resources) -> AccountService:
    from shared.accounts.service import AccountService

    settings = resources.settings
    return AccountService(
        await resources.pool(),
        resources.redis(),
        passwords=passwords(),
        issuer=token_issuer(),
        # Reset links lead to the dashboard's host, where the signed-in session is kept.
        dashboard_url=settings.admin_base_url,
        refresh_grace=settings.refresh_reuse_grace,
        guest_per_ip_hour=settings.guest_tokens_per_ip_hour,
        invites_per_protostar=settings.invites_per_protostar,
        invite_ttl_days=settings.invite_ttl_days,
        reset_ttl=settings.password_reset_ttl,
        broker_url=settings.broker_url,
    )


@functools.cache
def passwords() -> Passwords:
    from shared.accounts.passwords import Passwords

    settings = get_settings()
    return Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def authorize_bot(principal: Principal, bot: str) -> None:
    """A guest identity is valid for the one bot it was issued for (401 elsewhere)."""
    if principal.is_guest and principal.bot != bot:
        raise InvalidToken("this guest identity belongs to another bot", code="wrong_bot")
