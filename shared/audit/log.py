"""Appending to the audit log: one writer at a time (an exclusive ``flock`` on
``<dir>/.lock``, across threads and processes), each line written with one ``write``
and fsynced (the directory too when a file is created) before :meth:`AuditLog.append`
returns, and each event written once, whatever the redeliveries.

Duplicates are found in an index of event keys (SQLite, ``<dir>/.index.sqlite3``),
updated after the line is durable. The index is derived data: when it is missing or
unreadable it is rebuilt from the files, and a crash between a line and its index row
is repaired at the next append (the last line is indexed again). A torn last line (a
crash mid-write, never acknowledged) is cut off at the next append: the broker will
deliver that event again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shared.audit.chain import GENESIS, digest, file_day, file_name, seal
from shared.audit.entry import entry_fields, event_key
from shared.events.cloudevent import CloudEvent

log = logging.getLogger("protostar.audit")

LOCK_NAME = ".lock"
INDEX_NAME = ".index.sqlite3"
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Appended:
    written: bool  # False: the event was already in the log
    file: str


def audit_files(directory: Path) -> list[tuple[date, Path]]:
    """The day files of ``directory``, oldest first (any other name is not a day file)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        day = file_day(path.name)
        if day is not None and path.is_file() and not path.is_symlink():
            found.append((day, path))
    return sorted(found)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_line(path: Path) -> bytes | None:
    """The last complete line of ``path`` (newline excluded); cuts off a torn tail."""
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return None
        end = size
        buffer = b""
        while True:
            start = max(0, end - _TAIL_CHUNK)
            fh.seek(start)
            buffer = fh.read(end - start) + buffer
            end = start
            if buffer.endswith(b"\n"):
                nl = buffer.rfind(b"\n", 0, len(buffer) - 1)
                if nl >= 0 or start == 0:
                    return buffer[nl + 1 : -1]
            else:
                nl = buffer.rfind(b"\n")
                if nl >= 0 or start == 0:
                    keep = size - (len(buffer) - (nl + 1))
                    log.warning(
                        "torn audit line cut off (never acknowledged; it will be redelivered)",
                        extra={"file": path.name, "bytes": size - keep},
                    )
                    fh.truncate(keep)
                    fh.flush()
                    os.fsync(fh.fileno())
                    return _last_line(path) if keep else None


class _Index:
    """Event keys already in the log, and the file each is in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:
            log.warning("audit index unreadable; rebuilding it from the files")
            path.unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA synchronous = FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, file TEXT NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @property
    def complete(self) -> bool:
        """False until a rebuild from the files has finished (a new or crashed index)."""
        row = self.db.execute("SELECT value FROM meta WHERE name = 'built'").fetchone()
        return row is not None

    def replace(self, keys: list[tuple[str, str]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM events")
            self.db.executemany("INSERT OR IGNORE INTO events (key, file) VALUES (?, ?)", keys)
            self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('built', '1')")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def find(self, key: str) -> str | None:
        row = self.db.execute("SELECT file FROM events WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def add(self, keys: list[tuple[str, str]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO events (key, file) VALUES (?, ?)", keys)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def _key_of(raw: bytes) -> str | None:
    try:
        fields = json.loads(raw)
        return event_key(str(fields["source"]), str(fields["id"]))
    except (ValueError, KeyError, TypeError):
        return None


class AuditLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._mutex = threading.Lock()  # one appender per process at a time, then the flock

    def _ensure_directory(self) -> None:
        if self.directory.is_dir():
            return
        missing = []
        probe = self.directory
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        for path in reversed(missing):
            _fsync_dir(path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[_Index]:
        self._ensure_directory()
        with self._mutex:
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                index = _Index(self.directory / INDEX_NAME)
                try:
                    if not index.complete:
                        self._rebuild(index)
                    yield index
                finally:
                    index.close()
            finally:
                os.close(fd)  # releases the flock

    def _rebuild(self, index: _Index) -> int:
        keys = []
        for _, path in audit_files(self.directory):
            with path.open("rb") as fh:
                for raw in fh:
                    key = _key_of(raw.rstrip(b"\n"))
                    if key is not None:
                        keys.append((key, path.name))
        index.replace(keys)
        if keys:
            log.info("audit index rebuilt from the files", extra={"events": len(keys)})
        return len(keys)

    def rebuild_index(self) -> int:
        """Recreate the index from the files; returns how many lines it indexed."""
        self._ensure_directory()
        with self._mutex:
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                (self.directory / INDEX_NAME).unlink(missing_ok=True)
                index = _Index(self.directory / INDEX_NAME)
                try:
                    return self._rebuild(index)
                finally:
                    index.close()
            finally:
                os.close(fd)

    def _tail(self, index: _Index) -> tuple[date | None, str]:
        """The newest file's day and the digest the next line must carry as ``prev``.

        Re-indexes the last line (a crash may have come between it and its index row).
        """
        files = audit_files(self.directory)
        newest = files[-1][0] if files else None
        for _, path in reversed(files):
            last = _last_line(path)
            if last is None:
                continue
            key = _key_of(last)
            if key is not None and index.find(key) is None:
                index.add([(key, path.name)])
            return newest, digest(last)
        return newest, GENESIS

    def append(self, key: str, fields: dict[str, Any], now: datetime | None = None) -> Appended:
        """Write ``fields`` as one sealed line unless ``key`` is already in the log.

        Durable when this returns: the line is fsynced, and the directory too when the
        day's file was created by this call.
        """
        now = now or datetime.now(UTC)
        with self._locked() as index:
            newest, prev = self._tail(index)
            known = index.find(key)
            if known is not None:
                return Appended(False, known)
            # Never write behind a newer file (a clock stepped back): the chain runs in
            # file-name order.
            day = max(now.astimezone(UTC).date(), newest) if newest else now.astimezone(UTC).date()
            path = self.directory / file_name(day)
            line = seal(fields, prev) + b"\n"
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                except BaseException:
                    os.ftruncate(fd, start)  # leave no torn line behind
                    raise
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
            index.add([(key, path.name)])
            return Appended(True, path.name)

    async def record(self, event: CloudEvent) -> Appended:
        """Append ``event`` (once) and return when it is durable."""
        now = datetime.now(UTC)
        fields = entry_fields(event, now)
        key = event_key(event.source, event.id)
        return await asyncio.to_thread(self.append, key, fields, now)
