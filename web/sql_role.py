"""The SQL page's own PostgreSQL role: a login that can only read the evidence schema (`cchc db init-readonly`).

The console (web/sql.py) connects as it by default and refuses a role that can do more than read.
"""

from __future__ import annotations

from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg import sql as pgsql
from sqlalchemy.engine import Engine

from web.sql import SqlError


def grant_read_only(engine: Engine, role: str, password: str | None = None) -> str:
    """Make `role` a login role that can only read the evidence schema (SELECT on its tables, now and later),
    and return the schema's name. Run with the evidence database's own credentials (`cchc db init-readonly`);
    running it again changes only what is missing.

    It refuses a role that is a superuser or is the one running it: demoting it would lock the evidence's
    owner out."""
    if engine.dialect.name != "postgresql":
        raise SqlError(
            "cchc db init-readonly is for PostgreSQL: on SQLite the SQL page opens the file read-only"
        )
    try:
        return _grant_read_only(engine, role, password)
    except sa.exc.SQLAlchemyError as exc:
        words = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SqlError(f"Không kết nối được cơ sở dữ liệu: {words}") from exc
    except psycopg.Error as exc:
        raise SqlError(
            f"cannot make the SQL page's role {role!r}: {exc.diag.message_primary or exc}"
        ) from exc


def _grant_read_only(engine: Engine, role: str, password: str | None) -> str:
    quoted = pgsql.Identifier(role)
    with engine.connect() as connection:
        driver = cast("psycopg.Connection[tuple[Any, ...]]", connection.connection.driver_connection)
        where = driver.execute("SELECT current_user, current_schema(), current_database()").fetchone()
        assert where is not None
        me, schema, database = (str(v) for v in where)
        found = driver.execute(_PG_ROLE_STATE, [role]).fetchone()
        if role == me or (found is not None and found[0]):
            what = "the evidence database's own role" if role == me else "a superuser"
            raise SqlError(f"web.sql_role {role!r} is {what}: choose a role of its own for the SQL page")
        statements: list[pgsql.Composed] = []
        if found is None:
            # Two processes may create it at once (parallel test runs do): the later one's duplicate is fine.
            statements += [
                pgsql.SQL("DO $$ BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(quoted),
                pgsql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(quoted),
            ]  # fmt: skip
        if found is None or not found[1]:  # a role that existed is made a plain reader once, not at every run
            statements.append(
                pgsql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                          "NOINHERIT CONNECTION LIMIT 16").format(quoted)
            )  # fmt: skip
        if password:
            statements.append(pgsql.SQL("ALTER ROLE {} PASSWORD {}").format(quoted, pgsql.Literal(password)))
        on_schema = pgsql.Identifier(schema)
        statements += [
            pgsql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(pgsql.Identifier(database), quoted),
            pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(on_schema, quoted),
            pgsql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(on_schema, quoted),
            pgsql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(on_schema, quoted),
        ]  # fmt: skip
        has_connect = found is not None and found[2]
        for statement in statements:
            if has_connect and "CONNECT ON DATABASE" in statement.as_string(driver):
                continue  # GRANT on the shared database row again would race with another process's
            driver.execute(statement)
        driver.commit()
    return schema


# rolsuper; already a plain reader (no powers, NOINHERIT, connection limit); may connect to this database.
_PG_ROLE_STATE = (
    "SELECT rolsuper, NOT (rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR rolinherit) "
    "AND rolcanlogin AND rolconnlimit = 16, has_database_privilege(oid, current_database(), 'CONNECT') "
    "FROM pg_roles WHERE rolname = %s"
)
