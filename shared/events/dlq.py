"""``task events:dlq``: list dead letters, and replay them into the broker.

    task events:dlq                 # list the dead letters not yet replayed
    task events:dlq -- --all        # include replayed ones
    task events:dlq -- replay 3 7   # re-publish dead letters 3 and 7
    task events:dlq -- replay --all # re-publish every one not yet replayed

Uses ``DATABASE_URL``/``BROKER_URL`` when set, else the running local runtime's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys

import httpx

from shared.db.pool import open_pool
from shared.errors import ProtostarError
from shared.events import deadletters
from shared.events.outbox import BrokerClient
from shared.settings import load_settings


def _error_text(data: str | None) -> str:
    if not data:
        return ""
    try:
        text = base64.b64decode(data).decode("utf-8", "replace")
    except ValueError:
        text = data
    return " ".join(text.split())[:60]


async def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="task events:dlq", description=__doc__)
    parser.add_argument("action", nargs="?", choices=["list", "replay"], default="list")
    parser.add_argument("seqs", nargs="*", type=int, help="dead letters to replay")
    parser.add_argument(
        "--all",
        action="store_true",
        help="list: include replayed; replay: every one not yet replayed",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    state = None
    if settings.database_url and settings.broker_url:
        url = settings.database_url
    else:
        # A local run (task events:dlq): the running runtime's embedded servers. Only
        # then is the local platform imported; a function image does not hold it.
        from localplatform.runtime.state import RuntimeState, database_url

        state = RuntimeState.read(settings.data_dir)
        url = database_url(settings, state)
    pool = await open_pool(url, name="events-dlq", min_size=1, max_size=2)
    try:
        letters = await deadletters.list_dead_letters(
            pool, include_replayed=args.all and args.action == "list", limit=10000
        )
        if args.action == "list":
            if not letters:
                print("no dead letters")
            for d in letters:
                replayed = " (replayed)" if d.replayed_at else ""
                print(
                    f"{d.seq:>6}  {d.received_at:%Y-%m-%d %H:%M:%S}  {d.event.type:<36} "
                    f"{d.event.id[:36]:<36}  {d.error_code or '-':>4} -> {d.destination}  "
                    f"{_error_text(d.error_data)}{replayed}"
                )
            return 0
        chosen = letters if args.all else [d for d in letters if d.seq in set(args.seqs)]
        missing = set(args.seqs) - {d.seq for d in chosen}
        if missing:
            print(f"no unreplayed dead letter {sorted(missing)}", file=sys.stderr)
            return 1
        broker_url = settings.broker_url or (state.broker_url if state else None)
        if not broker_url:
            print("no broker URL (BROKER_URL, or a running `task up`)", file=sys.stderr)
            return 1
        broker = BrokerClient(broker_url)
        try:
            for d in chosen:
                await broker.send(deadletters.original(d.event))
                await deadletters.mark_replayed(pool, d.seq)
                print(f"replayed {d.seq} ({d.event.type} {d.event.id})")
        except httpx.HTTPError as exc:
            print(f"replay stopped: {exc}", file=sys.stderr)
            return 1
        finally:
            await broker.aclose()
        return 0
    finally:
        await pool.close()


def main() -> int:
    try:
        return asyncio.run(run(sys.argv[1:]))
    except ProtostarError as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
