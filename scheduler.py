"""The scheduled daemon (`cchc run`): probes on their cron schedules and the inspection calendar, for months,
unattended, saying so when a run does not happen.

- APScheduler 3 with its job store in the evidence database, so schedules and missed fire times survive a
  restart. Its defaults are unsafe here and are all set explicitly: misfire grace (scheduler.misfire_grace_s;
  the default of 1 s drops any late run), coalescing on (a backlog runs once, not N times), one instance
  per job (a slow crawl is never doubled).
- A lease in the database: a second daemon refuses to schedule, names the holder, and takes over when the
  holder's lease expires.
- Each job is a crawl in a process of its own, killed at its timeout, so a hung probe blocks nothing else.
- SIGTERM/SIGINT: no new job starts; running crawls get scheduler.shutdown_grace_s to close their run as
  interrupted (each capture is stored whole), then are killed and their runs marked interrupted.
- Fire times that passed without a run (daemon down, previous run still going) are recorded (`missed_run`)
  and shown by `cchc status`.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cchc.alerts import LAYOUT_DRIFT, NO_DATA, RUN_FAILED, RUN_MISSED, SITE_DOWN, SITE_MOVED, Alert, Alerter
from cchc.cron import cron_trigger
from cchc.errors import CchcError
from cchc.settings import Settings
from cchc.timeutil import VN_TZ
from crawler import host_key
from evidence import EvidenceStore
from evidence.lease import Lease, LeaseState, new_holder
from evidence.models import ParseFailure, Run, Snapshot
from evidence.operations import JobRun, MissedRun

log = logging.getLogger("cchc.scheduler")
JOBSTORE_TABLE = "apscheduler_jobs"
TERM_GRACE_AT_TIMEOUT_S = 10.0
MAX_MISSED_LISTED = 1000
DIGEST_JOB = "alerts:digest"
RUN_WITHIN_GRACE = "run once now (within the grace time)"  # a missed fire time start-up lets APScheduler run

# The daemon of this process: APScheduler pickles a job as a function and its arguments, so the job
# functions below reach the running daemon through this name.
_ACTIVE: Daemon | None = None


def run_scheduled_job(job_id: str, commands: list[list[str]], timeout_s: float) -> dict[str, Any]:
    """What APScheduler runs: one job's commands, each a crawl (or summary) process of its own."""
    daemon = _ACTIVE
    if daemon is None:
        raise RuntimeError(f"job {job_id} fired outside a running daemon")
    return daemon.run_job(job_id, commands, timeout_s)


class Daemon:
    def __init__(
        self, settings: Settings, config_path: Path, *, standby: bool = True, holder: str | None = None,
        log_json: bool = False,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.config_path = Path(config_path).resolve()
        self.standby = standby
        self.holder = holder or new_holder()
        self.log_json = log_json
        self.stopping = threading.Event()
        # The daemon only keeps its records here: its jobs run `cchc crawl` in processes of their own.
        for warning in settings.trust_warnings():
            log.warning(warning)
        self.store = EvidenceStore.open(
            settings.storage.database_url,
            settings.storage.blob_dir,
            settings.collector.key_file,
            journal_file=settings.storage.journal,
            witness_file=settings.collector.witness_file,
        )
        self.engine: Engine = self.store.engine
        self.lease = Lease(self.engine, self.holder, settings.scheduler.lease_ttl_s)
        self.scheduler: BackgroundScheduler | None = None
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()
        self._running_jobs = 0
        self._jobs_done = threading.Condition()
        self.lease_lost = False
        self.alerter = Alerter.for_settings(settings)

    # --- the life of the daemon -----------------------------------------------------------------------------

    def run(self) -> int:
        """Block until SIGTERM/SIGINT (or a lost lease). 0 on a clean stop; 3 if the lease was never ours."""
        global _ACTIVE
        self._install_signal_handlers()
        previous = self._wait_for_lease()
        if previous is False:
            return 3
        _ACTIVE = self
        heartbeat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        heartbeat.start()
        try:
            self._interrupt_stale_job_runs()
            self.scheduler = self._make_scheduler()
            self.scheduler.start(paused=True)
            self._record_missed(previous if isinstance(previous, datetime) else None)
            self._sync_jobs()
            self.scheduler.resume()
            log.info(
                "scheduling", extra={"holder": self.holder, "jobs": [j.id for j in self.scheduler.get_jobs()]}
            )
            while not self.stopping.wait(0.5):
                pass
        finally:
            self._shutdown()
            _ACTIVE = None
        return 0

    def stop(self) -> None:
        self.stopping.set()

    def run_once(self, job_id: str) -> dict[str, Any] | None:
        """`cchc run --once JOB`: take the lease (or stand by for it), run that job now, recorded like a scheduled
        run, then release the lease. None when the lease was never ours (--no-standby)."""
        jobs = self.desired_jobs()
        if job_id not in jobs:
            self.store.close()
            raise CchcError(
                f"unknown job {job_id!r}; the configuration's jobs are {', '.join(sorted(jobs)) or 'none'}"
            )
        self._install_signal_handlers()
        if self._wait_for_lease() is False:
            self.store.close()
            return None
        heartbeat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        heartbeat.start()
        _, commands, timeout = jobs[job_id]
        try:
            return self.run_job(job_id, commands, timeout)
        finally:
            self.stopping.set()
            self._shutdown()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests run a daemon in a thread and stop it with stop()

        def handle(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _wait_for_lease(self) -> datetime | bool | None:
        """Take the lease, or stand by until it expires. Returns the previous holder's last heartbeat."""
        announced = ""
        while not self.stopping.is_set():
            before = self.lease.current()
            holder = self.lease.acquire()
            if holder is None:
                log.info("lease taken", extra={"holder": self.holder})
                return before.heartbeat_at if before is not None else None
            if holder.holder != announced:
                announced = holder.holder
                message = _held_by(holder, self.standby)
                log.warning(message, extra={"holder": holder.holder})
                print(message, file=sys.stderr, flush=True)
                if not self.standby:
                    return False
            self.stopping.wait(self.settings.scheduler.standby_poll_s)
        return False

    def _heartbeat(self) -> None:
        while not self.stopping.wait(self.settings.scheduler.heartbeat_s):
            try:
                still_ours = self.lease.renew()
            except Exception:
                log.exception("lease heartbeat failed; retrying")
                continue
            if not still_ours:
                log.error("lease lost to another daemon: stopping without scheduling more")
                self.lease_lost = True
                self.stop()

    def _shutdown(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # no new job starts; running ones finish below
        grace = self.settings.scheduler.shutdown_grace_s
        self._stop_children(grace, "the daemon was stopped")
        with self._jobs_done:  # let job threads record how their run ended
            self._jobs_done.wait_for(lambda: self._running_jobs == 0, timeout=grace + TERM_GRACE_AT_TIMEOUT_S)
        if not self.lease_lost:
            self.lease.release()
        self.store.close()
        log.info("stopped", extra={"holder": self.holder})

    # --- jobs -----------------------------------------------------------------------------------------------

    def _make_scheduler(self) -> BackgroundScheduler:
        options = self.settings.scheduler
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBSTORE_TABLE)},
            executors={"default": ThreadPoolExecutor(options.max_parallel_jobs)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": options.misfire_grace_s,
            },
            timezone=VN_TZ,
        )
        scheduler.add_listener(
            self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        return scheduler

    def desired_jobs(self, now: datetime | None = None) -> dict[str, tuple[Any, list[list[str]], float]]:
        """Every job the configuration asks for: id → (trigger, commands, timeout)."""
        now = now or datetime.now(UTC)
        jobs: dict[str, tuple[Any, list[list[str]], float]] = {}
        for schedule in self.settings.schedule:
            trigger = cron_trigger(schedule.cron, VN_TZ, schedule.jitter_s)
            command = self._cchc("crawl", "--probe", schedule.probe, "--trigger", "schedule",
                                 *([] if schedule.browser else ["--no-browser"]))  # fmt: skip
            jobs[f"probe:{schedule.probe}"] = (trigger, [command], schedule.timeout_s)
        if self.settings.alerts.enabled and self.settings.alerts.digest:
            digest = CronTrigger(hour=self.settings.alerts.digest_hour, minute=0, timezone=VN_TZ)
            jobs[DIGEST_JOB] = (digest, [self._cchc("alerts", "digest")], 300.0)
        if self.settings.timestamp.authority:
            # Tokens an authority could not give at the end of a crawl are asked for again, until they come.
            # A fixed start keeps the trigger (and its stored fire times) the same from one daemon start to the next.
            every = IntervalTrigger(
                seconds=self.settings.timestamp.retry_every_s,
                start_date=datetime(2020, 1, 1, tzinfo=UTC),
                timezone=VN_TZ,
            )
            jobs["timestamps"] = (every, [self._cchc("evidence", "timestamp")], 600.0)
        days = timedelta(days=self.settings.inspection.report_days_before)
        for visit in self.settings.visit:
            due = datetime(visit.date.year, visit.date.month, visit.date.day, self.settings.scheduler.calendar_hour,
                           tzinfo=VN_TZ) - days  # fmt: skip
            if due <= now:
                continue  # a past visit's preparation is not re-run on every start
            commands = [
                self._cchc("crawl", "--unit", visit.unit, "--trigger", "calendar"),
                self._cchc("report", visit.unit, "--visit", visit.date.isoformat()),
            ]
            jobs[f"visit:{visit.unit}:{visit.date.isoformat()}"] = (
                DateTrigger(due, timezone=VN_TZ),
                commands,
                3 * 3600.0,
            )
        return jobs

    def _cchc(self, verb: str, *args: str) -> list[str]:
        """A cchc command for a job's process. Its output goes nowhere, so a crawl there draws no progress bar and
        skips the table of figures not available (it reads the whole store: 105 CPU-s at 2,000 portals)."""
        flags = ["--log-json"] if self.log_json else []
        extra = ["--no-progress", "--no-why-missing"] if verb == "crawl" else []
        return [
            sys.executable,
            "-m",
            "cli",
            "--config",
            str(self.config_path),
            *flags,
            verb,
            *args,
            *extra,
        ]

    def _sync_jobs(self) -> None:
        """Make the job store match the configuration, keeping stored next fire times where nothing changed
        (replacing a job would forget the fire times it missed while the daemon was down)."""
        assert self.scheduler is not None
        desired = self.desired_jobs()
        stored = {job.id: job for job in self.scheduler.get_jobs()}
        for job_id in stored.keys() - desired.keys():
            self.scheduler.remove_job(job_id)
            log.info("job removed", extra={"job_id": job_id})
        subjects = {job_id: job_subject(commands) for job_id, (_, commands, _) in desired.items()}
        for job_id, (trigger, commands, timeout) in desired.items():
            args = [job_id, commands, timeout]
            job = stored.get(job_id)
            if job is None:
                self.scheduler.add_job(run_scheduled_job, trigger=trigger, args=args, id=job_id, name=job_id)
                log.info("job added", extra={"job_id": job_id, **subjects[job_id]})
                continue
            if list(job.args) != args:
                self.scheduler.modify_job(job_id, args=args)
            if repr(job.trigger) != repr(trigger):
                self.scheduler.reschedule_job(job_id, trigger=trigger)
                log.info("job rescheduled", extra={"job_id": job_id, **subjects[job_id]})

    def run_job(self, job_id: str, commands: Sequence[Sequence[str]], timeout_s: float) -> dict[str, Any]:
        """Run a job's commands in turn, each in a process of its own, within the job's timeout."""
        with self._jobs_done:
            self._running_jobs += 1
        try:
            return self._run_job(job_id, commands, timeout_s)
        finally:
            with self._jobs_done:
                self._running_jobs -= 1
                self._jobs_done.notify_all()

    def _run_job(self, job_id: str, commands: Sequence[Sequence[str]], timeout_s: float) -> dict[str, Any]:
        started = datetime.now(UTC)
        with Session(self.engine, expire_on_commit=False) as session:
            # scheduled_for is set from APScheduler's event when the job ends (the job is not told it).
            row = JobRun(job_id=job_id, scheduled_for=started, started_at=started, holder=self.holder)
            session.add(row)
            session.commit()
        log.info("job started", extra={"job_id": job_id, **job_subject(commands)})
        deadline = time.monotonic() + timeout_s
        result: dict[str, Any] = {
            "status": "ok",
            "exit_code": 0,
            "run_id": None,
            "detail": "",
            "job_run": row.id,
        }
        for command in commands:
            if self.stopping.is_set():
                result.update(status="interrupted", detail="the daemon was stopped before this step")
                break
            step = self._run_child(command, deadline - time.monotonic(), timeout_s)
            result["run_id"] = step["run_id"] or result["run_id"]
            if step["status"] != "ok":
                result.update(status=step["status"], exit_code=step["exit_code"], detail=step["detail"])
                break
        with Session(self.engine) as session:
            stored = session.get(JobRun, row.id)
            if stored is not None:
                stored.finished_at = datetime.now(UTC)
                stored.status, stored.exit_code = result["status"], result["exit_code"]
                stored.run_id, stored.detail = result["run_id"], result["detail"]
                session.add(stored)
                session.commit()
        try:
            self.alerter.raise_alerts(job_alerts(self.engine, self.alerter, job_id, commands, result))
        except Exception:  # an alert that cannot be made or sent never costs the run
            log.exception("alerting failed", extra={"job_id": job_id})
        log.info("job finished", extra={"job_id": job_id, **job_subject(commands), "status": result["status"],
                                        "run_id": result["run_id"]})  # fmt: skip
        return result

    def _run_child(self, command: Sequence[str], remaining_s: float, timeout_s: float) -> dict[str, Any]:
        started = datetime.now(UTC)
        child = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with self._children_lock:
            self._children[child.pid] = child
        try:
            try:
                _, stderr = child.communicate(timeout=max(0.1, remaining_s))
                text = stderr.decode("utf-8", "replace")
                sys.stderr.write(text)  # the crawl's own log lines (with its run id) join the daemon's log
                ended = "interrupted" if self.stopping.is_set() else "failed"
                status = "ok" if child.returncode == 0 else ended
                detail = text.strip()[-500:] if child.returncode else ""
            except subprocess.TimeoutExpired:
                self._terminate(child, TERM_GRACE_AT_TIMEOUT_S)
                status, detail = "timeout", f"killed at its timeout of {timeout_s:g} s"
                self.store.interrupt_runs_of(child.pid, detail, since=started)
        finally:
            with self._children_lock:
                self._children.pop(child.pid, None)
        return {"status": status, "exit_code": child.returncode, "run_id": self._run_of(child.pid, started),
                "detail": detail}  # fmt: skip

    def _terminate(self, child: subprocess.Popen[bytes], grace_s: float) -> None:
        """SIGTERM (the crawl closes its run as interrupted), then SIGKILL after the grace time."""
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _stop_children(self, grace_s: float, reason: str) -> None:
        with self._children_lock:
            children = list(self._children.values())
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + grace_s
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                self.store.interrupt_runs_of(child.pid, f"killed: {reason}")

    def _run_of(self, pid: int, started: datetime) -> int | None:
        with Session(self.engine) as session:
            return session.exec(
                select(Run.id).where(Run.pid == pid, Run.started_at >= started - timedelta(seconds=1))
                .order_by(col(Run.id).desc())
            ).first()  # fmt: skip

    def _interrupt_stale_job_runs(self) -> None:
        with Session(self.engine) as session:
            for row in session.exec(select(JobRun).where(JobRun.status == "running")).all():
                row.status, row.finished_at = "interrupted", datetime.now(UTC)
                row.detail = (
                    row.detail + " " if row.detail else ""
                ) + "the daemon holding it stopped without finishing it"
                session.add(row)
            session.commit()

    # --- what happened to each fire time --------------------------------------------------------------------

    def _on_event(self, event: JobEvent) -> None:
        try:
            if isinstance(event, JobExecutionEvent) and event.code in (EVENT_JOB_EXECUTED, EVENT_JOB_ERROR):
                self._finish_job_run(event)
            elif event.code == EVENT_JOB_MISSED:
                when = getattr(event, "scheduled_run_time", None) or datetime.now(UTC)
                reason = "started later than the misfire grace allows"
                self._missed(event.job_id, [when], reason, "skipped (beyond the grace time)")
            elif event.code == EVENT_JOB_MAX_INSTANCES:
                times = list(getattr(event, "scheduled_run_times", []) or [datetime.now(UTC)])
                self._missed(event.job_id, times, "the previous run of this job was still going", "skipped")
        except Exception:
            log.exception("recording a job event failed")

    def _finish_job_run(self, event: JobExecutionEvent) -> None:
        """The job recorded how it ended; the event tells which fire time it was for."""
        result: dict[str, Any] = event.retval if isinstance(event.retval, dict) else {}
        with Session(self.engine) as session:
            row = session.get(JobRun, result["job_run"]) if result.get("job_run") else None
            if row is None and event.exception is not None:
                now = datetime.now(UTC)
                row = JobRun(job_id=event.job_id, scheduled_for=event.scheduled_run_time, started_at=now, finished_at=now,
                             status="failed", holder=self.holder)  # fmt: skip
            if row is None:
                return
            row.scheduled_for = event.scheduled_run_time
            if event.exception is not None:
                row.status, row.detail = "failed", f"{type(event.exception).__name__}: {event.exception}"
            session.add(row)
            session.commit()

    def _missed(self, job_id: str, times: Sequence[datetime], reason: str, action: str) -> None:
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            rows = session.exec(select(MissedRun).where(MissedRun.job_id == job_id)).all()
            known = {row.scheduled_for: row for row in rows}
            fresh = [t for t in times if t.astimezone(UTC) not in known]  # already recorded at start-up
            for moment in times:
                row = known.get(moment.astimezone(UTC))
                if row is not None and row.action == RUN_WITHIN_GRACE and action != RUN_WITHIN_GRACE:
                    # Start-up judged it within the grace, but APScheduler reached it later (a loaded machine,
                    # a short grace) and did not run it: the record says what happened, not what was meant.
                    row.action = action
                    session.add(row)
            for moment in fresh:
                session.add(
                    MissedRun(
                        job_id=job_id, scheduled_for=moment, detected_at=now, reason=reason, action=action
                    )
                )
            session.commit()
        if fresh:
            log.warning(
                "fire time missed",
                extra={"job_id": job_id, "times": [t.isoformat() for t in fresh], "reason": reason},
            )
            self._alert_missed(job_id, len(fresh), reason)

    def _record_missed(self, last_alive: datetime | None) -> None:
        """Fire times that passed while no daemon was scheduling: recorded, and the latest within the grace
        time runs once (APScheduler coalesces the backlog of a job whose stored next run is in the past)."""
        now = datetime.now(UTC)
        grace = timedelta(seconds=self.settings.scheduler.misfire_grace_s)
        for schedule in self.settings.schedule:
            job_id = f"probe:{schedule.probe}"
            with Session(self.engine) as session:
                last_run = session.exec(
                    select(JobRun.scheduled_for)
                    .where(JobRun.job_id == job_id)
                    .order_by(col(JobRun.scheduled_for).desc())
                ).first()
            since = max((t for t in (last_run, last_alive) if t is not None), default=None)
            if since is None:
                continue  # never scheduled before: nothing can have been missed
            fires = _fire_times(cron_trigger(schedule.cron, VN_TZ), since, now)
            if not fires:
                continue
            latest = fires[-1]
            actions = ["skipped (coalesced into the latest missed run)"] * (len(fires) - 1)
            actions.append(RUN_WITHIN_GRACE if now - latest <= grace else "skipped (beyond the grace time)")
            with Session(self.engine) as session:
                for moment, action in zip(fires, actions, strict=True):
                    session.add(MissedRun(job_id=job_id, scheduled_for=moment, detected_at=now,
                                          reason="no daemon was scheduling", action=action))  # fmt: skip
                session.commit()
            log.warning(
                "fire times missed while no daemon was scheduling",
                extra={"job_id": job_id, "count": len(fires)},
            )
            self._alert_missed(job_id, len(fires), "no daemon was scheduling")

    def _alert_missed(self, job_id: str, count: int, reason: str) -> None:
        query = f"SELECT * FROM missed_run WHERE job_id = '{job_id}' ORDER BY scheduled_for DESC"
        alert = Alert(RUN_MISSED, job_id, f"{count} fire times of {job_id} missed: {reason}",
                      self.alerter.link("/sql?" + urlencode({"q": query})))  # fmt: skip
        try:
            self.alerter.raise_alerts([alert])
        except Exception:
            log.exception("alerting failed", extra={"job_id": job_id})


DOWN_OUTCOMES = ("http-error", "timeout", "connection-error")


def job_alerts(
    engine: Engine, alerter: Alerter, job_id: str, commands: Sequence[Sequence[str]], result: dict[str, Any]
) -> list[Alert]:
    """What a finished job alerts about: the job itself when it did not end ok (a probe that matched none of our
    units: no data), and in its run the pages whose layout was not recognised, the sites down, the sites moved."""
    subject = job_subject(commands)
    run_id = result.get("run_id")
    run_link = alerter.link("/sql?" + urlencode({"q": f"SELECT * FROM run WHERE id = {run_id}"}))
    job_link = alerter.link(
        "/sql?" + urlencode({"q": f"SELECT * FROM job_run WHERE id = {result.get('job_run')}"})
    )
    alerts = []
    if result["status"] != "ok":
        kind = NO_DATA if result.get("exit_code") == 4 else RUN_FAILED
        what = f"job {job_id} (probe {subject['probe']}, units {subject['units']}) ended {result['status']}"
        detail = str(result.get("detail") or "").strip().splitlines()
        alerts.append(Alert(kind, job_id, what + (f": {detail[-1]}" if detail else ""),
                            run_link if run_id else job_link, details={**subject, **result}))  # fmt: skip
    if not run_id:
        return alerts
    with Session(engine) as session:
        failures = session.exec(
            select(ParseFailure.probe, ParseFailure.parser, func.count(), func.min(ParseFailure.snapshot_id))
            .join(Snapshot, col(Snapshot.id) == ParseFailure.snapshot_id)
            .where(Snapshot.run_id == run_id)
            .group_by(ParseFailure.probe, ParseFailure.parser)
        ).all()
        captures = session.exec(
            select(Snapshot.id, Snapshot.url, Snapshot.final_url, Snapshot.outcome).where(
                Snapshot.run_id == run_id
            )
        ).all()
    for probe, parser, count, first in failures:
        alerts.append(Alert(LAYOUT_DRIFT, f"{probe}/{parser}", f"{count} pages of run {run_id} not recognised by "
                            f"{probe}/{parser} (layout drift?)", alerter.link(f"/evidence/{first}"),
                            details={"run_id": run_id, "count": count}))  # fmt: skip
    down: dict[str, list[tuple[int, str]]] = {}
    moved: dict[str, tuple[int, str]] = {}
    for snapshot_id, url, final_url, outcome in captures:
        host = host_key(url)
        if outcome in DOWN_OUTCOMES:
            down.setdefault(host, []).append((snapshot_id or 0, outcome))
        elif outcome == "ok" and final_url and host_key(final_url) != host:
            moved.setdefault(host, (snapshot_id or 0, host_key(final_url)))
    for host, failed in down.items():
        outcomes = ", ".join(sorted({o for _, o in failed}))
        alerts.append(Alert(SITE_DOWN, host, f"{host}: {len(failed)} requests of run {run_id} failed ({outcomes})",
                            alerter.link(f"/evidence/{failed[0][0]}"), details={"run_id": run_id}))  # fmt: skip
    for host, (snapshot_id, target) in moved.items():
        alerts.append(Alert(SITE_MOVED, host, f"{host} now redirects to {target} (run {run_id})",
                            alerter.link(f"/evidence/{snapshot_id}"), details={"run_id": run_id}))  # fmt: skip
    return alerts


def job_subject(commands: Sequence[Sequence[str]]) -> dict[str, str]:
    """What a job works on, for its log lines: its probes and units ("all": a crawl that names none)."""
    probes: list[str] = []
    units: list[str] = []
    crawls = False
    for command in commands:
        crawls = crawls or "crawl" in command
        for flag, value in pairwise(command):
            if flag in ("--probe", "-p"):
                probes.append(value)
            elif flag in ("--unit", "-u"):
                units.append(value)
    every = "all" if crawls else "-"
    return {
        "probe": ",".join(dict.fromkeys(probes)) or every,
        "units": ",".join(dict.fromkeys(units)) or every,
    }


def _fire_times(trigger: CronTrigger, since: datetime, until: datetime) -> list[datetime]:
    """The fire times of a trigger after `since` and up to `until` (without jitter)."""
    times: list[datetime] = []
    previous: datetime | None = None
    moment = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    while moment is not None and moment <= until and len(times) < MAX_MISSED_LISTED:
        times.append(moment.astimezone(UTC))
        previous = moment
        moment = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
    return times


def _held_by(state: LeaseState, standby: bool) -> str:
    age = (datetime.now(UTC) - state.heartbeat_at).total_seconds()
    left = (state.expires_at - datetime.now(UTC)).total_seconds()
    return (
        f"another daemon holds the scheduling lease: {state.holder}, last heartbeat {age:.0f} s ago, "
        f"expires in {max(0.0, left):.0f} s; "
        + ("standing by to take over when it expires" if standby else "exiting (--no-standby)")
    )
