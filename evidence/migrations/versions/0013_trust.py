"""Trust: the store's id, the event chain (runs, parses, flags) linked to the snapshots, checkpoints of both
heads, and append-only guards on every table but run (TRUNCATE included on PostgreSQL).

Existing runs, observations and parse failures are linked into the event chain as the upgrade finds them
(`by_upgrade` events, in the order they happened). The upgrade vouches only that they were so at upgrade time:
an edit made before it is not seen by the chain, only by `cchc evidence verify --deep` (docs/evidence.md).

Revision ID: 0013_trust
Revises: 0012
Created: 2026-12-06
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from evidence.ledger import (
    GENESIS,
    PARSED,
    RUN_BEGUN,
    RUN_ENDED,
    event_hash,
    parse_digest,
    run_begin_digest,
    run_end_digest,
)
from evidence.models import UTCDateTime

revision: str = "0013_trust"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE_NOTE = "linked by the upgrade to 0013 as found then"


def upgrade() -> None:
    op.create_table(
        "store_identity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_hash", sa.String(length=64), nullable=True),
        sa.Column("flagged_event_seq", sa.Integer(), nullable=True),
        sa.Column("parser", sa.String(), nullable=False),
        sa.Column("parser_version", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_upgrade", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_event_kind", "event", ["kind"])
    op.create_index("ix_event_run_id", "event", ["run_id"])
    op.create_index("ix_event_snapshot_id", "event", ["snapshot_id"])

    # Columns only are added (SQLite's ALTER TABLE ADD COLUMN): the table and its triggers stay as they are.
    with op.batch_alter_table("checkpoint") as batch_op:
        batch_op.add_column(sa.Column("format", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("store_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("event_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("event_head", sa.String(length=64), nullable=True))
    for table in ("observation", "parse_failure"):
        with op.batch_alter_table(table) as batch_op:  # on SQLite, the foreign key makes it copy the table
            batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
            batch_op.create_index(f"ix_{table}_event_id", ["event_id"], unique=False)
            batch_op.create_foreign_key(f"fk_{table}_event_id", "event", ["event_id"], ["id"])

    op.get_bind().execute(
        sa.text("INSERT INTO store_identity (id, created_at) VALUES (:id, :at)").bindparams(
            sa.bindparam("at", type_=UTCDateTime())
        ),
        {"id": secrets.token_hex(16), "at": datetime.now(UTC)},
    )
    _link_existing_rows()
    _append_only_guards()


# --- the rows an earlier version wrote, linked into the event chain -------------------------------------------

RUN = sa.table(
    "run",
    *(sa.column(name) for name in ("id", "trigger", "status", "hostname", "pid", "note")),
    sa.column("surprise", sa.Boolean()),
    sa.column("probes", sa.JSON()),
    sa.column("units", sa.JSON()),
    sa.column("counts", sa.JSON()),
    sa.column("started_at", UTCDateTime()),
    sa.column("finished_at", UTCDateTime()),
)
OBSERVATION = sa.table(
    "observation",
    *(sa.column(n) for n in ("id", "snapshot_id", "probe", "unit", "metric", "period", "text", "parser")),
    sa.column("parser_version"),
    sa.column("value", sa.Float()),
    sa.column("attributes", sa.JSON()),
    sa.column("derived_at", UTCDateTime()),
    sa.column("event_id", sa.Integer()),
)
PARSE_FAILURE = sa.table(
    "parse_failure",
    *(sa.column(n) for n in ("id", "snapshot_id", "probe", "unit", "parser", "parser_version", "reason")),
    sa.column("created_at", UTCDateTime()),
    sa.column("event_id", sa.Integer()),
)
EVENT = sa.table(
    "event",
    *(
        sa.column(n)
        for n in ("id", "seq", "kind", "run_id", "snapshot_id", "snapshot_hash", "flagged_event_seq")
    ),
    *(
        sa.column(n)
        for n in ("parser", "parser_version", "content_hash", "detail", "prev_hash", "record_hash")
    ),
    sa.column("created_at", UTCDateTime()),
    sa.column("by_upgrade", sa.Boolean()),
)


def _link_existing_rows() -> None:
    """One event per run begun, per run ended and per parse, in the order they happened."""
    bind = op.get_bind()
    hashes: dict[int, str] = {}
    for snapshot_id, record in bind.execute(sa.text("SELECT id, record_hash FROM snapshot")):
        hashes[snapshot_id] = record
    facts: list[tuple[datetime, int, int, dict[str, Any]]] = []  # (when, order, tie, event without its chain)
    for run in bind.execute(sa.select(RUN).order_by(RUN.c.id)).mappings():
        facts.append(
            (run["started_at"], 0, run["id"], _event(RUN_BEGUN, run_begin_digest(run), run_id=run["id"]))
        )
        if run["status"] != "running":
            ended = run["finished_at"] or run["started_at"]
            facts.append((ended, 2, run["id"], _event(RUN_ENDED, run_end_digest(run), run_id=run["id"])))
    parses: dict[tuple[int, str, str, datetime], tuple[list[Any], list[Any]]] = defaultdict(lambda: ([], []))
    for row in bind.execute(sa.select(OBSERVATION).order_by(OBSERVATION.c.id)).mappings():
        parses[(row["snapshot_id"], row["probe"], row["parser_version"], row["derived_at"])][0].append(row)
    for row in bind.execute(sa.select(PARSE_FAILURE).order_by(PARSE_FAILURE.c.id)).mappings():
        parses[(row["snapshot_id"], row["probe"], row["parser_version"], row["created_at"])][1].append(row)
    for (snapshot_id, probe, version, when), (observations, failures) in parses.items():
        event = _event(PARSED, parse_digest(observations, failures), snapshot_id=snapshot_id,
                       snapshot_hash=hashes.get(snapshot_id), parser=probe, parser_version=version)  # fmt: skip
        event["_rows"] = ([r["id"] for r in observations], [r["id"] for r in failures])
        facts.append((when, 1, snapshot_id, event))
    facts.sort(key=lambda fact: fact[:3])

    previous = GENESIS
    links: tuple[list[dict[str, int]], list[dict[str, int]]] = ([], [])
    events = []
    for seq, (when, _, _, event) in enumerate(facts, start=1):
        rows = event.pop("_rows", ([], []))
        event.update(id=seq, seq=seq, created_at=when, prev_hash=previous)
        event["record_hash"] = previous = event_hash(event)
        events.append(event)
        for linked, ids in zip(links, rows, strict=True):
            linked.extend({"row": i, "event": seq} for i in ids)
    if not events:
        return
    bind.execute(sa.insert(EVENT), events)
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))"
        )
    for table, linked in zip((OBSERVATION, PARSE_FAILURE), links, strict=True):
        if linked:
            statement = (
                sa.update(table)
                .where(table.c.id == sa.bindparam("row"))
                .values(event_id=sa.bindparam("event"))
            )
            bind.execute(statement, linked)


def _event(kind: str, content_hash: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"kind": kind, "run_id": None, "snapshot_id": None, "snapshot_hash": None,
                             "flagged_event_seq": None, "parser": "", "parser_version": "",
                             "content_hash": content_hash, "detail": UPGRADE_NOTE, "by_upgrade": True}  # fmt: skip
    event.update(fields)
    return event


# --- append-only guards ---------------------------------------------------------------------------------------

# Tables 0001 guarded against UPDATE and DELETE, and those this revision guards. A run's row is updated when
# the run ends (its events keep each state), so only its deletion is refused.
GUARDED_BEFORE = ("snapshot", "snapshot_blob", "checkpoint", "blob")
GUARDED_NOW = ("event", "store_identity", "observation", "parse_failure")


def _append_only_guards() -> None:
    if op.get_context().dialect.name == "sqlite":
        # SQLite has no TRUNCATE: its DELETE without WHERE fires the DELETE triggers like any other.
        for table in GUARDED_NOW:
            for action in ("UPDATE", "DELETE"):
                _sqlite_guard(table, action)
        _sqlite_guard("run", "DELETE")
        return
    for table in GUARDED_NOW:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cchc_append_only()"
        )
    op.execute(
        "CREATE TRIGGER run_append_only BEFORE DELETE ON run FOR EACH ROW EXECUTE FUNCTION cchc_append_only()"
    )
    # TRUNCATE fires no row trigger: a statement-level one refuses it.
    for table in (*GUARDED_BEFORE, *GUARDED_NOW, "run"):
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cchc_append_only()"
        )


def _sqlite_guard(table: str, action: str) -> None:
    op.execute(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'evidence is append-only: {action} on {table} refused'); END"
    )


def downgrade() -> None:
    # Evidence stores are only ever upgraded: a downgrade could drop what was kept.
    raise NotImplementedError("evidence stores are not downgraded")
