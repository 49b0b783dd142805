"""`cchc status --json` a monitor can read (ISO timestamps, numbers, per-probe counts, a stopped daemon shown
stopped), the daemon's log lines naming job, probe and units in local time, and `cchc run --once JOB` under
the lease; a real daemon, real crawls of the simulation, a real SQLite file."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, func, select
from test_scheduler import daemon, daemon_config, every, job_runs, stop, wait_until

from cchc.settings import Schedule, Settings
from cli_process import run_cli
from conftest import REPO
from evidence.db import open_database
from evidence.lease import Lease
from evidence.models import Run, Snapshot
from sim import Simulation

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$"
TIME = {"type": "string", "pattern": ISO}
TIME_OR_NULL = {"anyOf": [TIME, {"type": "null"}]}
DAY = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"}
COUNT = {"type": "integer", "minimum": 0}
COUNT_OR_NULL = {"anyOf": [COUNT, {"type": "null"}]}
TEXT_OR_NULL = {"type": ["string", "null"]}


def rows(properties: dict[str, Any]) -> dict[str, Any]:
    item = {"type": "object", "properties": properties, "required": list(properties)}
    return {"type": "array", "items": item}


STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["daemon", "jobs", "probes", "missed", "evidence", "visits", "timestamps"],
    "properties": {
        "daemon": {
            "type": "object",
            "required": ["state", "holder", "acquired_at", "heartbeat_at", "heartbeat_age_s", "expires_at"],
            "properties": {
                "state": {"enum": ["running", "stopped", "expired", "never started"]},
                "holder": TEXT_OR_NULL,
                "acquired_at": TIME_OR_NULL,
                "heartbeat_at": TIME_OR_NULL,
                "heartbeat_age_s": {"type": ["number", "null"]},
                "expires_at": TIME_OR_NULL,
            },
        },
        "jobs": rows(
            {
                "job": {"type": "string"},
                "next": TIME_OR_NULL,
                "last_started": TIME_OR_NULL,
                "last_status": TEXT_OR_NULL,
                "previous_status": TEXT_OR_NULL,
                "last_run_id": COUNT_OR_NULL,
                "last_detail": {"type": "string"},
            }
        ),
        "probes": rows(
            {
                "probe": {"type": "string"},
                "last_run": COUNT_OR_NULL,
                "trigger": TEXT_OR_NULL,
                "started": TIME_OR_NULL,
                "status": TEXT_OR_NULL,
                "previous_status": TEXT_OR_NULL,
                "outcomes": {"type": "object", "additionalProperties": COUNT},
            }
        ),
        "missed": rows(
            {
                "job": {"type": "string"},
                "due": TIME,
                "detected": TIME,
                "reason": {"type": "string"},
                "action": {"type": "string"},
            }
        ),
        "evidence": {
            "type": "object",
            "required": ["snapshots", "blobs", "raw_bytes", "stored_bytes"],
            "additionalProperties": COUNT,
        },
        "visits": rows(
            {"unit": {"type": "string"}, "visit": DAY, "summary_due": DAY, "state": {"type": "string"}}
        ),
        "timestamps": rows(
            {
                "authority": {"type": "string"},
                "pending": COUNT,
                "oldest": TIME,
                "attempts": COUNT,
                "last_error": TEXT_OR_NULL,
            }
        ),
    },
}


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["--config", str(config), *args], timeout=300, cwd=REPO)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'evidence.sqlite3'}"


def status_json(config: Path) -> dict[str, Any]:
    result = cchc(config, "status", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(data, STATUS_SCHEMA)
    return data


def test_status_json_has_timestamps_numbers_and_each_probes_own_counts(
    settings: Settings, simulation: Simulation, sqlite_url: str, tmp_path: Path
) -> None:
    config = daemon_config(settings, simulation, sqlite_url, tmp_path, [every(2)])
    crawl = cchc(
        config, "crawl", "-p", "availability", "-p", "news", "-u", "phuong-1", "--no-browser", "--no-progress"
    )
    assert crawl.returncode == 0, crawl.stderr
    engine = open_database(sqlite_url)
    log = tmp_path / "daemon.log"
    try:
        with daemon(config, log) as process:
            wait_until(lambda: job_runs(engine, status="ok"), 120, "a scheduled run")
            running = status_json(config)
            assert stop(process) == 0
        stopped = status_json(config)
        with Session(engine) as session:
            truth = _outcomes_by_probe(session)
    finally:
        engine.dispose()
    assert running["daemon"]["state"] == "running" and any(j["next"] for j in running["jobs"])
    assert stopped["daemon"]["state"] == "stopped"
    assert [j["next"] for j in stopped["jobs"]] == [None] * len(stopped["jobs"])
    for row in stopped["probes"]:
        if row["last_run"] is not None:
            # the stop may land in a run that has captured nothing yet: its counts are then empty, as the store's
            expected = truth.get((row["last_run"], row["probe"]), {})
            assert row["outcomes"] == expected, row
    news = next(r for r in stopped["probes"] if r["probe"] == "news")
    availability = next(r for r in stopped["probes"] if r["probe"] == "availability")
    assert (
        news["last_run"] == 1 and availability["last_run"] > 1
    )  # the daemon's later runs were availability only
    assert sum(news["outcomes"].values()) < stopped["evidence"]["snapshots"]
    plain = cchc(config, "status")
    assert plain.returncode == 0 and "daemon: stopped" in plain.stdout
    lines = log.read_text(encoding="utf-8").splitlines()
    added = [line for line in lines if " job added " in line or "job added job_id=" in line]
    assert added and all(
        re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00 INFO", line) for line in added
    )
    assert any("job_id=probe:availability probe=availability units=all" in line for line in added), added


def _outcomes_by_probe(session: Session) -> dict[tuple[int, str], dict[str, int]]:
    found: dict[tuple[int, str], dict[str, int]] = {}
    for run_id, probe, outcome, count in session.exec(
        select(Snapshot.run_id, Snapshot.probe, Snapshot.outcome, func.count()).group_by(
            col(Snapshot.run_id), col(Snapshot.probe), col(Snapshot.outcome)
        )
    ).all():
        found.setdefault((run_id, probe), {})[outcome] = count
    return found


def test_run_once_runs_one_job_now_under_the_lease(
    settings: Settings, simulation: Simulation, sqlite_url: str, tmp_path: Path
) -> None:
    yearly = Schedule(
        probe="availability", cron="0 0 1 1 *", timeout_s=120, browser=False
    )  # never fires here
    config = daemon_config(settings, simulation, sqlite_url, tmp_path, [yearly])
    result = cchc(config, "run", "--once", "probe:availability")
    assert result.returncode == 0, result.stderr
    engine = open_database(sqlite_url)
    try:
        done = job_runs(engine)
        assert [(r.job_id, r.status) for r in done] == [("probe:availability", "ok")]
        with Session(engine) as session:
            run = session.get(Run, done[0].run_id)
        assert run is not None and run.probes == ["availability"] and run.status == "completed"
        assert f"job probe:availability: ok (run {run.id})" in result.stdout
        assert status_json(config)["daemon"]["state"] == "stopped"  # the lease was released
        unknown = cchc(config, "run", "--once", "probe:nope")
        assert unknown.returncode == 1 and "unknown job 'probe:nope'" in unknown.stderr
        with daemon(config, tmp_path / "daemon.log") as process:
            wait_until(lambda: _lease_held(engine), 120, "the daemon's lease")
            refused = cchc(config, "run", "--no-standby", "--once", "probe:availability")
            assert stop(process) == 0
        assert refused.returncode == 3 and "exiting (--no-standby)" in refused.stderr
        assert len(job_runs(engine)) == 1
    finally:
        engine.dispose()


def _lease_held(engine: sa.Engine) -> bool:
    state = Lease(engine, "observer", 1.0).current()
    return state is not None and state.expires_at > datetime.now(UTC)
