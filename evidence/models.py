"""The evidence schema (SQLModel, on SQLite and PostgreSQL): runs, snapshots and their blobs, the event chain,
checkpoints, observations and parse failures, with the indexes analysts need (unit, probe, period, time).

Everything but a run's row is append-only: the database refuses UPDATE, DELETE and TRUNCATE on it. A run's row
changes when the run ends; the events `run` and `run-end` hold what it said at each moment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: evidence times must be timezone-aware")
        return (
            value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(nullable: bool = False, index: bool = False) -> Any:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def json_column(nullable: bool = False) -> Any:
    return sa.Column(sa.JSON(), nullable=nullable)


class Run(SQLModel, table=True):
    """One pass of probes: scheduled, manual, surprise or demo."""

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(index=True)  # schedule | manual | surprise | calendar | demo | test
    surprise: bool = False
    probes: list[str] = Field(default_factory=list, sa_column=json_column())
    units: list[str] = Field(default_factory=list, sa_column=json_column())
    started_at: datetime = Field(sa_column=utc_column(index=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    status: str = Field(default="running", index=True)  # running | completed | interrupted | failed
    hostname: str = ""
    pid: int = 0
    counts: dict[str, int] = Field(default_factory=dict, sa_column=json_column())
    note: str = ""


class Blob(SQLModel, table=True):
    """Content-addressed bytes: the SHA-256 of the raw bytes names them; stored once."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    stored_size: int
    created_at: datetime = Field(sa_column=utc_column())


class Snapshot(SQLModel, table=True):
    """One stored capture and its place in the ledger (hash chain)."""

    __table_args__ = (
        sa.Index("ix_snapshot_unit_probe_time", "unit", "probe", "fetched_at"),
        sa.Index("ix_snapshot_target_time", "target_key", "fetched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.Integer, nullable=False, unique=True))
    run_id: int = Field(foreign_key="run.id", index=True)
    probe: str = Field(index=True)
    unit: str | None = Field(default=None, index=True)
    target_key: str
    label: str = ""
    render: str  # http | browser
    method: str
    url: str
    final_url: str
    request_headers: list[list[str]] = Field(default_factory=list, sa_column=json_column())
    outcome: str = Field(index=True)
    valid: bool  # evidence of content (ok), or only of a failure
    status_code: int | None = None
    reason: str = ""
    http_version: str = ""
    response_headers: list[list[str]] = Field(default_factory=list, sa_column=json_column())
    redirects: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    fetched_at: datetime = Field(sa_column=utc_column(index=True))
    elapsed_ms: int = 0  # the whole visit, waits for the host's turn included
    # Since revision 0012: the server's time (request sent → answer read) and the wait for the host's turn.
    response_ms: int | None = None
    queue_ms: int | None = None
    attempts: int = 1
    peer: str | None = None
    tls: dict[str, str] | None = Field(default=None, sa_column=json_column(nullable=True))
    detail: str = ""
    not_modified_of: int | None = None  # a 304 confirmed the content of this earlier snapshot
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64, index=True)


class SnapshotBlob(SQLModel, table=True):
    """A blob of a snapshot, by role: response_body, request_body, dom, screenshot, subresponse."""

    __tablename__ = "snapshot_blob"

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="snapshot.id", index=True)
    role: str
    sha256: str = Field(foreign_key="blob.sha256", index=True, max_length=64)
    url: str | None = None
    info: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())


class StoreIdentity(SQLModel, table=True):
    """The store's id (one row, made with the schema): named in its checkpoints, its journal and the witness."""

    __tablename__ = "store_identity"

    id: str = Field(primary_key=True, max_length=32)  # 128 random bits, hex
    created_at: datetime = Field(sa_column=utc_column())


class Event(SQLModel, table=True):
    """The second hash chain: what else a figure rests on (evidence.ledger).

    kind: run (a run began: its content_hash covers trigger, surprise, probes, units, start, host, pid) |
    run-end (a run ended, or its end was amended: status, finish, counts, note) | parse (a parser read a snapshot:
    the digest of its observations and parse failures, the snapshot's record hash, the parser and its version) |
    flag (a record the writer could not vouch for, found before signing; named by every verify).
    """

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.Integer, nullable=False, unique=True))
    kind: str = Field(index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    snapshot_id: int | None = Field(default=None, foreign_key="snapshot.id", index=True)
    snapshot_hash: str | None = Field(default=None, max_length=64)  # the record hash it was linked to
    flagged_event_seq: int | None = None  # a flag on an event rather than a snapshot
    parser: str = ""
    parser_version: str = ""
    content_hash: str = Field(max_length=64)
    detail: str = ""
    created_at: datetime = Field(sa_column=utc_column())
    by_upgrade: bool = False  # linked by the upgrade to 0013 as found then, not when it happened
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)


class Checkpoint(SQLModel, table=True):
    """A signed statement of both chain heads: after it, rewriting history breaks a signature.

    Format 1 (cchc-watch 0.1) signed the snapshot head only; format 2 adds the store id and the event head."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    seq: int
    head_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column())
    reason: str = "run-end"
    public_key: str  # hex, raw Ed25519
    signature: str  # hex
    format: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    store_id: str | None = Field(default=None, max_length=32)
    event_seq: int | None = None
    event_head: str | None = Field(default=None, max_length=64)


class Observation(SQLModel, table=True):
    """A typed fact a parser read off a snapshot: unit, metric, period, value; re-derivable from the evidence."""

    __table_args__ = (sa.Index("ix_observation_unit_metric_period", "unit", "metric", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="snapshot.id", index=True)
    probe: str = Field(index=True)
    unit: str | None = Field(default=None, index=True)
    metric: str = Field(index=True)
    period: str = Field(index=True)  # 2023-09 | 2023-Q3 | 2023-H1 | 2023 | instant
    value: float | None = None
    text: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    parser: str
    parser_version: str
    derived_at: datetime = Field(sa_column=utc_column())
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # the parse event


class ParseFailure(SQLModel, table=True):
    """A snapshot whose layout its parser did not recognise: a recorded failure, never a zero."""

    __tablename__ = "parse_failure"

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="snapshot.id", index=True)
    probe: str = Field(index=True)
    unit: str | None = Field(default=None, index=True)
    parser: str
    parser_version: str
    reason: str
    created_at: datetime = Field(sa_column=utc_column())
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)  # the parse event


class TimestampToken(SQLModel, table=True):
    """An RFC 3161 token over a checkpoint's signature, from a time-stamping authority: proof, independent of our
    clock, that the signed chain head existed by `gen_time`. Append-only, like the checkpoint it stamps."""

    __tablename__ = "timestamp_token"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    authority: str
    message_sha256: str = Field(max_length=64)  # SHA-256 of the stamped bytes (the signature, ASCII hex)
    reply: bytes = Field(
        sa_column=sa.Column(sa.LargeBinary(), nullable=False)
    )  # the DER TimeStampResp, as sent
    gen_time: datetime = Field(sa_column=utc_column())
    obtained_at: datetime = Field(sa_column=utc_column())


class TimestampAttempt(SQLModel, table=True):
    """A request to an authority that did not give a token (down, refused, a reply that does not verify)."""

    __tablename__ = "timestamp_attempt"

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    authority: str
    attempted_at: datetime = Field(sa_column=utc_column())
    error: str
