"""End to end over real HTTP and real Chromium: a crawl of the whole simulation (every unit, every probe)
yields figures equal to the ground truth, each observation linked to a snapshot that verifies.

It passes on the full simulated contract and on the public one (only the fields public sources show), where
a figure the public fields cannot give is missing with its reason; and with every configured national id and
code wrong (units found by name, each match recorded) and one unit absent from the national reports.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from probe_helpers import FullCrawl, observations, open_test_store, pointed, run_probes
from sqlmodel import Session, col, select

from cchc.settings import Settings
from cli.demo import headlines
from cli.simlink import world_spec
from evidence import Observation, Snapshot, SnapshotBlob
from evidence.verify import verify
from indicators.observed import DOSSIER_METRICS, SCORE_METRICS, city_ranks, raw_figures
from sim import Simulation

pytestmark = pytest.mark.browser

PROBES = ["availability", "news", "procedures", "service_stats"]
# What the public fields cannot give: no MaThuTuc to compare with the national database, no detail endpoint.
NOT_PUBLIC = {
    "tthc_complete_7": "GetChiTietTTHC",
    "tthc_reference_complete": "GetChiTietTTHC",
    "tthc_reference": "MaThuTuc",
    "tthc_reference_missing": "MaThuTuc",
}
ABSENT = "xa-thanh-tan"  # the unit the national reports leave out in the wrong-ids run


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


def crawl(
    settings: Settings, sim: Simulation, tmp_path: Path, with_browser: bool
) -> tuple[Settings, Any, Any, dict[str, Any]]:
    target = pointed(settings, sim)
    store = open_test_store(tmp_path)
    report = run_probes(target, store, PROBES, with_browser=with_browser)
    return target, store, report, sim.truth()


def assert_ok_figures_equal_the_truth(figures: pd.DataFrame, truth: dict[str, Any]) -> None:
    ok = figures[figures["status"] == "ok"]
    assert len(ok) > 4000
    wrong = [
        (r.unit, r.metric, r.period, r.value, expected_value(truth, r.unit, r.metric, r.period))
        for r in ok.itertuples()
        if r.value != expected_value(truth, r.unit, r.metric, r.period)
    ]
    assert wrong == []


def assert_evidence_verifies(store: Any) -> None:
    report_check = verify(store.engine, store.blobs)
    assert report_check.clean and report_check.unsigned_after_last_checkpoint == 0
    with Session(store.engine) as session:
        linked = session.exec(select(Observation.snapshot_id).distinct()).all()
        known = set(session.exec(select(Snapshot.id)).all())
        assert set(linked) <= known


def test_a_full_crawl_equals_the_ground_truth_and_verifies(
    settings: Settings, full_crawl: FullCrawl, truth: dict[str, Any], tmp_path: Path
) -> None:
    # The run's crawl of the whole simulation (with the browser, on a simulation of its own), copied here.
    target, store = full_crawl.copy(settings, tmp_path)
    report, traps = full_crawl.report, full_crawl.traps
    assert report.status == "completed" and report.counts.parse_failures == 0, report.counts.failures
    assert set(report.counts.snapshots) == {"ok"}
    assert traps == {}  # no write, payment, login or personal-data endpoint was ever called
    figures = raw_figures(store.engine, target)
    assert_ok_figures_equal_the_truth(figures, truth)
    not_ok = figures[figures["status"] != "ok"]
    assert set(not_ok["unit"]) <= {"van-phong"} and set(not_ok["status"]) <= {"na"}
    for unit in target.units_in_inspection():
        assert all(h.matches for h in headlines(figures, truth, unit.id, target.inspection.year)), unit.id
    assert {o.attributes["method"] for o in observations(store, "unit_match")} == {"id"}
    # The city's own rank among the province's districts, beside the units' ranks.
    ranks = city_ranks(store.engine)
    assert set(ranks["period"]) >= {"2023", "2023-Q3"} and (ranks["of"] == 9).all()

    assert_evidence_verifies(store)
    with Session(store.engine) as session:
        browser_roles = set(
            session.exec(
                select(SnapshotBlob.role)
                .join(Snapshot, col(Snapshot.id) == col(SnapshotBlob.snapshot_id))
                .where(Snapshot.render == "browser")
            ).all()
        )
    assert {"dom", "screenshot", "subresponse"} <= browser_roles


def test_on_the_public_contract_figures_equal_the_truth_or_are_missing_with_the_reason(
    settings: Settings, tmp_path: Path
) -> None:
    spec = replace(world_spec(settings), contract="public")
    with Simulation(spec) as sim:
        target, store, report, truth = crawl(settings, sim, tmp_path, with_browser=True)
        traps = sim.trap_calls()
    assert report.status == "completed" and report.counts.parse_failures == 0, report.counts.failures
    assert traps == {}
    # The portal has no detail endpoint: asked once per list, answered 404, and not asked again.
    assert report.counts.snapshots["http-error"] <= len(target.units_in_inspection())
    figures = raw_figures(store.engine, target)
    assert_ok_figures_equal_the_truth(figures, truth)
    not_ok = figures[(figures["status"] != "ok") & (figures["unit"] != "van-phong")]
    assert set(not_ok["status"]) == {"missing"}
    assert set(not_ok["metric"]) == set(NOT_PUBLIC)
    for r in not_ok.itertuples():
        assert NOT_PUBLIC[r.metric] in r.reason, (r.unit, r.metric, r.reason)
    # What the public fields do give is there for every unit with procedures, phòng included.
    listed = figures[(figures["metric"] == "tthc_listed") & (figures["status"] == "ok")]
    assert set(listed["unit"]) == {u.id for u in target.units_in_inspection() if u.id != "van-phong"}
    assert_evidence_verifies(store)


def wrong_ids(settings: Settings) -> Settings:
    """Every configured national id and code replaced by one the portal does not know."""
    city = settings.city.model_copy(update={"national_id": "9990000", "ma_coquan": "999.00.00.H53"})
    units = [
        u.model_copy(update={"national_id": f"999{n:04d}", "ma_coquan": f"999.{n:02d}.99.H53"})
        if u.national_id
        else u
        for n, u in enumerate(settings.unit, start=1)
    ]
    return settings.model_copy(update={"city": city, "unit": units})


def test_with_wrong_ids_units_are_found_by_name_and_an_absent_unit_is_a_named_finding(
    settings: Settings, tmp_path: Path
) -> None:
    spec = world_spec(settings)
    # The national reports name some units their own way, and leave one of ours out.
    renamed = {"phuong-4": "Phường 4", "xa-binh-minh": "Ủy ban nhân dân xã Bình Minh"}
    units = tuple(
        replace(u, national_id=None, ma_coquan=None)
        if u.id == ABSENT
        else replace(u, national_name=renamed.get(u.id))
        for u in spec.units
    )
    spec = replace(spec, units=units, city=replace(spec.city, national_name="UBND TP. Tây Ninh"))
    with Simulation(spec) as sim:
        target, store, report, truth = crawl(wrong_ids(settings), sim, tmp_path, with_browser=False)
    assert report.status == "completed" and report.counts.parse_failures == 0, report.counts.failures
    figures = raw_figures(store.engine, target)
    assert_ok_figures_equal_the_truth(figures, truth)
    wards = [u.id for u in target.units_in_inspection() if u.kind != "phong"]
    found = figures[figures["status"] == "ok"]
    for ward in set(wards) - {ABSENT}:
        mine = found[found["unit"] == ward]
        assert set(mine["metric"]) >= set(DOSSIER_METRICS) | set(SCORE_METRICS), ward
    # Each match is recorded, with how it was made: by name, the configured id and code being wrong.
    national = [o for o in observations(store, "unit_match") if o.attributes["scope"] == "national"]
    methods = {(o.attributes["wanted"], o.attributes["method"]) for o in national if o.value}
    assert methods == {(w, "name") for w in ["city", *wards] if w != ABSENT}
    assert all(o.attributes["differs"]["id"][0].startswith("999") for o in national if o.value)
    # The absent unit: every dossier count and score is missing, with a reason that names it.
    absent = figures[(figures["unit"] == ABSENT) & figures["metric"].isin([*DOSSIER_METRICS, *SCORE_METRICS])]
    assert len(absent) and set(absent["status"]) == {"missing"}
    assert all(r.startswith(f"{ABSENT} (UBND Xã Thạnh Tân): no row matches by id") for r in absent["reason"])
    assert set(absent["metric"]) == set(DOSSIER_METRICS) | set(SCORE_METRICS)
    not_ok = figures[(figures["status"] != "ok") & (figures["unit"] != "van-phong")]
    assert set(not_ok["unit"]) == {ABSENT}
    # Every row of every report was kept, ours or not, keyed by the agency's national id, code and name.
    rows = [o for o in observations(store, "report_row") if o.period == "2023-09"]
    names = {o.attributes["name"] for o in rows if o.attributes["service"] == "report_tinh_766_service"}
    assert {"Phường 4", "UBND TP. Tây Ninh", "Sở Tư pháp"} <= names
    assert all(o.attributes["national_id"] and o.attributes["code"] for o in rows)
    assert_evidence_verifies(store)
