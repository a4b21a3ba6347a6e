"""``task invite``: create one protostar invite code (from the operator) and print it
alone on the last line. Works against ``DATABASE_URL``, a running ``task up``, or, when
nothing runs, the embedded database started just for this."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from shared.accounts.service import insert_invite, new_invite_code
from shared.db.pool import open_pool
from shared.errors import ProtostarError
from shared.settings import Settings, check_data_dir, load_settings


async def _create(url: str, ttl_days: int) -> str:
    pool = await open_pool(url, name="task-invite", min_size=1, max_size=1)
    try:
        code = new_invite_code()
        async with pool.connection() as conn, conn.transaction():
            await insert_invite(conn, code, datetime.now(UTC) + timedelta(days=ttl_days), None)
        return code
    finally:
        await pool.close()


def _with_embedded_database(settings: Settings) -> str:
    from localplatform.runtime.local import LocalRuntime

    runtime = LocalRuntime(settings)
    try:
        runtime.prepare()  # takes the instance lock: no `task up` runs meanwhile
        return asyncio.run(_create(runtime.database_url, settings.invite_ttl_days))
    finally:
        runtime.release()


def create_code(settings: Settings | None = None) -> str:
    """One fresh invite code: in DATABASE_URL's database, a running ``task up``'s, or the
    embedded one started just for this (not from inside a running event loop)."""
    settings = settings or load_settings()
    if settings.database_url:
        return asyncio.run(_create(settings.database_url, settings.invite_ttl_days))
    from localplatform.runtime.state import RuntimeState, database_url

    check_data_dir(settings.data_dir)
    try:
        state = RuntimeState.read(settings.data_dir)
    except ProtostarError:
        return _with_embedded_database(settings)
    return asyncio.run(_create(database_url(settings, state), settings.invite_ttl_days))


def main() -> int:
    try:
        settings = load_settings()
        code = create_code(settings)
    except ProtostarError as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 2
    print(f"protostar invite code (single use, {settings.invite_ttl_days} days):")
    print(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
