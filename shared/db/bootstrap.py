"""Create the database and its two roles on a server we administer (the embedded one).

- ``protostar_owner`` owns the database, its schema and every table; migrations run as it.
- ``protostar_app`` is what functions connect as: not superuser, no BYPASSRLS, no
  CREATEDB/CREATEROLE, owns nothing; it gets DML grants after each migration run.

In production a DBA does the same once (see README, "Database roles").
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

DATABASE = "protostar"
OWNER_ROLE = "protostar_owner"
APP_ROLE = "protostar_app"


@dataclass(frozen=True)
class Roles:
    owner_password: str
    app_password: str
    database: str = DATABASE
    owner: str = OWNER_ROLE
    app: str = APP_ROLE


def _ensure_role(conn: psycopg.Connection, name: str, password: str, attrs: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} WITH LOGIN " + attrs + " PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(name), sql.Literal(password)
        )
    )


def bootstrap(superuser_url: str, roles: Roles) -> None:
    """Idempotently create roles, database and extensions (needs a superuser URL)."""
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        _ensure_role(
            conn,
            roles.owner,
            roles.owner_password,
            "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
        )
        _ensure_role(
            conn,
            roles.app,
            roles.app_password,
            "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT",
        )
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (roles.database,)
        ).fetchone()
        if not found:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(roles.database), sql.Identifier(roles.owner)
                )
            )
    db_url = psycopg.conninfo.make_conninfo(superuser_url, dbname=roles.database)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # Extensions need a superuser; migrations then only find them present.
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(roles.database))
        )
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(roles.database), sql.Identifier(roles.app)
            )
        )
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(roles.owner)))
