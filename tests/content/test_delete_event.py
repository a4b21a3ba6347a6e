"""Deleting a document records ``dev.protostar.document.deleted`` in the same transaction
as the delete: one event per deleted document, none for a refused delete."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.events.catalog import default_catalog
from tests.accounts.conftest import db_rows
from tests.bots.conftest import become_protostar
from tests.conftest import Database
from tests.content.test_upload import SAMPLES, upload

DELETED = "dev.protostar.document.deleted"


def deleted_events(pg: Database, doc_id: str) -> list[tuple[Any, ...]]:
    return db_rows(
        pg,
        "SELECT subject, source, data FROM outbox WHERE type = %s AND data->>'document_id' = %s",
        DELETED,
        doc_id,
    )


async def test_delete_records_one_document_deleted_event(
    client: httpx.AsyncClient, owner: dict[str, Any], pg: Database
) -> None:
    name, data = SAMPLES["markdown"]
    doc_id = (await upload(client, owner, name, data)).json()["id"]
    assert deleted_events(pg, doc_id) == []
    path = f"/api/bots/{owner['bot']}/documents/{doc_id}"
    assert (await client.delete(path, headers=owner["headers"])).status_code == 204
    (event,) = deleted_events(pg, doc_id)
    subject, source, payload = event
    assert (subject, source) == (doc_id, "/protostar/content")
    assert payload == {
        "document_id": doc_id,
        "bot_id": owner["bot_id"],
        "owner_id": owner["user_id"],
    }
    default_catalog().check_data(DELETED, payload)
    # A second delete is a 404 and records nothing more.
    again = await client.delete(path, headers=owner["headers"])
    assert again.status_code == 404
    assert len(deleted_events(pg, doc_id)) == 1


async def test_refused_deletes_record_no_event(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    pg: Database,
    accounts_env: dict[str, str],
) -> None:
    name, data = SAMPLES["markdown"]
    doc_id = (await upload(client, owner, name, data)).json()["id"]
    other = await become_protostar(client, accounts_env)
    foreign = await client.delete(
        f"/api/bots/{owner['bot']}/documents/{doc_id}",
        headers={"Authorization": f"Bearer {other['access_token']}"},
    )
    assert foreign.status_code == 404
    missing = await client.delete(
        f"/api/bots/{owner['bot']}/documents/{uuid.uuid4()}", headers=owner["headers"]
    )
    assert missing.status_code == 404
    assert deleted_events(pg, doc_id) == []
    assert db_rows(pg, "SELECT count(*) FROM documents WHERE id = %s", doc_id) == [(1,)]
