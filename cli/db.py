"""`cchc db …`: the evidence database's schema: where it stands, and the upgrade that brings it to this version."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import current_settings, out
from evidence.db import create_engine
from evidence.schema import schema_state, upgrade, where

db_app = typer.Typer(help="The evidence database's schema (migrations).", no_args_is_help=True)


@db_app.command("status")
def db_status() -> None:
    """The store's schema revision and the one this version needs."""
    engine = create_engine(current_settings().storage.database_url)
    try:
        with engine.connect() as connection:
            state = schema_state(connection)
    finally:
        engine.dispose()
    if state.empty:
        verdict = "empty: the first command that opens it creates the schema"
    elif state.legacy:
        verdict = "made before migrations (cchc-watch 0.1): run `cchc db upgrade`"
    elif state.up_to_date:
        verdict = "up to date"
    else:
        verdict = "behind: run `cchc db upgrade`"
    out.print(f"{where(engine)}: revision {state.current or '—'}, this version needs {state.head}: {verdict}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations this store lacks, in one transaction (evidence is kept; nothing is rewritten)."""
    engine = create_engine(current_settings().storage.database_url, writer=True)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        out.print(f"{where(engine)}: already at revision {after}")
    else:
        out.print(f"{where(engine)}: upgraded from {before or 'an empty store'} to revision {after}")


@db_app.command("init-readonly")
def db_init_readonly(
    password: Annotated[
        str | None,
        typer.Option(
            envvar="CCHC_SQL_PASSWORD",
            help="Give the role this password (servers that ask for one).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """PostgreSQL: create the SQL page's own role (web.sql_role), which can only read the evidence.

    The SQL page connects as it by default, and refuses a superuser."""
    from web.sql_role import grant_read_only

    settings = current_settings()
    role = settings.web.sql_role
    engine = create_engine(settings.storage.database_url)
    try:
        schema = grant_read_only(engine, role, password)
    finally:
        engine.dispose()
    out.print(
        f"{where(engine)}: role {role} may read schema {schema} (SELECT only); the SQL page connects as it"
    )
    if settings.web.sql_database_url:
        out.print("note: web.sql_database_url is set, so the SQL page uses that URL instead")
