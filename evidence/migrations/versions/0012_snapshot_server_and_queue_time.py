"""A snapshot's server time and its wait for the host's turn, recorded apart from the whole visit's time.

`elapsed_ms` covered robots.txt, the wait for the host's turn and retries: 1.8 to 10.5 s were recorded for
answers that took 5 to 90 ms. Existing snapshots are append-only evidence and keep NULL here; readers
re-derive a bound from the stored timings of the snapshots around them (probes/_timing.py).

Revision ID: 0012
Revises: 0001
Created: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (no table rebuild): the append-only triggers stay as they are.
    op.add_column("snapshot", sa.Column("response_ms", sa.Integer(), nullable=True))
    op.add_column("snapshot", sa.Column("queue_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Evidence stores are only ever upgraded: a downgrade would drop what was kept.
    raise NotImplementedError("evidence stores are not downgraded")
