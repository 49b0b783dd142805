"""Alembic's environment for the evidence database: the models' metadata, and the connection it is given.

`evidence.schema` runs the migrations on a connection of its own (`config.attributes["connection"]`); the
`alembic` command line (alembic.ini, for writing new revisions) connects to `$CCHC_DATABASE_URL`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import evidence.models
import evidence.operations
from evidence.db import create_engine
from evidence.models import UTCDateTime
from evidence.schema import include_name

_MODELS = (evidence.models, evidence.operations)  # every table of the evidence database is declared there


def render_item(type_: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """Revisions name plain SQLAlchemy types, so that they never depend on the models' code as it changes."""
    if type_ == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(item, AutoString):
        return f"sa.String(length={item.length})" if item.length else "sa.String()"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    url = os.environ.get("CCHC_DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set CCHC_DATABASE_URL to the evidence database to compare or upgrade")
    engine = create_engine(url, writer=True)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
