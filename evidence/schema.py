"""The evidence database's schema under Alembic: a new store is created by the migrations, an older one is
upgraded by `cchc db upgrade`, and every command refuses a store whose revision is behind the code's.

A store made before Alembic (cchc-watch 0.1) has the tables but no `alembic_version`: its schema is the
baseline revision's, so an upgrade stamps it as the baseline first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from evidence.errors import EvidenceError

SCRIPT_LOCATION = "evidence:migrations"
BASELINE = "0001"
# APScheduler's job store creates and keeps its own table in the same database.
OUTSIDE_TABLES = frozenset({"apscheduler_jobs"})
SCHEMA_LOCK = 0x63636863  # "cchc": serialises schema changes between processes on PostgreSQL
UPGRADE_COMMAND = "cchc db upgrade"


class StoreOutdated(EvidenceError):
    """The store's schema is older than this version's: nothing runs on it until it is upgraded."""

    def __init__(self, where: str, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        at = f"revision {current}" if current else "the schema of cchc-watch 0.1 (before migrations)"
        super().__init__(
            f"the evidence store {where} is at {at}; this version needs {head}: run `{UPGRADE_COMMAND}`"
        )


class StoreTooNew(EvidenceError):
    """The store was upgraded by a newer cchc-watch: this one does not know its schema."""

    def __init__(self, where: str, current: str) -> None:
        super().__init__(
            f"the evidence store {where} is at revision {current}, which this version of cchc-watch does not "
            "know (a newer version upgraded it): upgrade cchc-watch"
        )


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """What Alembic compares and migrates: every table but those kept by others."""
    return not (type_ == "table" and name in OUTSIDE_TABLES)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the migrations have no head"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # the stamped revision; None when there is none
    head: str
    empty: bool  # no tables of ours at all: a new store
    legacy: bool  # our tables without a stamp: made by cchc-watch 0.1

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_state(connection: Connection) -> SchemaState:
    current = MigrationContext.configure(connection).get_current_revision()
    tables = set(inspect(connection).get_table_names()) - OUTSIDE_TABLES - {"alembic_version"}
    return SchemaState(
        current,
        head_revision(),
        empty=not tables and current is None,
        legacy=bool(tables) and current is None,
    )


def where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def ensure_current(engine: Engine) -> None:
    """Create a new store's schema; refuse a store that is behind (or ahead of) this version."""
    with engine.connect() as connection:
        state = schema_state(connection)
    if state.up_to_date:
        return
    if state.empty:
        _migrate(engine, create_only=True)
        return
    _refuse(engine, state)


def _refuse(engine: Engine, state: SchemaState) -> None:
    if state.current is not None and state.current not in known_revisions():
        raise StoreTooNew(where(engine), state.current)
    raise StoreOutdated(where(engine), state.current, state.head)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the store to the head revision; return (revision before, revision after)."""
    return _migrate(engine, create_only=False)


def _migrate(engine: Engine, *, create_only: bool) -> tuple[str | None, str]:
    # One transaction under a lock: two processes opening a new store never both create it.
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        state = schema_state(connection)  # again, under the lock: another process may have gone first
        if state.up_to_date:
            return state.current, state.head
        if create_only and not state.empty:
            _refuse(engine, state)
        if state.current is not None and state.current not in known_revisions():
            raise StoreTooNew(where(engine), state.current)
        config = alembic_config()
        config.attributes["connection"] = connection
        if state.legacy:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        return (BASELINE if state.legacy else state.current), state.head
