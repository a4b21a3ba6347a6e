"""The JWT attack catalog: every forged or misused token is refused with 401 and a code,
through the real users function (GET /api/users/me) and the library verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.accounts.principal import Principal
from shared.accounts.tokens import InvalidToken, public_jwk
from tests.accounts.conftest import PUBLIC_URL, bearer, signup


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def ours() -> Ed25519PrivateKey:
    from shared.accounts.context import token_issuer

    return token_issuer().private_key


def kid() -> str:
    return public_jwk(ours().public_key())["kid"]


def claims(subject: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": PUBLIC_URL,
        "aud": "protostar",
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "typ": "access",
        "role": "stargazer",
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def sign(
    payload: dict[str, Any],
    *,
    key: Ed25519PrivateKey | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    head = {"kid": kid(), **(headers or {})}
    return jwt.encode(payload, key or ours(), algorithm="EdDSA", headers=head)


def raw(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


@pytest.fixture
async def victim(client: httpx.AsyncClient) -> dict[str, Any]:
    return await signup(client)


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/users/me", headers=bearer(token))


async def test_genuine_token_works(client: httpx.AsyncClient, victim: dict[str, Any]) -> None:
    response = await me(client, victim["access_token"])
    assert response.status_code == 200
    assert response.json()["id"] == victim["user"]["id"]
    assert response.headers["cache-control"] == "no-store"


def _attacks(sub: str) -> list[tuple[str, str, str]]:
    """(name, token, expected error code)."""
    good = sign(claims(sub))
    head, body, sig = good.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    attacker = Ed25519PrivateKey.generate()
    attacker_jwk = public_jwk(attacker.public_key())
    pem = (
        ours()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": kid()}
    hs_signing_input = (
        f"{b64(json.dumps(hs_header).encode())}.{b64(json.dumps(claims(sub)).encode())}"
    )
    hs_token = (
        hs_signing_input
        + "."
        + b64(hmac.new(pem, hs_signing_input.encode(), hashlib.sha256).digest())
    )
    edited = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    edited["role"] = "protostar"
    return [
        ("bad signature", f"{head}.{body}.{flipped}", "bad_signature"),
        ("alg none", raw({"alg": "none", "kid": kid()}, claims(sub)), "bad_algorithm"),
        ("alg None", raw({"alg": "None", "kid": kid()}, claims(sub)), "bad_algorithm"),
        ("alg NONE", raw({"alg": "NONE", "kid": kid()}, claims(sub)), "bad_algorithm"),
        ("alg nOnE", raw({"alg": "nOnE", "kid": kid()}, claims(sub)), "bad_algorithm"),
        ("empty signature", f"{head}.{body}.", "bad_signature"),
        ("HS256 with the public key", hs_token, "bad_algorithm"),
        (
            "injected jwk",
            sign(claims(sub), key=attacker, headers={"jwk": attacker_jwk}),
            "bad_token_header",
        ),
        (
            "jku header",
            sign(claims(sub), headers={"jku": "https://evil.example/jwks.json"}),
            "bad_token_header",
        ),
        (
            "x5u header",
            sign(claims(sub), headers={"x5u": "https://evil.example/cert.pem"}),
            "bad_token_header",
        ),
        ("attacker key, our kid", sign(claims(sub), key=attacker), "bad_signature"),
        (
            "kid path traversal",
            sign(claims(sub), headers={"kid": "../../secrets/jwt.pem"}),
            "unknown_key",
        ),
        ("kid SQL", sign(claims(sub), headers={"kid": "x' OR '1'='1"}), "unknown_key"),
        ("no kid", jwt.encode(claims(sub), ours(), algorithm="EdDSA"), "unknown_key"),
        (
            "expired",
            sign(
                claims(
                    sub,
                    iat=int(time.time()) - 3600,
                    nbf=int(time.time()) - 3600,
                    exp=int(time.time()) - 60,
                )
            ),
            "token_expired",
        ),
        ("future nbf", sign(claims(sub, nbf=int(time.time()) + 600)), "token_not_yet_valid"),
        ("missing exp", sign(claims(sub, exp=None)), "missing_claim"),
        ("missing aud", sign(claims(sub, aud=None)), "missing_claim"),
        ("missing iss", sign(claims(sub, iss=None)), "missing_claim"),
        ("missing sub", sign(claims(sub, sub=None)), "missing_claim"),
        ("missing jti", sign(claims(sub, jti=None)), "missing_claim"),
        ("missing typ", sign(claims(sub, typ=None)), "missing_claim"),
        ("wrong aud", sign(claims(sub, aud="someone-else")), "wrong_audience"),
        ("aud list with ours", sign(claims(sub, aud=["protostar", "x"])), "wrong_audience"),
        ("wrong iss", sign(claims(sub, iss="https://evil.example")), "wrong_issuer"),
        ("iss prefix of ours", sign(claims(sub, iss=PUBLIC_URL[:-1])), "wrong_issuer"),
        ("iss extending ours", sign(claims(sub, iss=PUBLIC_URL + ".evil.example")), "wrong_issuer"),
        ("unknown crit", sign(claims(sub), headers={"crit": ["exp"]}), "bad_token_header"),
        ("edited role", f"{head}.{b64(json.dumps(edited).encode())}.{sig}", "bad_signature"),
        ("garbage", "not.a.jwt", "malformed_token"),
        ("two parts", f"{head}.{body}", "malformed_token"),
    ]


@pytest.mark.parametrize("index", range(31))
async def test_attack_is_refused_with_401(
    client: httpx.AsyncClient, victim: dict[str, Any], index: int
) -> None:
    attacks = _attacks(victim["user"]["id"])
    assert len(attacks) == 31
    name, token, code = attacks[index]
    response = await me(client, token)
    assert response.status_code == 401, (name, response.text)
    assert response.json()["error"]["code"] == code, name
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, victim: dict[str, Any]
) -> None:
    response = await me(client, victim["refresh_token"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_token_type"


async def test_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, victim: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": victim["access_token"]}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_token_type"


async def test_guest_token_cannot_use_account_routes(client: httpx.AsyncClient) -> None:
    guest = (await client.post("/api/auth/guest", json={"bot": "demo"})).json()
    response = await me(client, guest["access_token"])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_token_type"


async def test_guest_token_is_bound_to_its_bot(client: httpx.AsyncClient) -> None:
    from shared.accounts.context import authorize_bot, token_verifier

    guest = (await client.post("/api/auth/guest", json={"bot": "alpha"})).json()
    principal = token_verifier().principal(guest["access_token"])
    assert principal == Principal(principal.subject, "guest", False, "alpha")
    authorize_bot(principal, "alpha")
    with pytest.raises(InvalidToken) as refused:
        authorize_bot(principal, "beta")
    assert refused.value.code == "wrong_bot"
    assert refused.value.status == 401


async def test_missing_or_malformed_authorization(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}):
        response = await client.get("/api/users/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_token"


async def test_jwks_publishes_only_the_public_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key == {**public_jwk(ours().public_key())}
    assert "d" not in key
    assert (await client.get("/api/auth/jwks")).json() == response.json()
