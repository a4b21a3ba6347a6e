"""The public view of a bot answers CORS for exactly the origins its owner allows."""

from __future__ import annotations

from typing import Any

import httpx

from tests.bots.test_bots import created

ALLOWED = ("https://blog.example.com", "http://localhost:4000")  # as full_bot() stores them


async def test_an_allowed_origin_may_read_the_public_view(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    bot = await created(client, owner)
    assert tuple(bot["allowed_origins"]) == ALLOWED
    for origin in ALLOWED:
        response = await client.get(f"/api/bots/{bot['slug']}/public", headers={"Origin": origin})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert "Origin" in response.headers["vary"]


async def test_other_origins_get_no_grant(client: httpx.AsyncClient, owner: dict[str, Any]) -> None:
    bot = await created(client, owner)
    for origin in (
        "https://evil.example",
        "https://blog.example.com.evil.example",
        "http://blog.example.com",
        "null",
    ):
        response = await client.get(f"/api/bots/{bot['slug']}/public", headers={"Origin": origin})
        assert response.status_code == 200  # the data is public; the browser withholds it
        assert "access-control-allow-origin" not in response.headers, origin
        assert "Origin" in response.headers["vary"]


async def test_preflight(client: httpx.AsyncClient, owner: dict[str, Any]) -> None:
    bot = await created(client, owner)
    url = f"/api/bots/{bot['slug']}/public"
    granted = await client.options(
        url, headers={"Origin": ALLOWED[0], "Access-Control-Request-Method": "GET"}
    )
    assert granted.status_code == 204
    assert granted.headers["access-control-allow-origin"] == ALLOWED[0]
    refused = await client.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


async def test_an_owner_change_of_origins_applies(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    bot = await created(client, owner)
    changed = await client.patch(
        f"/api/bots/{bot['slug']}",
        json={"allowed_origins": ["https://new.example"]},
        headers={"Authorization": f"Bearer {owner['access_token']}"},
    )
    assert changed.status_code == 200, changed.text
    url = f"/api/bots/{bot['slug']}/public"
    old = await client.get(url, headers={"Origin": ALLOWED[0]})
    assert "access-control-allow-origin" not in old.headers
    new = await client.get(url, headers={"Origin": "https://new.example"})
    assert new.headers["access-control-allow-origin"] == "https://new.example"
