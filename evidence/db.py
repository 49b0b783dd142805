"""Database engines for the evidence: SQLite (WAL, foreign keys, full sync) or PostgreSQL, and the schema.

`open_database()` gives an engine on a store whose schema is current (evidence.schema, Alembic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from evidence.schema import ensure_current


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


def open_database(url: str, *, writer: bool = False) -> Engine:
    """An engine on the evidence database: a new one gets the schema; one behind this version is refused
    (StoreOutdated names `cchc db upgrade`)."""
    engine = create_engine(url, writer=writer)
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
