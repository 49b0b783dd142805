"""End to end over real HTTP and real Chromium: a crawl of the whole simulation (every unit, every probe)
yields figures equal to the ground truth, each observation linked to a snapshot that verifies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from probe_helpers import open_test_store, pointed, run_probes
from sqlmodel import Session, col, select

from cchc.settings import Settings
from cli.demo import headlines
from evidence import Observation, Snapshot, SnapshotBlob
from evidence.verify import verify
from indicators.observed import raw_figures

pytestmark = pytest.mark.browser


def expected_value(truth: dict[str, Any], unit: str, metric: str, period: str) -> float | None:
    cell = truth["units"][unit]
    if period == "instant":
        procedures = cell["procedures"] or {}
        if metric == "tthc_reference_missing":
            return float(len(procedures["reference_missing"])) if procedures else None
        value = procedures.get(metric)
    elif metric == "i766_rank":
        value = cell["i766_rank"].get(period)
    elif metric.startswith("i766"):
        value = cell["i766"].get(period, {}).get(metric)
    else:
        value = cell["months"].get(period, {}).get(metric, 0 if metric.startswith("news") else None)
    return None if value is None else float(value)


def test_a_full_crawl_equals_the_ground_truth_and_verifies(
    settings: Settings, make_simulation: Any, tmp_path: Path
) -> None:
    with make_simulation() as sim:
        target = pointed(settings, sim)
        store = open_test_store(tmp_path)
        report = run_probes(
            target, store, ["availability", "news", "procedures", "service_stats"], with_browser=True
        )
        truth = sim.truth()
        traps = sim.trap_calls()
    assert report.status == "completed" and report.counts.parse_failures == 0, report.counts.failures
    assert set(report.counts.snapshots) == {"ok"}
    assert traps == {}  # no write, payment, login or personal-data endpoint was ever called
    figures = raw_figures(store.engine, target)
    ok = figures[figures["status"] == "ok"]
    assert len(ok) > 5000
    wrong = [
        (r.unit, r.metric, r.period, r.value, expected_value(truth, r.unit, r.metric, r.period))
        for r in ok.itertuples()
        if r.value != expected_value(truth, r.unit, r.metric, r.period)
    ]
    assert wrong == []
    not_ok = figures[figures["status"] != "ok"]
    assert set(not_ok["unit"]) <= {"van-phong"} and set(not_ok["status"]) <= {"na"}
    for unit in target.units_in_inspection():
        assert all(h.matches for h in headlines(figures, truth, unit.id, target.inspection.year)), unit.id

    report_check = verify(store.engine, store.blobs)
    assert report_check.clean and report_check.unsigned_after_last_checkpoint == 0
    with Session(store.engine) as session:
        linked = session.exec(select(Observation.snapshot_id).distinct()).all()
        known = set(session.exec(select(Snapshot.id)).all())
        assert set(linked) <= known
        browser_roles = set(
            session.exec(
                select(SnapshotBlob.role)
                .join(Snapshot, col(Snapshot.id) == col(SnapshotBlob.snapshot_id))
                .where(Snapshot.render == "browser")
            ).all()
        )
    assert {"dom", "screenshot", "subresponse"} <= browser_roles
