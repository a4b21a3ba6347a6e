"""The audit chain: sealed lines, links across lines and days, and `task audit:verify`
naming the first broken file:line after a single byte changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.audit.chain import GENESIS, ChainError, check, digest, file_day, file_name, seal
from shared.audit.log import AuditLog
from shared.audit.verify import verify
from tests.conftest import ROOT

DAY1 = datetime(2024, 3, 14, 12, 0, 0, tzinfo=UTC)


def fill(directory: Path, per_day: tuple[int, ...] = (3, 4, 2)) -> list[Path]:
    """Lines on consecutive UTC days; returns the files, oldest first."""
    log = AuditLog(directory)
    n = 0
    for day, count in enumerate(per_day):
        for i in range(count):
            n += 1
            at = DAY1 + timedelta(days=day, seconds=i)
            fields = {"id": f"e{n}", "source": "/test", "type": "t", "data": {"n": n}}
            assert log.append(f"k{n}", fields, at).written
    return sorted(directory.glob("*.jsonl"))


def test_seal_and_check_round_trip() -> None:
    line = seal({"id": "1", "source": "/s", "data": {"x": "é\n"}}, GENESIS)
    parsed = check(line, GENESIS)
    assert parsed.fields["data"] == {"x": "é\n"}
    assert parsed.fields["prev"] == GENESIS
    assert parsed.digest == digest(line)
    follower = seal({"id": "2"}, parsed.digest)
    assert check(follower, parsed.digest).fields["id"] == "2"
    with pytest.raises(ChainError, match="does not follow"):
        check(follower, GENESIS)
    with pytest.raises(ValueError, match="chain's own keys"):
        seal({"hash": "x"}, GENESIS)


def test_file_names_come_only_from_dates() -> None:
    assert file_name(DAY1.date()) == "2024-03-14.jsonl"
    assert file_day("2024-03-14.jsonl") == DAY1.date()
    for name in ("2024-02-30.jsonl", "../2024-03-14.jsonl", "2024-03-14.jsonl.bak", ".index"):
        assert file_day(name) is None


def test_a_day_chains_to_the_previous_day_and_everything_verifies(tmp_path: Path) -> None:
    files = fill(tmp_path)
    assert [f.name for f in files] == ["2024-03-14.jsonl", "2024-03-15.jsonl", "2024-03-16.jsonl"]
    report = verify(tmp_path)
    assert (report.ok, report.files, report.lines) == (True, 3, 9)
    first = files[1].read_bytes().splitlines()[0]
    last_of_day1 = files[0].read_bytes().splitlines()[-1]
    assert json.loads(first)["prev"] == digest(last_of_day1)
    assert json.loads(files[0].read_bytes().splitlines()[0])["prev"] == GENESIS
    assert report.head == digest(files[-1].read_bytes().splitlines()[-1])


@pytest.mark.parametrize(
    ("file_index", "line_index", "where"),
    [
        (0, 0, "data"),  # the very first line
        (1, 2, "data"),  # the middle of a middle day
        (1, 0, "prev"),  # the link itself
        (2, 1, "hash"),  # the seal of the last line
        (1, 3, "brace"),  # the JSON structure
    ],
)
def test_one_changed_byte_is_named_at_its_file_and_line(
    tmp_path: Path, file_index: int, line_index: int, where: str
) -> None:
    files = fill(tmp_path)
    path = files[file_index]
    raw = bytearray(path.read_bytes())
    starts = [0, *[i + 1 for i, b in enumerate(raw) if b == 0x0A][:-1]]
    line = bytes(raw[starts[line_index] :].split(b"\n", 1)[0])
    offset = {
        "data": line.index(b'"n":') + 4,
        "prev": line.index(b'"prev":"') + 10,
        "hash": len(line) - 5,
        "brace": 0,
    }[where]
    position = starts[line_index] + offset
    raw[position] = ord("7") if raw[position] != ord("7") else ord("8")
    path.write_bytes(bytes(raw))
    report = verify(tmp_path)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.startswith(f"{path.name}:{line_index + 1}: ")


def test_files_follow_the_utc_day_and_never_go_back_in_time(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    last_second = datetime(2024, 3, 14, 23, 59, 59, 999999, tzinfo=UTC)
    assert log.append("a", {"id": "a"}, last_second).file == "2024-03-14.jsonl"
    assert log.append("b", {"id": "b"}, last_second + timedelta(microseconds=1)).file == (
        "2024-03-15.jsonl"
    )
    # A clock stepped back writes on in the newest file: the chain runs in name order.
    assert log.append("c", {"id": "c"}, last_second - timedelta(days=3)).file == (
        "2024-03-15.jsonl"
    )
    report = verify(tmp_path)
    assert (report.ok, report.lines, report.files) == (True, 3, 2)


def test_removed_line_or_day_breaks_the_chain_at_the_next_line(tmp_path: Path) -> None:
    files = fill(tmp_path)
    lines = files[1].read_bytes().splitlines(keepends=True)
    files[1].write_bytes(b"".join(lines[:1] + lines[2:]))
    assert verify(tmp_path).broken == (
        f"{files[1].name}:2: " + verify(tmp_path).broken.split(": ", 1)[1]  # type: ignore[union-attr]
    )
    files[1].write_bytes(b"".join(lines))
    assert verify(tmp_path).ok
    files[1].unlink()
    broken = verify(tmp_path).broken
    assert broken is not None
    assert broken.startswith(f"{files[2].name}:1: the line does not follow")
    files[0].unlink()  # the first day gone: the new first line does not follow the genesis
    assert verify(tmp_path).broken.startswith(f"{files[2].name}:1: ")  # type: ignore[union-attr]


def test_an_incomplete_last_line_is_reported(tmp_path: Path) -> None:
    files = fill(tmp_path, (2,))
    files[0].write_bytes(files[0].read_bytes()[:-10])
    assert verify(tmp_path).broken == f"{files[0].name}:2: the line is incomplete"


def run_verify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("AUDIT_DIR", "PROTOSTAR_DATA")}
    return subprocess.run(
        [sys.executable, "-m", "shared.audit.verify", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_prints_the_count_or_names_the_broken_line(tmp_path: Path) -> None:
    files = fill(tmp_path)
    ok = run_verify(env={"AUDIT_DIR": str(tmp_path)})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: 9 lines verified in 3 files")
    raw = bytearray(files[1].read_bytes())
    raw[raw.index(b'"n":') + 4] = ord("9")
    files[1].write_bytes(bytes(raw))
    broken = run_verify("--dir", str(tmp_path))
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"BROKEN: {files[1].name}:1: ")
    empty = run_verify(env={"PROTOSTAR_DATA": str(tmp_path / "nothing")})
    assert empty.returncode == 0
    assert empty.stdout.startswith("OK: 0 lines verified")


def test_taskfile_runs_the_verifier() -> None:
    text = (ROOT / "Taskfile.yml").read_text()
    assert '"audit:verify":' in text
    assert "-m shared.audit.verify {{.CLI_ARGS}}" in text
