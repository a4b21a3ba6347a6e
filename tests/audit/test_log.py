"""Appending: each event once (sequential, concurrent threads, concurrent processes),
crash repair (a torn last line, a lost index row, a lost index), and hostile field
values that stay on one line inside the directory."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from shared.audit.entry import entry_fields, event_key
from shared.audit.log import INDEX_NAME, AuditLog
from shared.audit.verify import verify
from shared.events.cloudevent import CloudEvent, new_event
from tests.conftest import ROOT

NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)


def lines(directory: Path) -> list[bytes]:
    return [ln for f in sorted(directory.glob("*.jsonl")) for ln in f.read_bytes().splitlines()]


def event(n: int | str, source: str = "/protostar/users") -> CloudEvent:
    return new_event(
        "dev.protostar.user.deleted",
        source,
        {"user_id": "0b9d0c5e-6c1f-4a57-9a57-3f0c0c2b0f00"},
        event_id=f"evt-{n}",
    )


def append(log: AuditLog, e: CloudEvent) -> bool:
    return log.append(event_key(e.source, e.id), entry_fields(e, NOW), NOW).written


def test_the_same_event_is_written_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    assert append(log, event(1))
    assert not append(log, event(1))
    assert append(log, event(1, source="/protostar/other"))  # another source: another event
    assert not append(log, event(1))
    assert len(lines(tmp_path)) == 2
    assert verify(tmp_path).ok


def test_concurrent_threads_write_each_event_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    others = [AuditLog(tmp_path) for _ in range(3)]  # separate instances: only the flock
    ids = [i % 10 for i in range(80)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(
            pool.map(lambda i: append([log, *others][i % 4], event(ids[i])), range(len(ids)))
        )
    assert sum(written) == 10
    assert sorted(json.loads(ln)["id"] for ln in lines(tmp_path)) == sorted(
        f"evt-{i}" for i in range(10)
    )
    assert verify(tmp_path).lines == 10


WORKER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from shared.audit.log import AuditLog
    log = AuditLog(Path(sys.argv[1]))
    me = sys.argv[2]
    for n in range(25):
        key = f"shared-{n}" if n % 2 == 0 else f"{me}-{n}"
        log.append(key, {"id": key, "source": "/p"}, datetime.now(UTC))
    """
)


def test_concurrent_processes_write_each_event_once(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), f"p{i}"], cwd=ROOT)
        for i in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    ids = [json.loads(ln)["id"] for ln in lines(tmp_path)]
    assert len(ids) == len(set(ids)) == 13 + 4 * 12  # 13 shared, 12 own per process
    report = verify(tmp_path)
    assert (report.ok, report.lines) == (True, len(ids))


def test_a_torn_last_line_is_cut_and_the_event_written_again(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    assert append(log, event(1))
    assert append(log, event(2))
    (day,) = tmp_path.glob("*.jsonl")
    # A crash mid-write: half of line 2 on disk, its index row never committed.
    data = day.read_bytes()
    day.write_bytes(data[: len(data) - 40])
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:
        db.execute("DELETE FROM events WHERE key = ?", (event_key("/protostar/users", "evt-2"),))
    assert not verify(tmp_path).ok
    assert append(log, event(2))  # the redelivery
    assert append(log, event(3))
    assert [json.loads(ln)["id"] for ln in lines(tmp_path)] == ["evt-1", "evt-2", "evt-3"]
    assert verify(tmp_path).ok


def test_a_line_whose_index_row_was_lost_is_not_written_twice(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    assert append(log, event(1))
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:  # crash between line and index row
        db.execute("DELETE FROM events")
    assert not append(log, event(1))
    assert len(lines(tmp_path)) == 1


def test_the_index_is_rebuilt_from_the_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    for n in range(5):
        assert append(log, event(n))
    (tmp_path / INDEX_NAME).unlink()
    assert not any(append(log, event(n)) for n in range(5))
    (tmp_path / INDEX_NAME).write_bytes(b"this is not a database" * 100)
    assert not append(log, event(3))
    assert log.rebuild_index() == 5
    assert append(log, event(5))
    assert len(lines(tmp_path)) == 6
    assert verify(tmp_path).lines == 6


HOSTILE = [
    "a\r\nb",
    "line\nbreak",
    "nul\x00bell\x07esc\x1b[31m",
    "../../../../etc/passwd",
    "/absolute/../../x",
    "sep\u2028para\u2029",
    "del\x7f",
    '{"prev":"' + "0" * 64 + '"}',
    "한국어 이력서",
]


def test_hostile_values_stay_on_one_line_inside_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    log = AuditLog(directory)
    for n, value in enumerate(HOSTILE):
        e = new_event(
            "dev.protostar.document.failed",
            f"/protostar/{value}",
            {
                "document_id": "0b9d0c5e-6c1f-4a57-9a57-3f0c0c2b0f00",
                "bot_id": "0b9d0c5e-6c1f-4a57-9a57-3f0c0c2b0f01",
                "reason": value,
            },
            subject=value,
            event_id=f"{n}{value}",
        )
        assert append(log, e)
    written = lines(directory)
    assert len(written) == len(HOSTILE)
    for n, raw in enumerate(written):
        assert all(0x20 <= b < 0x7F for b in raw), raw  # printable ASCII only
        fields = json.loads(raw)
        assert fields["subject"] == fields["data"]["reason"] == HOSTILE[n]  # nothing lost
        assert fields["id"] == f"{n}{HOSTILE[n]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit"]
    assert {p.name for p in directory.iterdir()} == {"2024-03-14.jsonl", ".lock", INDEX_NAME}
    assert verify(directory).lines == len(HOSTILE)


def test_sensitive_fields_of_the_catalog_are_not_recorded() -> None:
    e = new_event(
        "dev.protostar.password_reset.requested",
        "/protostar/auth",
        {
            "user_id": "0b9d0c5e-6c1f-4a57-9a57-3f0c0c2b0f00",
            "email": "a@example.com",
            "reset_url": "https://x/reset#token=secret",
            "expires_at": "2030-01-01T00:00:00Z",
        },
    )
    fields = entry_fields(e, NOW)
    assert "reset_url" not in fields["data"]
    assert fields["redacted"] == ["reset_url"]
    assert "secret" not in json.dumps(fields)
