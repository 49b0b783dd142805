"""Database engines for the evidence: SQLite (WAL, foreign keys, full sync) or PostgreSQL, and the schema.

`open_database()` creates the tables and the triggers that make the ledger append-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from evidence.models import APPEND_ONLY_TABLES


def create_engine(url: str, *, writer: bool = False, **kwargs: Any) -> Engine:
    """An engine for the evidence database; a writer's SQLite transactions take the write lock up front."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # Two processes appending to the ledger: a deferred transaction that later upgrades to a write lock
        # fails at once with SQLITE_BUSY; a writer's BEGIN IMMEDIATE waits for the lock instead (busy_timeout).
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN itself
    cursor = connection.cursor()
    # WAL lets readers (the web app, analysts) work while the crawler writes; FULL sync keeps commits durable.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


SCHEMA_LOCK = 0x63636863  # "cchc": serialises schema set-up between processes on PostgreSQL


def open_database(url: str, *, writer: bool = False) -> Engine:
    """An engine with the evidence schema in place (created if missing)."""
    engine = create_engine(url, writer=writer)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        SQLModel.metadata.create_all(connection)
        _install_append_only_guards(connection)
    return engine


def _install_append_only_guards(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                connection.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'evidence is append-only: {action} on {table} refused'); END"
                )
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION cchc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'evidence is append-only: %% on %% refused', TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY_TABLES:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)",
                (f"{table}_append_only", table),
            ).first()
            if not exists:
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION cchc_append_only()"
                )
