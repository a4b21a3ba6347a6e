"""Embedded PostgreSQL, roles, migrations and the pool, against the real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from shared.db.migrate import LOCK_KEY, discover, migrate
from shared.db.pool import open_pool
from shared.errors import MigrationError
from tests.conftest import ROOT, Database


def test_extensions_present(pg: Database) -> None:
    with psycopg.connect(pg.app_url) as conn:
        rows = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        server = conn.execute("SHOW server_version_num").fetchone()
    assert "vector" in rows
    assert rows["vector"].startswith("0.8")
    assert "pg_trgm" in rows
    assert server is not None
    assert int(server[0]) >= 180000


def test_vector_type_works_for_the_app_role(pg: Database) -> None:
    with psycopg.connect(pg.app_url) as conn:
        row = conn.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector").fetchone()
    assert row is not None
    assert row[0] == pytest.approx(1.0)


def test_app_role_is_unprivileged_and_owns_nothing(pg: Database) -> None:
    with psycopg.connect(pg.superuser_url) as conn:
        attrs = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname = %s",
            (pg.roles.app,),
        ).fetchone()
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE r.rolname = %s",
            (pg.roles.app,),
        ).fetchone()
        owner_tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tableowner = %s", (pg.roles.owner,)
        ).fetchone()
    assert attrs == (False, False, False, False)
    assert owned == (0,)
    assert owner_tables is not None
    assert owner_tables[0] >= 1


def test_app_role_cannot_create_tables_or_touch_migrations(pg: Database) -> None:
    with psycopg.connect(pg.app_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM schema_migrations")
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(discover()),
        )


def test_app_role_cannot_bypass_row_level_security(pg: Database) -> None:
    with psycopg.connect(pg.owner_url, autocommit=True) as owner:
        owner.execute("DROP TABLE IF EXISTS rls_probe")
        owner.execute("CREATE TABLE rls_probe (tenant text NOT NULL, secret text NOT NULL)")
        owner.execute("ALTER TABLE rls_probe ENABLE ROW LEVEL SECURITY")
        owner.execute("ALTER TABLE rls_probe FORCE ROW LEVEL SECURITY")
        owner.execute(
            "CREATE POLICY tenant_only ON rls_probe "
            "USING (tenant = current_setting('app.tenant', true))"
        )
        owner.execute(f"GRANT SELECT, INSERT ON rls_probe TO {pg.roles.app}")
    try:
        with psycopg.connect(pg.app_url, autocommit=True) as app:
            app.execute("SET app.tenant = 'a'")
            app.execute("INSERT INTO rls_probe VALUES ('a', 'mine')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("INSERT INTO rls_probe VALUES ('b', 'not mine')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("SET row_security = off; SELECT * FROM rls_probe")
            app.execute("RESET row_security")
            app.execute("SET app.tenant = 'b'")
            assert app.execute("SELECT count(*) FROM rls_probe").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("ALTER TABLE rls_probe DISABLE ROW LEVEL SECURITY")
    finally:
        with psycopg.connect(pg.owner_url, autocommit=True) as owner:
            owner.execute("DROP TABLE rls_probe")


def test_migrations_are_idempotent(pg: Database) -> None:
    assert migrate(pg.owner_url, pg.roles.app) == []
    assert migrate(pg.owner_url, pg.roles.app) == []
    with psycopg.connect(pg.owner_url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == [m.version for m in discover()]


def _write(directory: Path, name: str, body: str) -> None:
    (directory / name).write_text(body)


def test_concurrent_migrations_apply_each_version_once(pg: Database, tmp_path: Path) -> None:
    """Four processes start together on a fresh database: every one succeeds, once each."""
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS migrate_race")
        conn.execute(f"CREATE DATABASE migrate_race OWNER {pg.roles.owner}")
    url = pg.owner_url.rsplit("/", 1)[0] + "/migrate_race"
    mig = tmp_path / "migrations"
    mig.mkdir()
    _write(mig, "0001_a.sql", "CREATE TABLE race_a (id int); SELECT pg_sleep(0.3);")
    _write(mig, "0002_b.sql", "CREATE TABLE race_b (id int); INSERT INTO race_b VALUES (1);")
    code = (
        "import sys; from pathlib import Path; from shared.db.migrate import migrate; "
        "print(migrate(sys.argv[1], sys.argv[2], Path(sys.argv[3])))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, pg.roles.app, str(mig)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in runs]
    assert [p.returncode for p in runs] == [0, 0, 0, 0], [r[1] for r in results]
    outputs = sorted(r[0].strip() for r in results)
    assert outputs == ["[1, 2]", "[]", "[]", "[]"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM race_b").fetchone() == (1,)
        assert conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            (LOCK_KEY & 0xFFFFFFFF,),
        ).fetchone() == (0,)


def test_changed_migration_is_refused(pg: Database, tmp_path: Path) -> None:
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS migrate_changed")
        conn.execute(f"CREATE DATABASE migrate_changed OWNER {pg.roles.owner}")
    url = pg.owner_url.rsplit("/", 1)[0] + "/migrate_changed"
    _write(tmp_path, "0001_a.sql", "CREATE TABLE t (id int);")
    assert migrate(url, pg.roles.app, tmp_path) == [1]
    _write(tmp_path, "0001_a.sql", "CREATE TABLE t (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(url, pg.roles.app, tmp_path)


def test_failed_migration_leaves_nothing_half_applied(pg: Database, tmp_path: Path) -> None:
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS migrate_fail")
        conn.execute(f"CREATE DATABASE migrate_fail OWNER {pg.roles.owner}")
    url = pg.owner_url.rsplit("/", 1)[0] + "/migrate_fail"
    _write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    _write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(url, pg.roles.app, tmp_path)
    with psycopg.connect(url) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
        versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert "ok" in tables
    assert "half" not in tables
    assert versions == [(1,)]


def test_bad_migration_file_name_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "1_oops.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


async def test_pool_serves_again_after_postgres_restart(pg: Database) -> None:
    pool = await open_pool(pg.app_url, name="restart-test", min_size=2, max_size=4, conn_timeout=20)
    try:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        before = row[0]
        await pool.wait(timeout=10)
        server = pg.server
        await asyncio.to_thread(server.kill)  # type: ignore[attr-defined]
        await asyncio.to_thread(server.start)  # type: ignore[attr-defined]
        for _ in range(3):  # every pooled connection was broken by the crash
            async with pool.connection() as conn:
                row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
                assert row is not None
                assert row[0] != before  # a new connection to the new server
    finally:
        await pool.close()
