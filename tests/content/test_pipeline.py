"""Upload to ready through the whole system: the runtime runs knative/base (content,
embed behind its Trigger, the embedder with the packaged model), on the PostgreSQL
broker backend."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from localplatform.embedded.procs import free_port
from tests.conftest import ROOT, workdir
from tests.documents.samples import make_pdf
from tests.support.runtime import Up, clean_env

pytestmark = pytest.mark.e2e

RESUME_MD = """# 김하늘 — 백엔드 엔지니어

## 경력

### 카카오 (2021–현재)

- MicroK8s 클러스터를 3년차 운영했습니다. 장애 대응 시간을 40% 줄였습니다.
- RabbitMQ로 이벤트 기반 정산 시스템을 만들었습니다.

## Projects

### Event-driven billing

I designed an event-driven billing pipeline on RabbitMQ with idempotent consumers.
"""


# Row-level security binds the owner role too: read as the bot's owner.
AS_OWNER = (
    "SELECT set_config('app.user_id', (SELECT id::text FROM users "
    "WHERE email = 'owner@example.com'), false)"
)


class Api:
    def __init__(self, base: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=60)
        self.headers: dict[str, str] = {}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.headers, **kwargs)


def app_db(data: Any, state: dict[str, Any]) -> str:
    password = (data / "secrets" / "postgres-app-password").read_text().strip()
    return f"postgresql://protostar_app:{password}@127.0.0.1:{state['postgres_port']}/protostar"


def owner_db(data: Any, state: dict[str, Any]) -> str:
    password = (data / "secrets" / "postgres-owner-password").read_text().strip()
    return f"postgresql://protostar_owner:{password}@127.0.0.1:{state['postgres_port']}/protostar"


async def wait_status(
    api: Api, bot: str, doc_id: str, want: set[str], timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await api.call("GET", f"/api/bots/{bot}/documents/{doc_id}")).json()
        if body.get("status") in want:
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"document stuck at {body}")


@pytest.fixture
async def system() -> Any:
    root = workdir("pipeline")
    up = Up(
        root / "data",
        free_port(),
        extra_env={"BROKER_BACKEND": "postgres"},
        args=["--status", "off"],
    )
    try:
        state = await asyncio.to_thread(up.wait_state, 120)
        api = Api(state["public_url"])
        env = clean_env({"PROTOSTAR_DATA": str(root / "data")})
        invite = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.accounts.invite_cli"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        code = invite.stdout.strip().splitlines()[-1]
        session = (
            await api.call(
                "POST",
                "/api/auth/signup",
                json={"email": "owner@example.com", "password": "correct horse 9 battery"},
            )
        ).json()
        api.headers = {"Authorization": f"Bearer {session['access_token']}"}
        promoted = (await api.call("POST", "/api/users/me/invite", json={"code": code})).json()
        api.headers = {"Authorization": f"Bearer {promoted['access_token']}"}
        created = await api.call("POST", "/api/bots", json={"slug": "haneul", "name": "하늘"})
        assert created.status_code == 201, created.text
        yield up, api, state, root / "data"
        await api.client.aclose()
    finally:
        up.close()


async def test_upload_to_ready_then_delete(system: Any) -> None:
    _up, api, state, data = system
    uploaded = await api.call(
        "POST", "/api/bots/haneul/documents", files={"file": ("resume.md", RESUME_MD.encode())}
    )
    assert uploaded.status_code == 202, uploaded.text
    doc_id = uploaded.json()["id"]
    ready = await wait_status(api, "haneul", doc_id, {"ready", "failed"})
    assert ready["status"] == "ready", ready
    assert ready["chunks"] >= 2
    assert ready["embedding_model"] == "local:all-MiniLM-L6-v2"
    with psycopg.connect(owner_db(data, state)) as conn:
        conn.execute(AS_OWNER)
        rows = conn.execute(
            "SELECT section, text, terms, vector_dims(embedding) FROM chunks "
            "WHERE document_id = %s ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
    assert any("카카오" in section and "MicroK8s" in text for section, text, _, _ in rows)
    assert any("Event-driven billing" in section for section, *_ in rows)
    assert all(dims == 384 for *_, dims in rows)
    all_terms = {t for _, _, terms, _ in rows for t in terms}
    assert {"microk8s", "rabbitmq"} <= all_terms

    deleted = await api.call("DELETE", f"/api/bots/haneul/documents/{doc_id}")
    assert deleted.status_code == 204
    with psycopg.connect(owner_db(data, state)) as conn:
        conn.execute(AS_OWNER)
        left = conn.execute(
            "SELECT count(*) FROM chunks WHERE document_id = %s", (doc_id,)
        ).fetchone()
    assert left == (0,)
    assert not list((data / "objects" / "bots").rglob(f"*{doc_id}*"))


async def test_a_pdf_that_explodes_the_parser_ends_failed(system: Any) -> None:
    from tests.documents.samples import memory_bomb_pdf

    _up, api, _state, _data = system
    uploaded = await api.call(
        "POST", "/api/bots/haneul/documents", files={"file": ("bomb.pdf", memory_bomb_pdf())}
    )
    assert uploaded.status_code == 202, uploaded.text
    failed = await wait_status(api, "haneul", uploaded.json()["id"], {"ready", "failed"})
    assert failed["status"] == "failed"
    assert failed["error"]
    # The embed function stayed healthy: the next document is processed.
    fine = await api.call(
        "POST",
        "/api/bots/haneul/documents",
        files={"file": ("cv.pdf", make_pdf([["Kafka and Redis at scale"]]))},
    )
    assert (await wait_status(api, "haneul", fine.json()["id"], {"ready", "failed"}))[
        "status"
    ] == "ready"


async def test_sigkill_of_embed_mid_document_then_redelivery_finishes_once(system: Any) -> None:
    up, api, state, data = system
    big = "\n\n".join(
        f"## 섹션 {i}\n\n" + ("분산 시스템과 메시지 큐 운영 경험. " * 40) for i in range(60)
    )
    uploaded = await api.call(
        "POST", "/api/bots/haneul/documents", files={"file": ("long.md", big.encode())}
    )
    doc_id = uploaded.json()["id"]
    await wait_status(api, "haneul", doc_id, {"processing", "ready"}, timeout=60)
    victims = [
        p
        for p in psutil.Process(up.proc.pid).children(recursive=True)
        if "functions/embed/main.py" in " ".join(p.cmdline())
    ]
    assert victims, "embed is not running"
    for p in victims:
        os.kill(p.pid, signal.SIGKILL)
    done = await wait_status(api, "haneul", doc_id, {"ready", "failed"}, timeout=240)
    assert done["status"] == "ready", done
    with psycopg.connect(owner_db(data, state)) as conn:
        conn.execute(AS_OWNER)
        count, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT ordinal) FROM chunks WHERE document_id = %s", (doc_id,)
        ).fetchone() or (0, 0)
        claims = conn.execute(
            "SELECT count(*) FROM processed_events WHERE consumer = 'embed' AND event_id = "
            "(SELECT event_id FROM outbox WHERE type = 'dev.protostar.document.uploaded' "
            "AND data->>'document_id' = %s)",
            (doc_id,),
        ).fetchone()
    assert count == distinct == done["chunks"]
    assert claims == (1,)
