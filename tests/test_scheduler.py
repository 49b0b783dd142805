"""The daemon with a real APScheduler on short intervals, its crawls against the simulation, on SQLite and
PostgreSQL: jobs fire and persist across restarts, one daemon schedules at a time, SIGTERM and hung jobs
leave verifiable evidence, and fire times missed while the daemon was down are reported and run once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from cchc.settings import Schedule, Settings
from cli.simlink import write_pointed_config
from cli_process import run_cli
from conftest import REPO
from evidence.blobs import LocalBlobStore
from evidence.db import open_database
from evidence.models import Run, Snapshot
from evidence.operations import DaemonLease, JobRun, MissedRun
from evidence.verify import verify
from sim import FaultSpec, Simulation

# A lease short enough for a takeover test to see one, long enough that a holder on a loaded machine (a process
# stalled for seconds) still renews it in time: with a 3 s lease, a second daemon took over from a live holder.
FAST_LEASE = {"lease_ttl_s": 15.0, "heartbeat_s": 1.0, "standby_poll_s": 0.5, "shutdown_grace_s": 8.0}


def daemon_config(
    settings: Settings,
    sim: Simulation,
    database_url: str,
    folder: Path,
    schedules: list[Schedule],
    **scheduler: Any,
) -> Path:
    """A config whose sites are the simulation, whose evidence is `database_url`, with these schedules."""
    local = settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={"database_url": database_url, "blob_dir": folder / "blobs"}
            ),
            "collector": settings.collector.model_copy(update={"key_file": folder / "k.pem"}),
            "schedule": schedules,
            "visit": [],
            "scheduler": settings.scheduler.model_copy(update={**FAST_LEASE, **scheduler}),
        }
    )
    path = folder / "daemon.toml"
    write_pointed_config(local, sim.urls, path, min_delay_s=0.0, latency_factor=0.0, backoff_base_s=0.05)
    return path


def every(seconds: int, probe: str = "availability", timeout_s: float = 60.0) -> Schedule:
    return Schedule(probe=probe, cron=f"*/{seconds} * * * * *", timeout_s=timeout_s, browser=False)


@contextmanager
def daemon(config: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--config", str(config), "run", *args],
            stdout=sink, stderr=sink, cwd=REPO, env=env,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    # The deadlines are generous: at a load of 50 on 2 cores, a crawl's process took over a minute to finish.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_runs(engine: sa.Engine, job_id: str | None = None, status: str | None = None) -> list[JobRun]:
    with Session(engine) as session:
        query = select(JobRun).order_by(col(JobRun.started_at))
        if job_id:
            query = query.where(JobRun.job_id == job_id)
        if status:
            query = query.where(JobRun.status == status)
        return list(session.exec(query).all())


def stored_snapshots(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Snapshot.id)).all())


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    import evidence.operations  # noqa: F401 - the daemon's tables

    created = open_database(database_url)
    yield created
    created.dispose()


def test_jobs_fire_on_schedule_and_persist_across_a_restart(
    settings: Settings, simulation: Simulation, database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    config = daemon_config(settings, simulation, database_url, tmp_path, [every(2)])
    log = tmp_path / "daemon.log"
    with daemon(config, log) as first:
        wait_until(lambda: len(job_runs(engine, status="ok")) >= 2, 180, "two runs of the job")
        assert stop(first) == 0
    done = job_runs(engine, status="ok")
    assert all(r.scheduled_for.second % 2 == 0 and r.run_id for r in done)
    with engine.connect() as connection:  # the job is in the database's job store, not only in memory
        stored = connection.execute(sa.text("SELECT id FROM apscheduler_jobs")).scalars().all()
    assert stored == ["probe:availability"]
    with daemon(config, log) as second:
        wait_until(lambda: len(job_runs(engine, status="ok")) >= len(done) + 2, 180, "runs after the restart")
        assert stop(second) == 0
    with Session(engine) as session:
        runs = session.exec(select(Run).where(Run.trigger == "schedule")).all()
    assert len(runs) >= 4 and {r.status for r in runs} == {"completed"}


def test_a_second_daemon_is_refused_then_takes_over_when_the_lease_expires(
    settings: Settings, simulation: Simulation, database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    config = daemon_config(settings, simulation, database_url, tmp_path, [every(2)])
    with daemon(config, tmp_path / "a.log") as first:
        holder_a = wait_until(lambda: _holder(engine), 120, "the first daemon's lease")
        refused = run_cli(["--config", str(config), "run", "--no-standby"], timeout=60, cwd=REPO)
        assert (
            refused.returncode == 3
            and f"another daemon holds the scheduling lease: {holder_a}" in refused.stderr
        )
        with daemon(config, tmp_path / "b.log") as second:
            wait_until(
                lambda: "standing by" in (tmp_path / "b.log").read_text(),
                120,
                "the second daemon standing by",
            )
            # Two more fire times pass with both daemons up (events, not a fixed sleep): only the holder schedules.
            seen = len(job_runs(engine))
            wait_until(lambda: len(job_runs(engine)) >= seen + 2, 120, "two runs while the second stands by")
            assert {r.holder for r in job_runs(engine)} == {holder_a}
            first.send_signal(signal.SIGKILL)  # the holder dies without releasing its lease
            first.wait()
            holder_b = wait_until(lambda: (h := _holder(engine)) != holder_a and h, 120, "the takeover")
            wait_until(lambda: any(r.holder == holder_b and r.status == "ok" for r in job_runs(engine)), 180,
                       "a run by the second daemon")  # fmt: skip
            assert stop(second) == 0


def _holder(engine: sa.Engine) -> str | None:
    with Session(engine) as session:
        row = session.get(DaemonLease, "scheduler")
        return row.holder if row is not None and row.expires_at > datetime.now(UTC) else None


def test_sigterm_in_the_middle_of_a_crawl_leaves_the_evidence_verifiable(
    settings: Settings, make_simulation: Any, database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=0.4, path="/vi/news/")) as sim:
        config = daemon_config(settings, sim, database_url, tmp_path, [every(2, "news")])
        with daemon(config, tmp_path / "daemon.log") as process:
            wait_until(lambda: job_runs(engine, status="running"), 180, "a crawl in progress")
            # Mid-crawl means evidence already kept: wait for the run's first snapshot, however slow the machine.
            wait_until(lambda: stored_snapshots(engine) > 0, 180, "the crawl's first stored snapshot")
            started = time.monotonic()
            assert stop(process) == 0
            assert time.monotonic() - started < 60  # the 8 s grace, with a loaded machine's slack
    with Session(engine) as session:
        runs = session.exec(select(Run)).all()
    assert (
        runs
        and {r.status for r in runs} <= {"completed", "interrupted"}
        and "interrupted" in {r.status for r in runs}
    )
    assert {r.status for r in job_runs(engine)} <= {"ok", "interrupted"}
    report = verify(engine, LocalBlobStore(tmp_path / "blobs", durable=False))
    assert report.clean, report.problems
    assert report.snapshots > 0 and report.unsigned_after_last_checkpoint == 0


def test_a_hung_job_is_killed_at_its_timeout_and_does_not_block_the_others(
    settings: Settings, make_simulation: Any, database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with make_simulation(FaultSpec("motcua", "hang", path="/Account/")) as sim:
        config = daemon_config(
            # The timeout leaves a loaded machine time to start the crawl's process and open its run.
            settings,
            sim,
            database_url,
            tmp_path,
            # News every 6 s, not 2: two runs are all the test needs, and its wait is the 20 s timeout, so a
            # faster news job would only start crawls no assertion reads.
            [every(2, "availability", timeout_s=20), every(6, "news")],
        )
        text = config.read_text(encoding="utf-8").replace("read_timeout_s = 30.0", "read_timeout_s = 600.0")
        config.write_text(text.replace("total_timeout_s = 90.0", "total_timeout_s = 900.0"), encoding="utf-8")
        with daemon(config, tmp_path / "daemon.log") as process:
            timed_out = wait_until(
                lambda: job_runs(engine, "probe:availability", "timeout"), 600, "the timeout"
            )
            wait_until(
                lambda: len(job_runs(engine, "probe:news", "ok")) >= 2, 600, "news runs during the hang"
            )
            assert stop(process) == 0
    assert timed_out[0].detail == "killed at its timeout of 20 s"
    with Session(engine) as session:
        run = session.get(Run, timed_out[0].run_id)
    assert run is not None and run.status == "interrupted" and "killed at its timeout" in run.note
    assert verify(engine, LocalBlobStore(tmp_path / "blobs", durable=False)).clean


@pytest.mark.parametrize("grace_s", [3600, 1])
def test_fire_times_missed_while_down_are_reported_and_run_once_within_grace(
    settings: Settings,
    simulation: Simulation,
    database_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    grace_s: int,
) -> None:
    config = daemon_config(settings, simulation, database_url, tmp_path, [every(4)], misfire_grace_s=grace_s)
    log = tmp_path / "daemon.log"
    with daemon(config, log) as first:
        wait_until(lambda: job_runs(engine, status="ok"), 180, "a first run")
        assert stop(first) == 0
    before = len(job_runs(engine))
    time.sleep(8.5)  # wall time, not machine speed: at least two fire times pass with no daemon
    # Restart 1.2 s after a fire time, so that with a 1 s grace the latest missed time is usually beyond it.
    time.sleep((1.2 - time.time() % 4) % 4)
    restarted = datetime.now(UTC)
    with daemon(config, log) as second:
        # What the second daemon found missed while no daemon ran (the first may have recorded fire times its
        # own slow job made it miss: those are not this test's).
        missed = wait_until(lambda: _missed(engine, since=restarted), 180, "the missed fire times")
        latest_time = max(m.scheduled_for for m in missed if m.reason == "no daemon was scheduling")
        # Start-up judges the latest within the grace or not; APScheduler then runs it, or (a loaded machine
        # reaching it later than the grace allows) refuses it, and the record must then say skipped.
        wait_until(
            lambda: _runs_for(engine, latest_time) or _action(engine, latest_time).startswith("skipped"),
            180,
            "the latest missed time run or recorded skipped",
        )
        wait_until(lambda: len(job_runs(engine)) > before, 180, "a run after the restart")
        assert stop(second) == 0
    # The start-up's record is one batch, made before APScheduler resumed: a later "still going" row (the run
    # of the latest may outlast the next fire time) is not part of it, however late the first look came.
    since_restart = _missed(engine, since=restarted)
    first_detected = min(m.detected_at for m in since_restart)
    missed = [m for m in since_restart if m.detected_at == first_detected]
    latest = max(missed, key=lambda m: m.scheduled_for)
    within = latest.action == "run once now (within the grace time)"
    assert len(missed) >= 2 and {m.reason for m in missed} == {"no daemon was scheduling"}
    assert latest.action == (
        "run once now (within the grace time)" if within else "skipped (beyond the grace time)"
    )
    assert grace_s == 1 or within  # an hour's grace always covers the latest
    assert all(m.action.startswith("skipped") for m in missed if m is not latest)
    assert len(_runs_for(engine, latest.scheduled_for)) == (1 if within else 0)
    status = run_cli(["--config", str(config), "status", "--json"], timeout=60, cwd=REPO, check=True)
    assert "no daemon was scheduling" in status.stdout and latest.action in status.stdout


def _missed(engine: sa.Engine, since: datetime | None = None) -> list[MissedRun]:
    with Session(engine) as session:
        query = select(MissedRun)
        if since is not None:
            query = query.where(col(MissedRun.detected_at) >= since)
        return list(session.exec(query).all())


def _action(engine: sa.Engine, scheduled_for: datetime) -> str:
    return next(m.action for m in _missed(engine) if m.scheduled_for == scheduled_for)


def _runs_for(engine: sa.Engine, scheduled_for: datetime) -> list[JobRun]:
    return [r for r in job_runs(engine) if abs((r.scheduled_for - scheduled_for).total_seconds()) < 0.01]


def test_status_shows_lease_jobs_runs_and_evidence_size(
    settings: Settings, simulation: Simulation, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    config = daemon_config(settings, simulation, database_url, tmp_path, [every(2)])
    with daemon(config, tmp_path / "daemon.log") as process:
        wait_until(lambda: job_runs(engine, status="ok"), 180, "a run")
        result = run_cli(
            ["--config", str(config), "status"], timeout=60, cwd=REPO, env={**os.environ, "COLUMNS": "200"}
        )
        assert stop(process) == 0
    assert result.returncode == 0, result.stderr
    assert "lease: held by" in result.stdout and "probe:availability" in result.stdout
    assert "evidence:" in result.stdout and "snapshots" in result.stdout
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]
    job_row = next(r for r in rows if r[0] == "probe:availability")
    probe_row = next(r for r in rows if r[0] == "availability")
    # The job fires every 2 s, so the newest run may still be going: status then says how the one before ended.
    assert {"ok", "running (previous: ok)"} & set(job_row), job_row
    assert {"completed", "running (previous: completed)"} & set(probe_row), probe_row
