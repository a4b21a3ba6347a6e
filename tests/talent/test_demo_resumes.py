"""``task demo:resumes`` against a running system: the resumes become discoverable
people through the public API, and a second run adds nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from localplatform.embedded.procs import free_port
from localplatform.resumes import read
from tests.accounts.conftest import bearer, signup
from tests.conftest import ROOT, workdir
from tests.support.runtime import Up, clean_env

pytestmark = pytest.mark.e2e


def _import(data: str, limit: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "localplatform.demo_resumes", "--limit", str(limit)],
        cwd=ROOT,
        env=clean_env({"PROTOSTAR_DATA": data}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


async def test_the_import_is_idempotent_and_the_people_are_searchable() -> None:
    root = workdir("demo-resumes")
    up = Up(root / "data", free_port(), extra_env={"BROKER_BACKEND": "postgres"},
            args=["--status", "off"])  # fmt: skip
    try:
        state = await asyncio.to_thread(up.wait_state, 120)
        data = str(root / "data")
        first = await asyncio.to_thread(_import, data, 3)
        assert first.startswith("3 resumes: 3 bots created, 3 uploaded, 0 already there, 0 failed")
        again = await asyncio.to_thread(_import, data, 3)
        assert again.startswith("3 resumes: 0 bots created, 0 uploaded, 3 already there, 0 failed")

        people = read()[:3]
        assert [p.slug for p in people] == [f"resume-{p.row:03d}" for p in people]
        async with httpx.AsyncClient(base_url=state["public_url"], timeout=60) as client:
            hr = bearer((await signup(client))["access_token"])
            first_words = " ".join(people[0].text.split()[:12])
            reply = await client.post(
                "/api/talent/search", json={"query": first_words, "limit": 50}, headers=hr
            )
            assert reply.status_code == 201, reply.text
            found = reply.json()
            assert found["counts"]["people_searched"] == 3
            assert {r["bot"] for r in found["results"]} <= {p.slug for p in people}
            assert people[0].slug in {r["bot"] for r in found["results"]}
            public = await client.get(f"/api/bots/{people[0].slug}/public")
            assert public.status_code == 200
            # the label is the evaluation's, never stored: not in the name, not uploaded
            assert people[0].category not in str(public.json())
    finally:
        up.close()
