"""Uploads through the content function: every format accepted, every bad input refused
with a clear 4xx and nothing left behind (no object, no row, no event)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts.conftest import PASSWORD, bearer, db_rows, signup
from tests.conftest import Database
from tests.documents.samples import make_docx, make_pdf, make_zip, paragraph

LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
)
SAMPLES: dict[str, tuple[str, bytes]] = {
    "markdown": ("resume.md", "# 경력\n\n## 카카오\n\n- MicroK8s 운영 3년차\n".encode()),
    "text-cp949": (
        "소개.txt",
        "저는 백엔드 개발자입니다. 쿠버네티스를 운영했습니다.".encode("cp949"),
    ),
    "html": ("post.html", b"<!doctype html><html><body><h1>Kafka</h1><p>Hello</p></body></html>"),
    "pdf": ("cv.pdf", make_pdf([["Jane Doe", "Kubernetes in production since 2019"]])),
    "docx": ("cover.docx", make_docx(paragraph("I led the RabbitMQ migration."))),
}


async def upload(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    name: str | None,
    data: bytes,
    bot: str | None = None,
) -> httpx.Response:
    files = {"file": (name, data, "application/octet-stream")} if name is not None else None
    return await client.post(
        f"/api/bots/{bot or owner['bot']}/documents", files=files, headers=owner["headers"]
    )


def left_behind(pg: Database, env: dict[str, str], bot_id: str) -> dict[str, int]:
    objects = Path(env["PROTOSTAR_DATA"]) / "objects" / "bots" / bot_id
    files = [p for p in objects.rglob("*") if p.is_file()] if objects.exists() else []
    rows = db_rows(pg, "SELECT count(*) FROM documents WHERE bot_id = %s", bot_id)[0][0]
    events = db_rows(
        pg,
        "SELECT count(*) FROM outbox WHERE type = "
        "'dev.protostar.document.uploaded' AND data->>'bot_id' = %s",
        bot_id,
    )[0][0]
    return {"objects": len(files), "rows": rows, "events": events}


@pytest.mark.parametrize("kind", list(SAMPLES))
async def test_every_format_is_accepted(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
    kind: str,
) -> None:
    name, data = SAMPLES[kind]
    response = await upload(client, owner, name, data)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "uploaded"
    assert left_behind(pg, accounts_env, owner["bot_id"]) == {"objects": 1, "rows": 1, "events": 1}
    listed = (
        await client.get(f"/api/bots/{owner['bot']}/documents", headers=owner["headers"])
    ).json()["documents"]
    assert [d["id"] for d in listed] == [body["id"]]
    one = (
        await client.get(
            f"/api/bots/{owner['bot']}/documents/{body['id']}", headers=owner["headers"]
        )
    ).json()
    assert {"id", "title", "status", "chunks"} <= set(one)
    assert one["status"] == "uploaded"


BIG = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.txt", b"", 400, "empty_file"),
        ("huge.txt", b"a" * (BIG + 1), 413, "file_too_large"),
        ("resume.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, 400, "executable"),
        ("resume.pdf", b"MZ\x90\x00" + b"\x00" * 200, 400, "executable"),
        ("resume.docx", make_pdf([["a PDF pretending to be a DOCX"]]), 400, "type_mismatch"),
        (
            "bomb.docx",
            make_docx(paragraph("Hi"), extra={"word/media/a.png": b"\x00" * (20 << 20)}),
            400,
            "zip_bomb",
        ),
        (
            "many.docx",
            make_docx(paragraph("Hi"), extra={f"word/x{i}.xml": b"<a/>" for i in range(1200)}),
            400,
            "too_many_entries",
        ),
        (
            "nested.docx",
            make_docx(paragraph("Hi"), extra={"word/inner.zip": make_zip({"a.txt": b"x"})}),
            400,
            "nested_archive",
        ),
        ("laughs.docx", make_docx(document=LAUGHS), 400, "xml_entity"),
        ("external.docx", make_docx(document=EXTERNAL), 400, "xml_entity"),
        ("plain.zip", make_zip({"a.txt": b"hello"}), 400, "unsupported_type"),
    ],
)
async def test_bad_uploads_leave_nothing(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
    name: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    response = await upload(client, owner, name, data)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert left_behind(pg, accounts_env, owner["bot_id"]) == {"objects": 0, "rows": 0, "events": 0}


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.txt", "a\x00b.txt", "..\\..\\win.txt", "/abs/path/resume.md"]
)
async def test_file_names_are_sanitised(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
    name: str,
) -> None:
    response = await upload(client, owner, name, "경력 요약입니다. Kafka 운영.".encode())
    assert response.status_code == 202, response.text
    (stored,) = db_rows(
        pg, "SELECT filename, object_key FROM documents WHERE id = %s", response.json()["id"]
    )
    filename, key = stored
    assert "/" not in filename
    assert "\\" not in filename
    assert "\x00" not in filename
    assert ".." not in key.split("/")
    root = Path(accounts_env["PROTOSTAR_DATA"]) / "objects"
    assert (root / key).resolve().is_relative_to(root.resolve())


async def test_requests_that_carry_no_file(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    path = f"/api/bots/{owner['bot']}/documents"
    no_file = await client.post(path, files={"other": ("a.txt", b"x")}, headers=owner["headers"])
    assert no_file.status_code == 400
    assert no_file.json()["error"]["code"] == "missing_file"
    not_multipart = await client.post(path, json={"file": "x"}, headers=owner["headers"])
    assert not_multipart.status_code == 400
    assert not_multipart.json()["error"]["code"] == "unsupported_media_type"


async def test_uploading_to_someone_elses_bot(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database, accounts_env: dict[str, str]
) -> None:
    from tests.bots.conftest import become_protostar

    intruder = await become_protostar(client, accounts_env)
    response = await client.post(
        f"/api/bots/{owner['bot']}/documents",
        files={"file": ("x.md", b"# hi\n\nthere")},
        headers=bearer(intruder["access_token"]),
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "bot_not_found"
    stargazer = await signup(client)
    refused = await client.post(
        f"/api/bots/{owner['bot']}/documents",
        files={"file": ("x.md", b"# hi\n\nthere")},
        headers=bearer(stargazer["access_token"]),
    )
    assert refused.status_code == 403
    anonymous = await client.get(f"/api/bots/{owner['bot']}/documents")
    assert anonymous.status_code == 401
    assert left_behind(pg, accounts_env, owner["bot_id"])["rows"] == 0


async def test_delete_removes_original_row_and_event_history_stays(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
) -> None:
    name, data = SAMPLES["markdown"]
    doc_id = (await upload(client, owner, name, data)).json()["id"]
    response = await client.delete(
        f"/api/bots/{owner['bot']}/documents/{doc_id}", headers=owner["headers"]
    )
    assert response.status_code == 204
    remaining = left_behind(pg, accounts_env, owner["bot_id"])
    assert (remaining["objects"], remaining["rows"]) == (0, 0)
    again = await client.get(
        f"/api/bots/{owner['bot']}/documents/{doc_id}", headers=owner["headers"]
    )
    assert again.status_code == 404
    bogus = await client.get(
        f"/api/bots/{owner['bot']}/documents/not-a-uuid", headers=owner["headers"]
    )
    assert bogus.status_code == 404


async def test_malformed_multipart_is_400_not_500(
    client: httpx.AsyncClient, owner: dict[str, Any]
) -> None:
    path = f"/api/bots/{owner['bot']}/documents"
    two_files = await client.post(
        path,
        files=[("file", ("a.md", b"# a")), ("file", ("b.md", b"# b"))],
        headers=owner["headers"],
    )
    assert two_files.status_code == 400
    broken = await client.post(
        path,
        content=b"--xyz\r\nContent-Disposition: form-data\r\n",
        headers={**owner["headers"], "content-type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400


async def test_deleting_the_account_removes_uploaded_originals(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
) -> None:
    name, data = SAMPLES["markdown"]
    assert (await upload(client, owner, name, data)).status_code == 202
    assert left_behind(pg, accounts_env, owner["bot_id"])["objects"] == 1
    response = await client.request(
        "DELETE", "/api/users/me", headers=owner["headers"], json={"current_password": PASSWORD}
    )
    assert response.status_code == 204
    remaining = left_behind(pg, accounts_env, owner["bot_id"])
    assert (remaining["objects"], remaining["rows"]) == (0, 0)
    assert db_rows(pg, "SELECT count(*) FROM bots WHERE id = %s", owner["bot_id"]) == [(0,)]


async def test_a_document_cannot_be_filed_under_someone_elses_bot(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
) -> None:
    import psycopg

    from tests.bots.conftest import become_protostar

    other = await become_protostar(client, accounts_env)
    with psycopg.connect(pg.app_url) as conn:
        conn.execute("SELECT set_config('app.user_id', %s, false)", (other["user"]["id"],))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO documents (bot_id, owner_id, title, filename, media_type, size, "
                "sha256, object_key) VALUES (%s, %s, 't', 'f', 'text/plain', 1, 'x', 'k')",
                (owner["bot_id"], other["user"]["id"]),
            )
