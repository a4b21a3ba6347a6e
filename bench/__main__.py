"""``task bench [-- --quick]``: run every bench, print a table, write JSON and markdown.

Every figure is printed beside a baseline measured in the same run, with the ratio.
Results go to ``bench/results/<timestamp>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    ask,
    broker,
    coldstart,
    embedder,
    ingest,
    peer,
    quotas,
    recall,
    surfaces,
    talent_bench,
)

BENCHES = {
    "broker": broker.run,
    "quotas": quotas.run,
    "embedder": embedder.run,
    "ingest": ingest.run,
    # ask, recall and peer share one synthetic corpus (bench/corpus.py), built once.
    "ask": ask.run,
    "recall": recall.run,
    "peer": peer.run,
    "coldstart": coldstart.run,
    "surfaces": surfaces.run,
    "talent": talent_bench.run,
}
RESULTS = Path(__file__).with_name("results")


def _table(report: dict[str, Any]) -> str:
    rows = report["rows"]
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    head = " | ".join(k.ljust(widths[k]) for k in keys)
    lines = [
        f"## {report['figure']}",
        "",
        f"baseline: {report.get('baseline', '-')}; aim: {report.get('aim', '-')}",
        "",
        f"| {head} |",
        "|" + "|".join("-" * (widths[k] + 2) for k in keys) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(k, "")).ljust(widths[k]) for k in keys) + " |")
    return "\n".join(lines)


async def _main(args: argparse.Namespace) -> int:
    chosen = args.only or list(BENCHES)
    reports: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="protostar-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # noqa: ASYNC240 - once, before anything runs
        for name in chosen:
            started = time.perf_counter()
            report = await BENCHES[name](args.quick, work / name)
            report["seconds"] = round(time.perf_counter() - started, 1)
            reports[name] = report
            print(_table(report), flush=True)
            print(flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "when": stamp,
        "quick": args.quick,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps({"meta": meta, "benches": reports}, indent=2))
    (RESULTS / f"{stamp}.md").write_text(
        f"# Protostar bench {stamp}{' (quick)' if args.quick else ''}\n\n"
        + "\n\n".join(_table(r) for r in reports.values())
        + "\n"
    )
    print(f"results: {RESULTS / stamp}.json and .md")
    missing = [n for n, r in reports.items() if not r.get("rows")]
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="task bench")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--only", nargs="*", choices=list(BENCHES))
    import uvloop

    return uvloop.run(_main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
