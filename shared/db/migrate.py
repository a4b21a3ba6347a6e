"""Versioned SQL migrations, applied under an advisory lock.

Files ``shared/db/migrations/NNNN_name.sql`` run in order, each in its own transaction,
as the owner role. Applied versions and their checksums live in ``schema_migrations``;
an applied file that changed afterwards is refused. Two processes starting together are
safe: the second waits for the lock, then finds nothing left to do. After every run the
application role gets DML on every table (and nothing more).

``python -m shared.db.migrate`` applies them to ``DATABASE_MIGRATE_URL``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from shared.errors import MigrationError, SettingsError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# pg_advisory_lock key: "protostar.migrate" as a stable 63-bit number.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"protostar.migrate").digest()[:8], "big") >> 1
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


def migrate(url: str, app_role: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; return the versions applied by this call."""
    migrations = discover(directory)
    applied_now: list[int] = []
    with psycopg.connect(url, autocommit=True, application_name="protostar-migrate") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            done = {int(v): str(c) for v, c in rows}
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"migration {m.version:04d}_{m.name} changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                applied_now.append(m.version)
                log.info("migration applied", extra={"version": m.version, "migration": m.name})
            _grant(conn, app_role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


def _grant(conn: psycopg.Connection, app_role: str) -> None:
    role = sql.Identifier(app_role)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone()
    if not exists:
        raise MigrationError(f"DATABASE_APP_ROLE: role {app_role!r} does not exist")
    with conn.transaction():
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        conn.execute(
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}"
            ).format(role)
        )
        conn.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {}").format(role)
        )
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role)
        )


def main() -> int:
    from shared.logs import configure_logging
    from shared.settings import load_settings

    configure_logging("migrate")
    try:
        settings = load_settings()
        if not settings.migrate_url:
            raise SettingsError("DATABASE_MIGRATE_URL: not set (nor DATABASE_URL)")
        applied = migrate(settings.migrate_url, settings.database_app_role)
    except (SettingsError, MigrationError) as exc:
        print(f"protostar: {exc}", file=sys.stderr)
        return 2
    print(f"applied {len(applied)} migration(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
