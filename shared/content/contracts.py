"""The documents API's response models (an upload is multipart, described in the route)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.api.contract import Reply

Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]


class DocumentView(Reply):
    id: Uuid
    title: str
    status: Literal["uploaded", "processing", "ready", "failed"]
    error: str | None = Field(None, description="Why it failed, for people")
    chunks: int
    filename: str | None
    media_type: str
    size: int
    embedding_model: str | None
    created_at: datetime
    updated_at: datetime


class DocumentList(Reply):
    documents: list[DocumentView]


class Uploaded(Reply):
    id: Uuid
    status: Literal["uploaded"]


class Reindexing(Reply):
    documents: int = Field(description="How many documents are re-embedded")
    status: Literal["reindexing"]


UPLOAD_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream"}
            },
        }
    }
}
