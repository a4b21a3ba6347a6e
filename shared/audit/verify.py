"""``python -m shared.audit.verify`` (``task audit:verify``): check every chain of the
audit log, oldest file first.

Exit 0 and ``OK: <n> lines verified ...`` when every line is sealed and follows the one
before it (across files: a day's first line follows the previous file's last line; the
first file's first line follows the genesis). Exit 1 and ``BROKEN: <file>:<line>: why``
at the first line that does not. ``--rebuild-index`` also recreates the index of event
ids from the files (after a restore, say).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.audit.chain import GENESIS, ChainError, check
from shared.audit.log import audit_files


@dataclass(frozen=True)
class Report:
    files: int
    lines: int
    head: str  # digest of the last line (GENESIS when the log is empty)
    broken: str | None = None  # "<file>:<line>: <reason>"

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(directory: Path) -> Report:
    prev = GENESIS
    lines = 0
    files = audit_files(directory)
    for _, path in files:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.endswith(b"\n"):
                    return Report(
                        len(files), lines, prev, f"{path.name}:{number}: the line is incomplete"
                    )
                try:
                    prev = check(raw[:-1], prev).digest
                except ChainError as exc:
                    return Report(len(files), lines, prev, f"{path.name}:{number}: {exc}")
                lines += 1
    return Report(len(files), lines, prev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="task audit:verify", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, help="audit directory (default: AUDIT_DIR)")
    parser.add_argument(
        "--rebuild-index", action="store_true", help="recreate the index of event ids"
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if directory is None:
        from shared.errors import SettingsError
        from shared.settings import get_settings

        try:
            directory = get_settings().audit_path
        except SettingsError as exc:
            print(f"protostar: {exc}", file=sys.stderr)
            return 2
    if not directory.is_dir():
        print(f"OK: 0 lines verified ({directory} does not exist yet)")
        return 0
    report = verify(directory)
    if not report.ok:
        print(f"BROKEN: {report.broken}")
        return 1
    if args.rebuild_index:
        from shared.audit.log import AuditLog

        AuditLog(directory).rebuild_index()
    print(
        f"OK: {report.lines} lines verified in {report.files} files of {directory} "
        f"(last line's sha256 {report.head})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
