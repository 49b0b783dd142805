"""`cchc status`: who holds the scheduling lease, when each job runs next, how its runs ended, which fire
times were missed, and how big the evidence has grown. Read-only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cchc.settings import Settings
from cchc.timeutil import VN_TZ
from evidence.lease import LEASE_NAME
from evidence.models import Blob, Run, Snapshot
from evidence.operations import DaemonLease, JobRun, MissedRun
from evidence.timestamps import pending_timestamps


@dataclass
class Status:
    lease: dict[str, Any] | None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    visits: list[dict[str, Any]] = field(default_factory=list)
    timestamps: list[dict[str, Any]] = field(default_factory=list)  # per authority: tokens still pending
    # Per probe and unit: found in the portals' rows, and how (the latest run of each probe)
    matches: list[dict[str, Any]] = field(default_factory=list)
    not_available: list[dict[str, Any]] = field(default_factory=list)  # figures N/A or missing, and why


def _local(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


def _with_previous(last: JobRun | Run | None, finished: JobRun | Run | None) -> str:
    """The newest status; while a run is going, also how the one before it ended (an operator wants both)."""
    if last is None:
        return "—"
    if last.status == "running" and finished is not None:
        return f"running (previous: {finished.status})"
    return last.status


def gather(engine: Engine, settings: Settings, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        lease = session.get(DaemonLease, LEASE_NAME)
        state = None
        if lease is not None:
            alive = lease.expires_at > now
            state = {
                "holder": lease.holder,
                "acquired_at": _local(lease.acquired_at),
                "heartbeat": f"{(now - lease.heartbeat_at).total_seconds():.0f} s ago",
                "state": "held" if alive else "expired (no daemon is scheduling)",
                "expires": _local(lease.expires_at),
            }
        next_runs = _next_fire_times(engine)
        last_job_runs: dict[str, JobRun] = {}
        last_finished_job_runs: dict[str, JobRun] = {}
        for row in session.exec(select(JobRun).order_by(col(JobRun.started_at).desc())).all():
            last_job_runs.setdefault(row.job_id, row)
            if row.status != "running":
                last_finished_job_runs.setdefault(row.job_id, row)
        job_ids = sorted(
            set(next_runs) | set(last_job_runs) | {f"probe:{s.probe}" for s in settings.schedule}
        )
        jobs = []
        for job_id in job_ids:
            last = last_job_runs.get(job_id)
            jobs.append(
                {
                    "job": job_id,
                    "next": _local(next_runs.get(job_id)),
                    "last_started": _local(last.started_at) if last else "never",
                    "last_status": _with_previous(last, last_finished_job_runs.get(job_id)),
                    "last_run_id": last.run_id if last else None,
                    "last_detail": last.detail if last else "",
                }
            )
        runs = session.exec(select(Run).order_by(col(Run.started_at).desc()).limit(500)).all()
        probes = []
        for name in sorted({p for r in runs for p in r.probes} | {s.probe for s in settings.schedule}):
            run = next((r for r in runs if name in r.probes), None)
            finished = next((r for r in runs if name in r.probes and r.status != "running"), None)
            probes.append(
                {
                    "probe": name,
                    "last_run": run.id if run else None,
                    "trigger": run.trigger if run else "—",
                    "started": _local(run.started_at) if run else "never",
                    "status": _with_previous(run, finished),
                    "outcomes": ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items())) if run else "",
                }
            )
        missed = [
            {
                "job": m.job_id,
                "due": _local(m.scheduled_for),
                "detected": _local(m.detected_at),
                "reason": m.reason,
                "action": m.action,
            }
            for m in session.exec(
                select(MissedRun).order_by(col(MissedRun.scheduled_for).desc()).limit(30)
            ).all()
        ]
        snapshots = session.exec(select(func.count()).select_from(Snapshot)).one()
        blobs, raw, stored = session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(Blob.size), 0),
                func.coalesce(func.sum(Blob.stored_size), 0),
            )
        ).one()
        done_visits = {r.job_id for r in session.exec(select(JobRun).where(JobRun.status == "ok")).all()}
    evidence = {"snapshots": snapshots, "blobs": blobs, "raw_bytes": int(raw), "stored_bytes": int(stored)}
    database = settings.storage.database_url
    if database.startswith("sqlite:///"):
        path = Path(database.removeprefix("sqlite:///"))
        evidence["database_bytes"] = sum(
            p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file()
        )
    days = timedelta(days=settings.inspection.report_days_before)
    today = now.astimezone(VN_TZ).date()
    visits = []
    for v in sorted(settings.visit, key=lambda v: v.date):
        due = v.date - days
        prepared = f"visit:{v.unit}:{v.date.isoformat()}" in done_visits
        progress = (
            "prepared"
            if prepared
            else ("scheduled" if due >= today else "past, not prepared by this deployment")
        )
        visits.append(
            {
                "unit": v.unit,
                "visit": v.date.strftime("%d/%m/%Y"),
                "summary_due": due.strftime("%d/%m/%Y"),
                "state": progress,
            }
        )
    from cli.findings import not_available, unit_matches

    inspected = settings.units_in_inspection()
    ours = {u.id for u in inspected} | {"city"}
    matches = [m.as_dict() for m in unit_matches(engine) if m.unit in ours]
    return Status(
        state,
        jobs,
        probes,
        missed,
        evidence,
        visits,
        _pending_timestamps(engine, settings),
        matches,
        not_available(engine, settings, inspected),
    )


def _pending_timestamps(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    """Per authority, the checkpoints still waiting for a token (an authority that is down delays, never blocks)."""
    pending = pending_timestamps(engine, [a.name for a in settings.timestamp.authority])
    rows = []
    for authority in settings.timestamp.authority:
        mine = [p for p in pending if p.authority == authority.name]
        if not mine:
            continue
        rows.append(
            {
                "authority": authority.name,
                "pending": len(mine),
                "oldest": _local(min(p.checkpoint_created_at for p in mine)),
                "attempts": sum(p.attempts for p in mine),
                "last_error": next((p.last_error for p in reversed(mine) if p.last_error), ""),
            }
        )
    return rows


def _next_fire_times(engine: Engine) -> dict[str, datetime | None]:
    """Next fire times from APScheduler's job store (epoch seconds), read without starting a scheduler."""
    if not sa.inspect(engine).has_table("apscheduler_jobs"):
        return {}
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    return {str(i): (datetime.fromtimestamp(float(t), UTC) if t is not None else None) for i, t in rows}


def as_json(status: Status) -> str:
    return json.dumps(status.__dict__, ensure_ascii=False, indent=1, default=str)
