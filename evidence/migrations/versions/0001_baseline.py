"""Baseline: the schema of cchc-watch 0.1, the last version made without migrations, triggers included.

Revision ID: 0001
Revises: (none)
Created: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "daemon_lease",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_run_job_id", "job_run", ["job_id"])
    op.create_index("ix_job_run_scheduled_for", "job_run", ["scheduled_for"])

    op.create_table(
        "missed_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_missed_run_job_id", "missed_run", ["job_id"])
    op.create_index("ix_missed_run_scheduled_for", "missed_run", ["scheduled_for"])

    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("surprise", sa.Boolean(), nullable=False),
        sa.Column("probes", sa.JSON(), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_started_at", "run", ["started_at"])
    op.create_index("ix_run_status", "run", ["status"])
    op.create_index("ix_run_trigger", "run", ["trigger"])

    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("public_key", sa.String(), nullable=False),
        sa.Column("signature", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("probe", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("target_key", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("render", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("final_url", sa.String(), nullable=False),
        sa.Column("request_headers", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("http_version", sa.String(), nullable=False),
        sa.Column("response_headers", sa.JSON(), nullable=False),
        sa.Column("redirects", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("peer", sa.String(), nullable=True),
        sa.Column("tls", sa.JSON(), nullable=True),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("not_modified_of", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_snapshot_fetched_at", "snapshot", ["fetched_at"])
    op.create_index("ix_snapshot_outcome", "snapshot", ["outcome"])
    op.create_index("ix_snapshot_probe", "snapshot", ["probe"])
    op.create_index("ix_snapshot_record_hash", "snapshot", ["record_hash"])
    op.create_index("ix_snapshot_run_id", "snapshot", ["run_id"])
    op.create_index("ix_snapshot_target_time", "snapshot", ["target_key", "fetched_at"])
    op.create_index("ix_snapshot_unit", "snapshot", ["unit"])
    op.create_index("ix_snapshot_unit_probe_time", "snapshot", ["unit", "probe", "fetched_at"])

    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("probe", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sa.String(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("parser", sa.String(), nullable=False),
        sa.Column("parser_version", sa.String(), nullable=False),
        sa.Column("derived_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshot.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_observation_metric", "observation", ["metric"])
    op.create_index("ix_observation_period", "observation", ["period"])
    op.create_index("ix_observation_probe", "observation", ["probe"])
    op.create_index("ix_observation_snapshot_id", "observation", ["snapshot_id"])
    op.create_index("ix_observation_unit", "observation", ["unit"])
    op.create_index("ix_observation_unit_metric_period", "observation", ["unit", "metric", "period"])

    op.create_table(
        "parse_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("probe", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("parser", sa.String(), nullable=False),
        sa.Column("parser_version", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshot.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_parse_failure_probe", "parse_failure", ["probe"])
    op.create_index("ix_parse_failure_snapshot_id", "parse_failure", ["snapshot_id"])
    op.create_index("ix_parse_failure_unit", "parse_failure", ["unit"])

    op.create_table(
        "snapshot_blob",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["blob.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshot.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_snapshot_blob_sha256", "snapshot_blob", ["sha256"])
    op.create_index("ix_snapshot_blob_snapshot_id", "snapshot_blob", ["snapshot_id"])

    _append_only_guards()


APPEND_ONLY_TABLES = ("snapshot", "snapshot_blob", "checkpoint", "blob")


def _append_only_guards() -> None:
    """The database refuses UPDATE and DELETE on the ledger's tables (as cchc-watch 0.1 installed them)."""
    if op.get_context().dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'evidence is append-only: {action} on {table} refused'); END"
                )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION cchc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'evidence is append-only: % on % refused', TG_OP, TG_TABLE_NAME; END $$"
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cchc_append_only()"
        )


def downgrade() -> None:
    # Evidence stores are only ever upgraded: a downgrade could drop what was kept.
    raise NotImplementedError("evidence stores are not downgraded")
