"""A live status view of the local runtime for a terminal (instead of a wall of logs)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CLEAR = "\x1b[H\x1b[2J"


def render(snapshot: Mapping[str, Any]) -> str:
    width = shutil.get_terminal_size((100, 30)).columns
    lines = [
        f"Protostar  {snapshot['public_url']}   broker: {snapshot['broker_backend']}"
        f"   data: {snapshot['data_dir']}   (Ctrl-C stops)",
        "",
        f"{'SERVICE':<16}{'STATE':<16}{'PORT':>6}{'REQS':>8}{'INFLT':>6}{'COLD':>6}"
        f"{'LAST COLD':>11}{'RSS MB':>8}{'RESTARTS':>9}",
    ]
    for name, s in sorted(snapshot["services"].items()):
        cold = f"{s['last_cold_start_ms']:.0f}ms" if s["last_cold_start_ms"] else "-"
        rss = f"{s['rss_mb']:.0f}" if s["rss_mb"] else "-"
        lines.append(
            f"{name:<16}{s['state']:<16}{s['port']:>6}{s['requests']:>8}"
            f"{s['in_flight']:>6}{s['cold_starts']:>6}{cold:>11}{rss:>8}"
            f"{s['restarts']:>9}"
        )
    lines += [
        "",
        f"{'TRIGGER':<28}{'QUEUED':>8}{'DELIVERED':>10}{'RETRIED':>9}{'DEAD':>6}{'FAILED':>8}",
    ]
    for name, t in sorted(snapshot["triggers"].items()):
        lines.append(
            f"{name:<28}{t['queued']:>8}{t['delivered']:>10}{t['retried']:>9}"
            f"{t['dead_lettered']:>6}{t['failures']:>8}"
        )
    if not snapshot["triggers"]:
        lines.append("(no triggers)")
    lines += [
        "",
        f"{'PINGSOURCE':<28}{'SCHEDULE':<16}{'TZ':<14}{'FIRED':>6}{'FAILED':>7}  NEXT (UTC)",
    ]
    for p in snapshot["pingsources"]:
        nxt = p["next_fire"].astimezone(UTC).strftime("%H:%M:%S") if p["next_fire"] else "-"
        lines.append(
            f"{p['name']:<28}{p['schedule']:<16}{p['timezone']:<14}{p['fired']:>6}"
            f"{p['failed']:>7}  {nxt}"
        )
    lines += [
        "",
        f"events accepted: {snapshot['accepted']}   "
        f"updated {datetime.now(UTC).strftime('%H:%M:%S')} UTC   "
        f"logs: {snapshot['data_dir']}/logs/",
    ]
    return "\n".join(line[:width] for line in lines)
