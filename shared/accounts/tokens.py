"""JWTs signed with Ed25519 (EdDSA): only ``auth`` holds the private key; every other
function verifies with the public key through :class:`TokenVerifier`.

Verification is strict: the algorithm is pinned to EdDSA; the header may carry only
``alg``, ``typ`` and a ``kid`` that names one of our keys exactly (no ``jwk``, ``jku``,
``x5u``, ``x5c``, ``crit``...); ``iss``, ``aud``, ``sub``, ``exp``, ``iat``, ``jti``,
``typ`` and ``role`` are all required; ``typ`` must be the kind the caller expects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.accounts.principal import ROLES, Principal
from shared.errors import Unauthorized

TokenType = Literal["access", "refresh", "guest"]
ALGORITHM = "EdDSA"
REQUIRED = ("iss", "aud", "sub", "exp", "iat", "jti", "typ", "role")
ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})
LEEWAY_SECONDS = 5


class InvalidToken(Unauthorized):
    code = "invalid_token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    # RFC 7638 thumbprint: the members in lexicographic order, no whitespace.
    thumbprint = hashlib.sha256(
        json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    return {**jwk, "kid": _b64(thumbprint), "use": "sig", "alg": ALGORITHM}


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the JWT signing key must be an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the JWT verification key must be an Ed25519 public key")
    return key


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at: int
    expires_at: int


class TokenVerifier:
    """Verifies our tokens with public keys only (every function may hold one)."""

    def __init__(
        self, public_keys: Mapping[str, Ed25519PublicKey], *, issuer: str, audience: str
    ) -> None:
        self.keys = dict(public_keys)
        self.issuer = issuer
        self.audience = audience

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [public_jwk(k) for k in self.keys.values()]}

    def verify(self, token: str, expected: TokenType | tuple[TokenType, ...]) -> dict[str, Any]:
        """The verified claims, or InvalidToken with a precise code."""
        kinds = (expected,) if isinstance(expected, str) else expected
        if not token or token.count(".") != 2:
            raise InvalidToken("malformed token", code="malformed_token")
        header = _header(token)
        extra = set(header) - ALLOWED_HEADER
        if extra:
            raise InvalidToken(
                f"token header carries {sorted(extra)[0]!r}, which is refused",
                code="bad_token_header",
            )
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("token algorithm is not EdDSA", code="bad_algorithm")
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("token is signed by an unknown key", code="unknown_key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED), "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token has expired", code="token_expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token is not valid yet", code="token_not_yet_valid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(
                f"token lacks the {exc.claim!r} claim", code="missing_claim"
            ) from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token audience is wrong", code="wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token issuer is wrong", code="wrong_issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("token signature is invalid", code="bad_signature") from None
        except jwt.PyJWTError:
            raise InvalidToken("token is invalid", code="invalid_token") from None
        if claims["typ"] not in kinds:
            raise InvalidToken(
                f"a {claims['typ']} token cannot be used here", code="wrong_token_type"
            )
        if claims["role"] not in ROLES or (claims["typ"] == "guest") != (claims["role"] == "guest"):
            raise InvalidToken("token role is invalid", code="bad_role")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise InvalidToken("token subject is invalid", code="invalid_token")
        if claims["typ"] == "guest" and not isinstance(claims.get("bot"), str):
            raise InvalidToken("guest token is not bound to a bot", code="invalid_token")
        return claims

    def principal(
        self,
        token: str,
        expected: TokenType | tuple[TokenType, ...] = ("access", "guest"),
    ) -> Principal:
        claims = self.verify(token, expected)
        return Principal(
            subject=claims["sub"],
            role=claims["role"],
            is_admin=bool(claims.get("adm", False)),
            bot=claims.get("bot"),
        )


class TokenIssuer(TokenVerifier):
    """Signs tokens (only the auth and users functions are given the private key)."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        issuer: str,
        audience: str,
        ttl: Mapping[TokenType, int],
    ) -> None:
        public = private_key.public_key()
        self.kid = public_jwk(public)["kid"]
        super().__init__({self.kid: public}, issuer=issuer, audience=audience)
        self.private_key = private_key
        self.ttl = dict(ttl)

    def issue(
        self,
        typ: TokenType,
        subject: str,
        role: str,
        *,
        is_admin: bool = False,
        bot: str | None = None,
        jti: str | None = None,
        issued_at: int | None = None,
        expires_at: int | None = None,
    ) -> IssuedToken:
        """Sign a token. Same claims give the same token (Ed25519 is deterministic)."""
        now = issued_at if issued_at is not None else int(time.time())
        exp = expires_at if expires_at is not None else now + self.ttl[typ]
        token_id = jti or str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": token_id,
            "typ": typ,
            "role": role,
        }
        if is_admin:
            claims["adm"] = True
        if bot is not None:
            claims["bot"] = bot
        token = jwt.encode(
            claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"}
        )
        return IssuedToken(token, token_id, now, exp)


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read without trusting it (the library would reject some
    headers, like ``crit``, before we can name the reason)."""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError):
        raise InvalidToken("malformed token header", code="malformed_token") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header", code="malformed_token")
    return header


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
