"""The daemon's own records, in the evidence database beside the ledger: the lease that keeps one daemon
scheduling, each job run, and each fire time that passed without a run.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from evidence.models import utc_column


class DaemonLease(SQLModel, table=True):
    """Who may schedule: one row per lease name, renewed by its holder's heartbeat until it expires."""

    __tablename__ = "daemon_lease"

    name: str = Field(primary_key=True)
    holder: str  # host:pid:token
    acquired_at: datetime = Field(sa_column=utc_column())
    heartbeat_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())


class JobRun(SQLModel, table=True):
    """One execution of a scheduled job: when it was due, how it ended, which crawl run it made."""

    __tablename__ = "job_run"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    scheduled_for: datetime = Field(sa_column=utc_column(index=True))
    started_at: datetime = Field(sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    status: str = "running"  # running | ok | failed | timeout | interrupted
    run_id: int | None = None
    exit_code: int | None = None
    holder: str = ""
    detail: str = ""


class MissedRun(SQLModel, table=True):
    """A fire time that passed without a run: the daemon was down, or the job was still running."""

    __tablename__ = "missed_run"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    scheduled_for: datetime = Field(sa_column=utc_column(index=True))
    detected_at: datetime = Field(sa_column=utc_column())
    reason: str
    action: str  # "run once now (within the grace time)" | "skipped (beyond the grace time)" | …
