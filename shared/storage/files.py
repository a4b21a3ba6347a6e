"""``file://`` backend: objects as files under one root, written atomically.

Presigned GETs are HMAC-signed URLs under ``public_base`` (the local ingress serves them
through :func:`verify_presigned`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from shared.errors import Forbidden, ObjectNotFound
from shared.storage.base import CHUNK_SIZE, ObjectInfo, ObjectStore, check_key, check_prefix

MAX_EXPIRY = 7 * 24 * 3600


def _sign(secret: bytes, key: str, expires: int) -> str:
    mac = hmac.new(secret, f"GET\n{key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class FileObjectStore(ObjectStore):
    def __init__(self, root: Path, *, signing_key: bytes, public_base: str) -> None:
        self.root = root.absolute()
        self.signing_key = signing_key
        self.public_base = public_base.rstrip("/")

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"))
        # check_key already refuses '..'; this guards symlinks placed by hand.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ObjectNotFound(f"object {key!r} not found")
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        path = self._path(key)
        return await asyncio.to_thread(self._put, key, path, data)

    def _put(self, key: str, path: Path, data: bytes) -> ObjectInfo:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".protostar-{os.getpid()}-{time.monotonic_ns()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return self._info(key, path)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"object {key!r} not found") from None

    async def stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fh = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"object {key!r} not found") from None
        try:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk
        finally:
            fh.close()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(self._delete, path)

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        # Remove directories left empty, up to (not including) the root.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        check_prefix(prefix)
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[ObjectInfo]:
        if not self.root.exists():
            return []
        out: list[ObjectInfo] = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".protostar-"):
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    out.append(self._info(key, path))
        return sorted(out, key=lambda info: info.key)

    async def presigned_get(self, key: str, expires_in: int = 300) -> str:
        check_key(key)
        if not 1 <= expires_in <= MAX_EXPIRY:
            raise ValueError("expires_in must be between 1 second and 7 days")
        expires = int(time.time()) + expires_in
        sig = _sign(self.signing_key, key, expires)
        return f"{self.public_base}/{quote(key)}?expires={expires}&signature={sig}"

    def verify_presigned(self, url: str, now: float | None = None) -> str:
        """The key a presigned URL grants, or Forbidden if it was altered or expired."""
        parts = urlsplit(url)
        base_path = urlsplit(self.public_base).path.rstrip("/") + "/"
        if not parts.path.startswith(base_path):
            raise Forbidden("not a presigned object URL", code="bad_signature")
        key = unquote(parts.path[len(base_path) :])
        query = parse_qs(parts.query)
        try:
            expires = int(query["expires"][0])
            signature = query["signature"][0]
        except (KeyError, IndexError, ValueError):
            raise Forbidden(
                "presigned URL lacks expires or signature", code="bad_signature"
            ) from None
        expected = _sign(self.signing_key, key, expires)
        if not hmac.compare_digest(expected, signature):
            raise Forbidden("presigned URL signature does not match", code="bad_signature")
        if (now if now is not None else time.time()) > expires:
            raise Forbidden("presigned URL has expired", code="expired")
        return check_key(key)

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".protostar-health-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
