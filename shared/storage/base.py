"""The object store contract every backend meets (tests/storage runs one suite on all)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from shared.errors import InvalidObjectKey

CHUNK_SIZE = 256 * 1024
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


def check_key(key: str) -> str:
    """Keys are relative '/'-separated paths without empty, '.' or '..' parts."""
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidObjectKey("object key must be 1..1024 bytes")
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in key):
        raise InvalidObjectKey("object key contains a control character or backslash")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidObjectKey("object key has an empty, '.' or '..' segment")
    if parts[-1].startswith(".protostar-"):
        raise InvalidObjectKey("object key uses a reserved name")
    return key


def check_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    check_key(prefix.rstrip("/") or "x")
    return prefix


class ObjectStore(abc.ABC):
    """Async object store. Keys are checked with :func:`check_key` by every backend."""

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo: ...

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """The whole object; raises ObjectNotFound."""

    @abc.abstractmethod
    def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The object in chunks, for large originals; raises ObjectNotFound."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many were removed."""
        infos = await self.list_objects(prefix)
        for info in infos:
            await self.delete(info.key)
        return len(infos)

    @abc.abstractmethod
    async def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""

    @abc.abstractmethod
    async def presigned_get(self, key: str, expires_in: int = 300) -> str:
        """A URL that lets anyone holding it GET the object until it expires."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise if the store cannot be used (health check)."""

    async def close(self) -> None:
        return None
