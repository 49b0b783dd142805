"""`cchc status`: who holds the scheduling lease, when each job runs next, how its runs ended, which fire
times were missed, and how big the evidence has grown. Read-only."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cchc.settings import Settings
from cchc.timeutil import VN_TZ
from evidence.lease import LEASE_NAME
from evidence.models import Run, Snapshot
from evidence.operations import DaemonLease, JobRun, MissedRun
from evidence.size import evidence_size
from evidence.timestamps import pending_timestamps


@dataclass
class Status:
    """What `cchc status` shows, as values: timestamps are aware datetimes, counts are numbers, absent is None.
    The table and the JSON are two renderings of it (`rows_for_display`, `as_json`)."""

    daemon: dict[str, Any]
    jobs: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    visits: list[dict[str, Any]] = field(default_factory=list)
    timestamps: list[dict[str, Any]] = field(default_factory=list)  # per authority: tokens still pending
    # Per probe and unit: found in the portals' rows, and how (the latest run of each probe)
    matches: list[dict[str, Any]] = field(default_factory=list)
    not_available: list[dict[str, Any]] = field(default_factory=list)  # figures N/A or missing, and why


RUNNING, STOPPED, EXPIRED, NEVER = "running", "stopped", "expired", "never started"


def _daemon(lease: DaemonLease | None, settings: Settings, now: datetime) -> dict[str, Any]:
    """Whether a daemon is scheduling: its lease is fresh (running), was released at its stop (stopped), or
    ran out without a release (expired: the daemon was killed, hung or cut off)."""
    if lease is None:
        return {"state": NEVER, "holder": None, "acquired_at": None, "heartbeat_at": None,
                "heartbeat_age_s": None, "expires_at": None}  # fmt: skip
    if lease.expires_at > now:
        state = RUNNING
    elif lease.expires_at <= lease.heartbeat_at:
        state = STOPPED  # release() ends the lease at its last heartbeat
    else:
        state = EXPIRED
    return {
        "state": state,
        "holder": lease.holder,
        "acquired_at": lease.acquired_at,
        "heartbeat_at": lease.heartbeat_at,
        "heartbeat_age_s": round((now - lease.heartbeat_at).total_seconds(), 1),
        "expires_at": lease.expires_at,
    }


def gather(engine: Engine, settings: Settings, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        daemon = _daemon(session.get(DaemonLease, LEASE_NAME), settings, now)
        # Fire times are only promises while a daemon schedules them.
        next_runs = _next_fire_times(engine) if daemon["state"] == RUNNING else {}
        last_job_runs: dict[str, JobRun] = {}
        last_finished_job_runs: dict[str, JobRun] = {}
        for row in session.exec(select(JobRun).order_by(col(JobRun.started_at).desc())).all():
            last_job_runs.setdefault(row.job_id, row)
            if row.status != "running":
                last_finished_job_runs.setdefault(row.job_id, row)
        job_ids = sorted(
            set(_next_fire_times(engine))
            | set(last_job_runs)
            | {f"probe:{s.probe}" for s in settings.schedule}
        )
        jobs = []
        for job_id in job_ids:
            last = last_job_runs.get(job_id)
            jobs.append(
                {
                    "job": job_id,
                    "next": next_runs.get(job_id),
                    "last_started": last.started_at if last else None,
                    "last_status": last.status if last else None,
                    "previous_status": _previous(last, last_finished_job_runs.get(job_id)),
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
                    "trigger": run.trigger if run else None,
                    "started": run.started_at if run else None,
                    "status": run.status if run else None,
                    "previous_status": _previous(run, finished),
                    "outcomes": _probe_outcomes(session, run.id, name) if run and run.id is not None else {},
                }
            )
        missed = [
            {
                "job": m.job_id,
                "due": m.scheduled_for,
                "detected": m.detected_at,
                "reason": m.reason,
                "action": m.action,
            }
            for m in session.exec(
                select(MissedRun).order_by(col(MissedRun.scheduled_for).desc()).limit(30)
            ).all()
        ]
        size = evidence_size(session)
        done_visits = {r.job_id for r in session.exec(select(JobRun).where(JobRun.status == "ok")).all()}
    evidence = asdict(size)  # snapshots, blobs, raw_bytes, stored_bytes
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
        visits.append({"unit": v.unit, "visit": v.date, "summary_due": due, "state": progress})
    from cli.findings import not_available, unit_matches

    inspected = settings.units_in_inspection()
    ours = {u.id for u in inspected} | {"city"}
    matches = [m.as_dict() for m in unit_matches(engine) if m.unit in ours]
    return Status(
        daemon,
        jobs,
        probes,
        missed,
        evidence,
        visits,
        _pending_timestamps(engine, settings),
        matches,
        not_available(engine, settings, inspected),
    )


def _previous(last: JobRun | Run | None, finished: JobRun | Run | None) -> str | None:
    """While a run is going, how the one before it ended (an operator wants both)."""
    if last is None or last.status != "running" or finished is None:
        return None
    return finished.status


def _probe_outcomes(session: Session, run_id: int, probe: str) -> dict[str, int]:
    """This probe's own captures in the run, by outcome (a run of several probes counts them all together)."""
    rows = session.exec(
        select(Snapshot.outcome, func.count())
        .where(Snapshot.run_id == run_id, Snapshot.probe == probe)
        .group_by(Snapshot.outcome)
    ).all()
    return {str(outcome): int(count) for outcome, count in sorted(rows)}


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
                "oldest": min(p.checkpoint_created_at for p in mine),
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
    """Timestamps in ISO 8601 with the inspection's offset (+07:00), dates as YYYY-MM-DD, numbers as numbers."""

    def encode(value: object) -> str:
        if isinstance(value, datetime):
            return value.astimezone(VN_TZ).isoformat(timespec="seconds")
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    return json.dumps(status.__dict__, ensure_ascii=False, indent=1, default=encode)


def shown(value: object) -> str:
    """A value as the tables show it: local time, day/month/year, "—" for nothing, outcome counts in a line."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
    return str(value)


def display_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows for a table: a run still going says how the one before it ended, in its status cell."""
    shaped = []
    for row in rows:
        row = dict(row)
        previous = row.pop("previous_status", None)
        for key in ("last_status", "status"):
            if previous and row.get(key) == "running":
                row[key] = f"running (previous: {previous})"
        if "last_started" in row and row["last_started"] is None:
            row["last_started"] = "never"
        shaped.append({k: shown(v) for k, v in row.items()})
    return shaped


def daemon_line(daemon: dict[str, Any]) -> str:
    holder, state = daemon["holder"], daemon["state"]
    if state == NEVER:
        return "daemon: never started on this database (nobody has held the lease)"
    heartbeat = f"last heartbeat {shown(daemon['heartbeat_at'])} ({daemon['heartbeat_age_s']:.0f} s ago)"
    if state == RUNNING:
        return f"lease: held by {holder}, {heartbeat} (expires {shown(daemon['expires_at'])}): the daemon is running"
    if state == STOPPED:
        return f"daemon: stopped (released the lease at {shown(daemon['expires_at'])}; was {holder}); nothing is scheduled"
    return (f"daemon: not running: {holder} stopped renewing the lease ({heartbeat}; expired "
            f"{shown(daemon['expires_at'])}: killed, hung or cut off?); nothing is scheduled")  # fmt: skip
