"""RFC 3161 timestamp tokens over checkpoints (append-only), and the attempts that got none.

Revision ID: 0019
Revises: 0013_trust
Created: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0013_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timestamp_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_timestamp_attempt_checkpoint_id", "timestamp_attempt", ["checkpoint_id"])

    op.create_table(
        "timestamp_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(), nullable=False),
        sa.Column("message_sha256", sa.String(length=64), nullable=False),
        sa.Column("reply", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("obtained_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_timestamp_token_checkpoint_id", "timestamp_token", ["checkpoint_id"])

    if op.get_context().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER timestamp_token_no_{action.lower()} BEFORE {action} ON timestamp_token "
                f"BEGIN SELECT RAISE(ABORT, 'evidence is append-only: {action} on timestamp_token refused'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER timestamp_token_append_only BEFORE UPDATE OR DELETE ON timestamp_token "
            "FOR EACH ROW EXECUTE FUNCTION cchc_append_only()"
        )
        op.execute(
            "CREATE TRIGGER timestamp_token_no_truncate BEFORE TRUNCATE ON timestamp_token "
            "FOR EACH STATEMENT EXECUTE FUNCTION cchc_append_only()"
        )


def downgrade() -> None:
    # Evidence stores are only ever upgraded: a downgrade could drop what was kept.
    raise NotImplementedError("evidence stores are not downgraded")
