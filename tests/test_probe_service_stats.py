"""The service_stats probe against the simulated national portal over real HTTP, and its parser on saved bodies.

The end-to-end tests crawl with the real fetcher into a real SQLite evidence store and compare the stored
observations with the simulation's ground truth; the parser tests feed it literal rest.jsp answers shaped as
in portals.md §6 (every value a string).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from probe_helpers import FullCrawl
from sqlmodel import Session, select

from cchc.settings import Settings
from cli.simlink import point_at
from cli.wiring import fetch_policy
from conftest import SimulationFactory
from crawler import HttpFetcher, Outcome, host_key
from evidence import EvidenceStore
from evidence.models import Observation, ParseFailure, Snapshot
from probes import PROBES
from probes._base import LayoutNotRecognised, SnapshotView, SubView
from probes._national import ensure_cookies, rest_target
from probes._runner import CrawlReport, crawl
from probes._session import CrawlSession
from probes.service_stats import (
    BY_FIELD_SERVICE,
    DOSSIER_METRICS,
    I766_SERVICE,
    MONTHLY_SERVICE,
    OPTIONAL_DOSSIER_METRICS,
    PROBE,
    SCORE_METRICS,
    ReportPeriod,
    by_field_params,
    i766_params,
    monthly_params,
    months_to_crawl,
    periods_to_crawl,
)
from sim import FaultSpec, Simulation
from sim.truth import periods as truth_periods
from sim.world import CITY

EMPTY_MONTHS = ("2023-10", "2023-11", "2023-12")  # after the simulation's as-of date (30/9/2023)


# --- helpers ------------------------------------------------------------------------------------------------


def crawl_settings(settings: Settings, sim: Simulation) -> Settings:
    pointed = point_at(settings, sim.urls)
    politeness = pointed.politeness.model_copy(update={"min_delay_s": 0, "latency_factor": 0})
    return pointed.model_copy(update={"politeness": politeness})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EvidenceStore]:
    opened = EvidenceStore.open(f"sqlite:///{tmp_path}/e.sqlite3", tmp_path / "blobs", tmp_path / "k.pem")
    yield opened
    opened.close()


def run_crawl(settings: Settings, store: EvidenceStore, *, with_browser: bool = False) -> CrawlReport:
    units = settings.units_in_inspection()
    return asyncio.run(
        crawl(
            settings,
            store,
            [PROBE],
            units,
            policy=fetch_policy(settings),
            trigger="test",
            with_browser=with_browser,
        )
    )


def observations(store: EvidenceStore) -> list[Observation]:
    with Session(store.engine) as db:
        return list(db.exec(select(Observation).where(Observation.probe == PROBE.name)).all())


def snapshots(store: EvidenceStore) -> dict[int, Snapshot]:
    with Session(store.engine) as db:
        return {s.id: s for s in db.exec(select(Snapshot)).all() if s.id is not None}


def parse_failures(store: EvidenceStore) -> list[ParseFailure]:
    with Session(store.engine) as db:
        return list(db.exec(select(ParseFailure)).all())


def assert_matches_truth(store: EvidenceStore, settings: Settings, truth: dict[str, Any]) -> None:
    """Every inspected unit's dossier counts per month and 766 scores per period are exactly the truth's."""
    found = observations(store)
    kept = snapshots(store)
    assert found, "the crawl kept no observations"
    for obs in found:
        assert obs.snapshot_id in kept, obs
        assert kept[obs.snapshot_id].outcome == str(Outcome.OK)
    counted = DOSSIER_METRICS | OPTIONAL_DOSSIER_METRICS
    cells = Counter((o.unit, o.metric, o.period) for o in found if o.metric in counted | SCORE_METRICS)
    assert max(cells.values()) == 1, "one observation per unit, metric and period"

    dossiers: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    scores: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for obs in found:
        if obs.unit is None or obs.value is None:
            continue
        if obs.metric in counted:
            dossiers[obs.unit][obs.period][obs.metric] = obs.value
        elif obs.metric in SCORE_METRICS:
            scores[obs.unit][obs.period][obs.metric] = obs.value

    for unit in settings.units_in_inspection():
        expected_units = truth["units"][unit.id]
        for month, cell in expected_units["months"].items():
            expected = {m: float(v) for m, v in cell.items() if m in counted}
            assert dossiers[unit.id].get(month, {}) == expected, (unit.id, month)
        if unit.kind == "phong" and not unit.dvc_linh_vuc:
            mine = [o for o in found if o.unit == unit.id and o.metric in DOSSIER_METRICS]
            assert mine == [], f"{unit.id} has no fields: its dossiers are N/A, not zero"
        assert {p: dict(v) for p, v in scores[unit.id].items()} == expected_units["i766"], unit.id
        months_seen = set(dossiers[unit.id])
        assert months_seen <= set(expected_units["months"]), (
            unit.id,
            months_seen - set(expected_units["months"]),
        )


# --- end to end ------------------------------------------------------------------------------------------------


def test_crawl_finds_the_truths_dossier_counts_and_766_scores(
    simulation: Simulation, settings: Settings, truth: dict[str, Any], full_crawl: FullCrawl, tmp_path: Path
) -> None:
    report = full_crawl.report
    _, store = full_crawl.copy(settings, tmp_path)
    assert report.status == "completed"
    assert report.counts.parse_failures == 0 and report.counts.failures == []
    assert_matches_truth(store, settings, truth)

    # The city's own row is kept apart (unit None), with the city one-stop desk's counts.
    city = [
        o
        for o in observations(store)
        if o.unit is None and o.metric == "hs_received" and o.period == "2023-09"
    ]
    assert len(city) == 1 and city[0].attributes["agency"] == "city"
    desk = [d for d in simulation.world.dossiers if d.agency == CITY and d.month == "2023-09"]
    assert city[0].value == sum(d.received for d in desk)

    # The phòng's attribution is recorded with each summed observation.
    tu_phap = next(o for o in observations(store) if o.unit == "phong-tu-phap" and o.metric == "hs_received")
    assert tu_phap.attributes["attribution"] == "dvc_linh_vuc of config"
    assert set(tu_phap.attributes["fields"]) <= set(settings.unit_by_id("phong-tu-phap").dvc_linh_vuc)


def test_periods_after_the_as_of_date_are_empty_reports_not_zeros(
    settings: Settings, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    _, store = full_crawl.copy(settings, tmp_path)
    found = observations(store)
    empty = {(o.period, o.attributes["service"]) for o in found if o.metric == "report_empty"}
    assert empty == {
        *((m, s) for m in EMPTY_MONTHS for s in (MONTHLY_SERVICE, BY_FIELD_SERVICE, I766_SERVICE)),
        ("2023-Q4", I766_SERVICE),
    }
    assert all(o.unit is None and o.value is None for o in found if o.metric == "report_empty")
    late = [o for o in found if o.period in (*EMPTY_MONTHS, "2023-Q4") and o.metric != "report_empty"]
    assert late == []


def test_the_crawl_reaches_rest_jsp_through_the_bot_protection_because_of_ensure_cookies(
    simulation: Simulation, settings: Settings, store: EvidenceStore
) -> None:
    assert settings.sim.national_bot_protection
    crawling = crawl_settings(settings, simulation)
    target = rest_target(crawling, monthly_params(crawling, ReportPeriod(2023, month=6)), probe=PROBE.name)

    async def fetch_with_and_without_cookies() -> tuple[Any, Any, Any]:
        run = store.begin_run("test", [PROBE.name], [])
        assert run.id is not None
        async with HttpFetcher(fetch_policy(crawling)) as fetcher:
            bare = await fetcher.fetch(target)
            session = CrawlSession(crawling, store, fetcher, run.id)
            await ensure_cookies(session, PROBE)
            snapshot, parsed = await session.visit(PROBE, target)
        store.finish_run(run.id)
        return bare, snapshot, parsed

    bare, snapshot, parsed = asyncio.run(fetch_with_and_without_cookies())
    assert bare.outcome is Outcome.HTTP_ERROR and bare.status == 403
    assert snapshot.outcome == str(Outcome.OK) and parsed is not None
    assert {f.unit for f in parsed.found if f.metric == "hs_received"} >= {"phuong-1", "xa-thanh-tan"}


def test_a_crawl_fetches_the_cookie_page_once_before_its_rest_calls(
    settings: Settings, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    target, store = full_crawl.copy(settings, tmp_path)
    # The run's crawl has every probe: the cookie page is fetched once for all of them (whichever asks first),
    # before the first rest.jsp call of any.
    kept = sorted(snapshots(store).values(), key=lambda s: s.seq)
    (cookie_page,) = [s for s in kept if s.label == "session cookies"]
    rest = [s for s in kept if s.url.endswith(target.sources.dvc_quocgia.rest_path)]
    assert rest and any(s.probe == PROBE.name for s in rest)
    assert cookie_page.seq < min(s.seq for s in rest)
    assert all(s.outcome == str(Outcome.OK) for s in kept)


def test_markup_drift_is_a_parse_failure_naming_host_and_parser_not_zero(
    make_simulation: SimulationFactory, settings: Settings, store: EvidenceStore
) -> None:
    with make_simulation(FaultSpec("dvc_quocgia", "drift")) as sim:
        report = run_crawl(crawl_settings(settings, sim), store)
        host = host_key(sim.url("dvc_quocgia"))
    failures = parse_failures(store)
    assert report.counts.parse_failures == len(failures) > 0
    by_parser = Counter(f.parser for f in failures)
    today = datetime.now(ZoneInfo(settings.inspection.timezone)).date()
    months = len(months_to_crawl(settings.inspection.year, today))
    assert by_parser == {
        "service_stats/monthly-summary": months,
        "service_stats/field-summary": months,
        "service_stats/i766-report": 1,  # the province list: no province id, so no 766 periods
    }
    for failure in failures:
        assert host in failure.reason and "not an array of records" in failure.reason, failure.reason
        assert failure.probe == PROBE.name and failure.parser_version == PROBE.version
    found = observations(store)
    assert [o for o in found if o.metric in DOSSIER_METRICS | SCORE_METRICS | {"report_empty"}] == []


def test_a_503_at_first_still_ends_in_complete_results(
    make_simulation: SimulationFactory, settings: Settings, store: EvidenceStore
) -> None:
    with make_simulation(FaultSpec("dvc_quocgia", "http-503", first=2, retry_after_s=0)) as sim:
        report = run_crawl(crawl_settings(settings, sim), store)
        truth = sim.truth()
    assert report.status == "completed" and report.counts.parse_failures == 0
    assert max(s.attempts for s in snapshots(store).values()) > 1, "the 503s were retried"
    assert_matches_truth(store, settings, truth)


def test_a_stored_snapshot_parses_again_to_the_same_observations(
    settings: Settings, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    from probes._reparse import stored_view

    _, store = full_crawl.copy(settings, tmp_path)
    kept = snapshots(store)
    found = observations(store)
    snapshot = next(s for s in kept.values() if s.label == f"{MONTHLY_SERVICE} 2023-06")
    assert snapshot.id is not None
    view = stored_view(store, snapshot, store.blob_links(snapshot.id))
    again = {(f.unit, f.metric, f.period, f.value) for f in PROBE.parse(view, settings).found}
    stored = {(o.unit, o.metric, o.period, o.value) for o in found if o.snapshot_id == snapshot.id}
    assert again == stored and any(p == "2023-06" for _, _, p, _ in again)


@pytest.mark.browser
def test_the_766_dashboard_is_captured_with_dom_screenshot_and_its_json(
    simulation: Simulation, settings: Settings, store: EvidenceStore
) -> None:
    pytest.importorskip(
        "crawler.browser", reason="the browser renderer (crawler/browser.py) is not importable yet"
    )
    crawling = crawl_settings(settings, simulation)
    units = [crawling.unit_by_id("phuong-1")]
    report = asyncio.run(
        crawl(
            crawling, store, [PROBE], units, policy=fetch_policy(crawling), trigger="test", with_browser=True
        )
    )
    assert report.status == "completed"
    rendered = [s for s in snapshots(store).values() if s.render == "browser"]
    assert len(rendered) == 1 and rendered[0].outcome == str(Outcome.OK), rendered
    assert rendered[0].id is not None
    links = store.blob_links(rendered[0].id)
    roles = Counter(link.role for link in links)
    assert roles["dom"] == 1 and roles["screenshot"] == 1
    rest_json = [
        json.loads(store.blobs.get(link.sha256))
        for link in links
        if link.role == "subresponse" and (link.url or "").endswith("/jsp/rest.jsp")
    ]
    assert rest_json and all(isinstance(rows, list) and rows for rows in rest_json)
    dashboard = [o for o in observations(store) if o.metric == "i766_dashboard_rows"]
    assert len(dashboard) == 1 and (dashboard[0].value or 0) > 0


# --- what to fetch ---------------------------------------------------------------------------------------------


def test_766_periods_are_the_truths_periods_up_to_the_as_of_date(simulation: Simulation) -> None:
    as_of = simulation.world.spec.as_of
    assert [p.key for p in periods_to_crawl(2023, as_of)] == truth_periods(simulation.world.months)
    assert [p.key for p in months_to_crawl(2023, as_of)] == simulation.world.months


def test_months_stop_at_the_current_month() -> None:
    assert [p.key for p in months_to_crawl(2023, date(2022, 3, 5))] == ["2022-01", "2022-02", "2022-03"]
    assert len(months_to_crawl(2023, date(2026, 1, 1))) == 24
    keys = [p.key for p in periods_to_crawl(2023, date(2022, 4, 1))]
    assert keys == ["2022", "2022-H1", "2022-Q1", "2022-Q2", "2022-01", "2022-02", "2022-03", "2022-04"]
    assert [ReportPeriod(2023, quarter=4).end, ReportPeriod(2024, month=2).end] == [
        date(2023, 12, 31),
        date(2024, 2, 29),
    ]


def test_jobs_skip_what_no_unit_needs(settings: Settings) -> None:
    van_phong = settings.unit_by_id("van-phong")  # a phòng without fields and without national ids
    assert PROBE.jobs(settings, [van_phong]) == []
    ward_jobs = PROBE.jobs(settings, [settings.unit_by_id("phuong-1")])
    names = [j.name for j in ward_jobs]
    assert "i766/dashboard" in names and "dossiers/2023-09" in names and "i766/2023-Q3" in names
    assert all(j.probe == PROBE.name and j.units == ("phuong-1",) for j in ward_jobs)


def test_the_probe_is_registered() -> None:
    assert PROBES["service_stats"] is PROBE


# --- the parser on saved bodies ---------------------------------------------------------------------------


def rest_view(settings: Settings, params: dict[str, Any], body: str) -> SnapshotView:
    target = rest_target(settings, params, probe=PROBE.name)
    return SnapshotView(
        url=target.url,
        method="POST",
        request_headers=target.headers,
        request_body=target.body,
        headers=(("Content-Type", "application/json;charset=UTF-8"),),
        body=body.encode("utf-8"),
    )


MONTHLY_BODY = """[
 {"ID": "0000450", "TEN": "UBND thành phố Tây Ninh", "MA_COQUAN": "000.00.20.H53", "CAPDONVIID": "3",
  "HS_TOTAL": "1.204", "HTN_TRUCTIEP_TOTAL": "700", "HTN_BUUCHINH_TOTAL": "4", "HTN_TRUCTUYEN_TOTAL": "500",
  "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": "0", "DB_TOTAL": "1180", "DXLTH_TOTAL": "1150", "DXLQH_TOTAL": "20",
  "HTDH_TOTAL": "1140", "HTQH_TOTAL": "20", "GDTT_TOTAL": "30", "GDTTQG_TOTAL": "18", "GDTTDP_TOTAL": "12",
  "NTTDXLTH_TOTAL": "3", "NTTDXLQH_TOTAL": "1", "TILE": "98.29", "TILE_DB": "98.01"},
 {"ID": "0000451", "TEN": "UBND Phường 1", "MA_COQUAN": "000.01.20.H53", "CAPDONVIID": "2",
  "HS_TOTAL": "152", "HTN_TRUCTIEP_TOTAL": "30", "HTN_BUUCHINH_TOTAL": "0", "HTN_TRUCTUYEN_TOTAL": "122",
  "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": "0", "DB_TOTAL": "150", "DXLTH_TOTAL": "149", "DXLQH_TOTAL": "1",
  "HTDH_TOTAL": "148", "HTQH_TOTAL": "1", "GDTT_TOTAL": "9", "GDTTQG_TOTAL": "5", "GDTTDP_TOTAL": "4",
  "NTTDXLTH_TOTAL": "0", "NTTDXLQH_TOTAL": "0", "TILE": "99.33", "TILE_DB": "98.68"},
 {"ID": "0009999", "TEN": "UBND Xã Khác", "MA_COQUAN": "000.99.30.H53", "CAPDONVIID": "2",
  "HS_TOTAL": "7", "HTN_TRUCTIEP_TOTAL": "7", "HTN_BUUCHINH_TOTAL": "0", "HTN_TRUCTUYEN_TOTAL": "0",
  "DB_TOTAL": "7", "DXLTH_TOTAL": "7", "DXLQH_TOTAL": "0", "HTDH_TOTAL": "7", "HTQH_TOTAL": "0",
  "GDTTQG_TOTAL": "0", "GDTTDP_TOTAL": "0", "NTTDXLTH_TOTAL": "0", "NTTDXLQH_TOTAL": "0", "TILE": "100"}
]"""


def test_monthly_summary_gives_each_wards_counts_for_the_requested_month(settings: Settings) -> None:
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)), MONTHLY_BODY)
    found = PROBE.parse(view, settings).found
    ward = {f.metric: f for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS}
    assert {f.period for f in found} == {"2023-06"}
    assert set(ward) == DOSSIER_METRICS
    assert ward["hs_received"].attributes["match"] == "id"
    assert ward["hs_received"].value == 152 and ward["hs_received_online"].value == 122
    assert ward["hs_processed_late"].value == 1 and ward["hs_paid_online_dvcqg"].value == 5
    assert ward["hs_synced"].attributes["agency"] == "0000451"
    assert ward["hs_synced"].attributes["ma_coquan"] == "000.01.20.H53"
    assert ward["hs_synced"].attributes["service"] == MONTHLY_SERVICE
    assert ward["hs_synced"].attributes["rates"] == {"TILE": "99.33", "TILE_DB": "98.68"}
    city = {f.metric: f for f in found if f.unit is None and f.metric in DOSSIER_METRICS}
    assert city["hs_received"].value == 1204  # "1.204": a thousands dot
    assert city["hs_received"].attributes["agency"] == "city"
    # A row of an agency we do not inspect is kept, keyed by its id, code and name, and gives no figures.
    other = [f for f in found if f.attributes.get("national_id") == "0009999"]
    assert [(f.metric, f.unit) for f in other] == [("report_row", None)]
    assert other[0].attributes["code"] == "000.99.30.H53" and other[0].attributes["name"] == "UBND Xã Khác"
    assert other[0].attributes["values"]["HS_TOTAL"] == 7
    assert not [f for f in found if f.metric in DOSSIER_METRICS and f.attributes.get("id") == "0009999"]
    rows = next(f for f in found if f.metric == "report_rows")
    assert rows.value == 3 and rows.attributes["matched"] == 2
    # Every ward of the city is accounted for: the two it lists matched, the others named as not found.
    matches = {f.attributes["wanted"]: f for f in found if f.metric == "unit_match"}
    assert matches["phuong-1"].value == 1 and matches["phuong-1"].attributes["method"] == "id"
    assert matches["city"].value == 1
    assert matches["phuong-2"].value == 0 and matches["phuong-2"].attributes["problem"] == "none"
    assert "phuong-2 (UBND Phường 2): no row matches by id 0000452, code 000.02.20.H53 or name" in (
        matches["phuong-2"].text or ""
    )


def test_a_ward_row_is_found_by_name_when_its_ids_are_wrong(settings: Settings) -> None:
    rows = json.loads(MONTHLY_BODY)
    rows[1].update({"ID": "7777777", "MA_COQUAN": "000.77.20.H53", "TEN": "Ủy ban nhân dân phường I"})
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    ward = {f.metric: f for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS}
    assert set(ward) == DOSSIER_METRICS and ward["hs_received"].value == 152
    assert ward["hs_received"].attributes["match"] == "name"
    (match,) = [f for f in found if f.metric == "unit_match" and f.unit == "phuong-1"]
    assert match.attributes["differs"] == {
        "id": ["0000451", "7777777"],
        "code": ["000.01.20.H53", "000.77.20.H53"],
    }


def test_two_rows_with_the_units_name_are_a_finding_not_a_guess(settings: Settings) -> None:
    rows = json.loads(MONTHLY_BODY)
    rows[1].update({"ID": "7777777", "MA_COQUAN": ""})
    rows[2].update({"ID": "7777778", "MA_COQUAN": "", "TEN": "Phường 1"})
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    assert not [f for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS]
    (match,) = [f for f in found if f.metric == "unit_match" and f.unit == "phuong-1"]
    assert match.value == 0 and match.attributes["problem"] == "ambiguous"
    assert "'UBND Phường 1', id 7777777 (row 2" in (match.text or "")
    assert "'Phường 1', id 7777778 (row 3" in (match.text or "")


def test_a_count_field_the_report_lacks_is_said_not_zeroed(settings: Settings) -> None:
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)),
                     MONTHLY_BODY.replace('"DB_TOTAL": "150", ', ""))  # fmt: skip
    found = PROBE.parse(view, settings).found
    ward = {f.metric for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS}
    assert ward == DOSSIER_METRICS - {"hs_synced"}
    (match,) = [f for f in found if f.metric == "unit_match" and f.unit == "phuong-1"]
    assert match.attributes["fields_absent"] == ["hs_synced"]


def test_open_dossier_and_feedback_counts_are_read_when_the_summary_has_them(settings: Settings) -> None:
    """Fields no public source shows (portals.md §3.3): read when present, and their absence is no failure."""
    rows = json.loads(MONTHLY_BODY)
    rows[1].update({"DGXLTH_TOTAL": "7", "DGXLQH_TOTAL": "2", "NTTDGXLTH_TOTAL": "1", "NTTDGXLQH_TOTAL": "0"})
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    counts = DOSSIER_METRICS | OPTIONAL_DOSSIER_METRICS
    ward = {f.metric: f.value for f in found if f.unit == "phuong-1" and f.metric in counts}
    assert set(ward) == counts
    assert (ward["hs_pending_in_time"], ward["hs_pending_overdue"]) == (7, 2)
    assert (ward["pakn_pending_in_time"], ward["pakn_pending_overdue"]) == (1, 0)
    city = {f.metric for f in found if f.unit is None and f.attributes.get("agency") == "city"}
    assert not city & OPTIONAL_DOSSIER_METRICS, "the city's row has no such fields: nothing is made up"


def test_field_summary_sums_open_counts_only_when_every_field_has_them(settings: Settings) -> None:
    rows = json.loads(BY_FIELD_BODY)
    for row in rows:
        row.update({"DGXLTH_TOTAL": "2", "DGXLQH_TOTAL": "1"})
    del rows[1]["DGXLQH_TOTAL"]  # Chứng thực lacks one: Phòng Tư pháp's sum of it would be too small
    view = rest_view(settings, by_field_params(settings, ReportPeriod(2023, month=3)), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    tu_phap = {f.metric: f.value for f in found if f.unit == "phong-tu-phap"}
    assert tu_phap["hs_pending_in_time"] == 4 and "hs_pending_overdue" not in tu_phap
    land = {f.metric: f.value for f in found if f.unit == "phong-tai-nguyen-moi-truong"}
    assert (land["hs_pending_in_time"], land["hs_pending_overdue"]) == (2, 1)


def test_a_ward_row_matches_by_ma_coquan_when_its_id_is_absent(settings: Settings) -> None:
    rows = json.loads(MONTHLY_BODY)
    del rows[1]["ID"]
    view = rest_view(settings, monthly_params(settings, ReportPeriod(2023, month=6)), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    assert {
        f.metric for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS
    } == DOSSIER_METRICS
    assert {f.attributes["match"] for f in found if f.unit == "phuong-1" and f.metric in DOSSIER_METRICS} == {
        "code"
    }


BY_FIELD_BODY = """[
 {"LINHVUC_ID": "31", "TEN_LINHVUC": "Hộ tịch", "HS_TOTAL": "40", "HTN_TRUCTIEP_TOTAL": "10",
  "HTN_BUUCHINH_TOTAL": "0", "HTN_TRUCTUYEN_TOTAL": "30", "DB_TOTAL": "39", "DXLTH_TOTAL": "38",
  "DXLQH_TOTAL": "2", "HTDH_TOTAL": "37", "HTQH_TOTAL": "2", "GDTTQG_TOTAL": "1", "GDTTDP_TOTAL": "0",
  "NTTDXLTH_TOTAL": "1", "NTTDXLQH_TOTAL": "0", "TILE": "95.00"},
 {"LINHVUC_ID": "32", "TEN_LINHVUC": "Chứng thực", "HS_TOTAL": "60", "HTN_TRUCTIEP_TOTAL": "50",
  "HTN_BUUCHINH_TOTAL": "1", "HTN_TRUCTUYEN_TOTAL": "9", "DB_TOTAL": "60", "DXLTH_TOTAL": "60",
  "DXLQH_TOTAL": "0", "HTDH_TOTAL": "60", "HTQH_TOTAL": "0", "GDTTQG_TOTAL": "2", "GDTTDP_TOTAL": "3",
  "NTTDXLTH_TOTAL": "0", "NTTDXLQH_TOTAL": "1", "TILE": "100"},
 {"LINHVUC_ID": "77", "TEN_LINHVUC": "Đất đai", "HS_TOTAL": "12", "HTN_TRUCTIEP_TOTAL": "12",
  "HTN_BUUCHINH_TOTAL": "0", "HTN_TRUCTUYEN_TOTAL": "0", "DB_TOTAL": "12", "DXLTH_TOTAL": "11",
  "DXLQH_TOTAL": "1", "HTDH_TOTAL": "11", "HTQH_TOTAL": "1", "GDTTQG_TOTAL": "0", "GDTTDP_TOTAL": "0",
  "NTTDXLTH_TOTAL": "0", "NTTDXLQH_TOTAL": "0", "TILE": "91.67"},
 {"LINHVUC_ID": "90", "TEN_LINHVUC": "Lĩnh vực không phân công", "HS_TOTAL": "5", "HTN_TRUCTIEP_TOTAL": "5",
  "HTN_BUUCHINH_TOTAL": "0", "HTN_TRUCTUYEN_TOTAL": "0", "DB_TOTAL": "5", "DXLTH_TOTAL": "5",
  "DXLQH_TOTAL": "0", "HTDH_TOTAL": "5", "HTQH_TOTAL": "0", "GDTTQG_TOTAL": "0", "GDTTDP_TOTAL": "0",
  "NTTDXLTH_TOTAL": "0", "NTTDXLQH_TOTAL": "0", "TILE": "100"}
]"""


def test_field_summary_is_summed_per_phong_over_its_fields(settings: Settings) -> None:
    view = rest_view(settings, by_field_params(settings, ReportPeriod(2023, month=3)), BY_FIELD_BODY)
    found = PROBE.parse(view, settings).found
    tu_phap = {f.metric: f for f in found if f.unit == "phong-tu-phap"}
    assert set(tu_phap) == DOSSIER_METRICS
    assert tu_phap["hs_received"].value == 100 and tu_phap["hs_received_online"].value == 39
    assert tu_phap["hs_processed_late"].value == 2 and tu_phap["pakn_late"].value == 1
    assert tu_phap["hs_received"].period == "2023-03"
    assert sorted(tu_phap["hs_received"].attributes["fields"]) == ["Chứng thực", "Hộ tịch"]
    assert tu_phap["hs_received"].attributes["attribution"] == "dvc_linh_vuc of config"
    assert {f.metric: f.value for f in found if f.unit == "phong-tai-nguyen-moi-truong"}["hs_received"] == 12
    assert not [f for f in found if f.unit == "van-phong"], "a phòng without fields gets nothing, not zero"
    # A phòng none of whose fields the report lists gets no counts: a zero could hide a renamed field.
    y_te = [f for f in found if f.unit == "phong-y-te"]
    assert [f.metric for f in y_te] == ["linh_vuc_not_reported"]
    rows = next(f for f in found if f.metric == "report_rows")
    assert rows.attributes["unattributed_fields"] == ["Lĩnh vực không phân công"]


I766_BODY = """[
 {"ID": "0000456", "TEN": "UBND Phường Ninh Sơn", "MA_COQUAN": "000.06.20.H53", "CAPDONVIID": "2", "ROW_STT": "5",
  "TONG_SCORE": "88.02", "CKMB": "18", "TDGQ": "19.5", "TTTT": "9.8", "CLGQ": "8.2", "MDHL": "17.9", "MDSH": "14.62"},
 {"ID": "0001003", "TEN": "Sở Tư pháp", "MA_COQUAN": "000.00.04.H53", "CAPDONVIID": "1", "ROW_STT": "6",
  "TONG_SCORE": "87.00", "CKMB": "17", "TDGQ": "19", "TTTT": "9", "CLGQ": "8", "MDHL": "17", "MDSH": "17"}
]"""


def test_766_report_gives_scores_and_rank_for_the_requested_period(settings: Settings) -> None:
    view = rest_view(settings, i766_params(ReportPeriod(2023, quarter=3), "417656"), I766_BODY)
    found = PROBE.parse(view, settings).found
    ninh_son = {f.metric: f for f in found if f.unit == "phuong-ninh-son" and f.metric in SCORE_METRICS}
    assert set(ninh_son) == SCORE_METRICS
    assert {f.period for f in ninh_son.values()} == {"2023-Q3"}
    assert ninh_son["i766_score_tong"].value == 88.02 and ninh_son["i766_score_mdsh"].value == 14.62
    assert ninh_son["i766_score_ckmb"].value == 18.0
    assert ninh_son["i766_score_tong"].attributes["rank"] == 5
    assert ninh_son["i766_score_tong"].attributes["ma_coquan"] == "000.06.20.H53"
    assert ninh_son["i766_score_tong"].attributes["name"] == "UBND Phường Ninh Sơn"
    assert {f.unit for f in found if f.metric in SCORE_METRICS} == {"phuong-ninh-son"}


@pytest.mark.parametrize(
    ("period", "key"),
    [
        (ReportPeriod(2022), "2022"),
        (ReportPeriod(2023, half=2), "2023-H2"),
        (ReportPeriod(2023, month=9), "2023-09"),
    ],
)
def test_766_period_is_read_from_the_request(settings: Settings, period: ReportPeriod, key: str) -> None:
    view = rest_view(settings, i766_params(period, "417656"), I766_BODY)
    assert {f.period for f in PROBE.parse(view, settings).found} == {key}


def test_the_citys_rank_among_the_districts_is_read_beside_the_units(settings: Settings) -> None:
    rows = json.loads(I766_BODY)
    district = {
        "CAPDONVIID": "3",
        "CKMB": "17",
        "TDGQ": "19",
        "TTTT": "9",
        "CLGQ": "8",
        "MDHL": "17",
        "MDSH": "17",
    }
    rows += [
        {**district, "ID": "0003000", "TEN": "UBND thị xã Hòa Thành", "MA_COQUAN": "000.00.30.H53", "ROW_STT": "2",
         "TONG_SCORE": "90.00"},
        {**district, "ID": "0007777", "TEN": "UBND TP. Tây Ninh", "MA_COQUAN": "000.00.77.H53", "ROW_STT": "7",
         "TONG_SCORE": "86.00"},
        {**district, "ID": "0003001", "TEN": "UBND huyện Gò Dầu", "MA_COQUAN": "000.00.31.H53", "ROW_STT": "9",
         "TONG_SCORE": "80.00"},
    ]  # fmt: skip
    view = rest_view(settings, i766_params(ReportPeriod(2023), "417656"), json.dumps(rows))
    found = PROBE.parse(view, settings).found
    (rank,) = [f for f in found if f.metric == "i766_rank_district"]
    assert rank.value == 2 and rank.attributes["of"] == 3 and rank.attributes["agency"] == "city"
    assert rank.attributes["match"] == "name"  # the configured id and code are not the report's
    assert rank.attributes["districts"] == ["UBND thị xã Hòa Thành", "UBND TP. Tây Ninh", "UBND huyện Gò Dầu"]


def test_766_province_list_resolves_the_province_by_name(settings: Settings) -> None:
    body = """[{"ID": "398126", "TEN": "Tỉnh An Giang", "MA_COQUAN": "000.00.00.H01", "CAPDONVIID": "0",
               "ROW_STT": "1", "TONG_SCORE": "90.1", "CKMB": "18", "TDGQ": "20", "TTTT": "9", "CLGQ": "10",
               "MDHL": "17", "MDSH": "16.1"},
              {"ID": "0000001", "TEN": "Tỉnh Tây Ninh", "MA_COQUAN": "000.00.00.H53", "CAPDONVIID": "0",
               "ROW_STT": "12", "TONG_SCORE": "84.51", "CKMB": "17.2", "TDGQ": "18.9", "TTTT": "9.1",
               "CLGQ": "8.0", "MDHL": "17.6", "MDSH": "13.7"}]"""
    view = rest_view(settings, i766_params(ReportPeriod(2023), 0), body)
    found = PROBE.parse(view, settings).found
    province = [f for f in found if f.metric == "i766_province"]
    assert len(province) == 1 and province[0].unit is None
    assert province[0].text == "Tỉnh Tây Ninh" and province[0].attributes["id"] == "0000001"
    assert not [f for f in found if f.metric in SCORE_METRICS]


def test_an_empty_report_is_recorded_as_empty_not_zero(settings: Settings) -> None:
    for params, service in (
        (monthly_params(settings, ReportPeriod(2023, month=12)), MONTHLY_SERVICE),
        (by_field_params(settings, ReportPeriod(2023, month=12)), BY_FIELD_SERVICE),
        (i766_params(ReportPeriod(2023, month=12), "417656"), I766_SERVICE),
    ):
        found = PROBE.parse(rest_view(settings, params, "[]"), settings).found
        assert [(f.metric, f.period, f.unit, f.value) for f in found] == [
            ("report_empty", "2023-12", None, None)
        ]
        assert found[0].attributes["service"] == service


def test_an_empty_page_after_a_full_one_is_the_end_of_the_list_not_an_empty_period(
    settings: Settings,
) -> None:
    view = rest_view(settings, i766_params(ReportPeriod(2023, quarter=1), "417656", page=2), "[]")
    found = PROBE.parse(view, settings).found
    assert [(f.metric, f.value) for f in found] == [("report_rows", 0)]


@pytest.mark.parametrize(
    ("params", "body", "expected"),
    [
        pytest.param(
            {"kind": "monthly"},
            '{"code": 0, "result": {"rows": [{"id": "0000451", "hs_total": "152"}]}}',
            "not an array of records",
            id="drifted-envelope",
        ),
        pytest.param(
            {"kind": "monthly"},
            "<html><body>Request Rejected</body></html>",
            "did not answer JSON",
            id="html-not-json",
        ),
        pytest.param(
            {"kind": "monthly"},
            MONTHLY_BODY.replace('"HS_TOTAL": "152"', '"HS_TOTAL": "n/a"'),
            "HS_TOTAL of 'UBND Phường 1'",
            id="malformed-count",
        ),
        pytest.param(
            {"kind": "monthly"},
            '[{"ID": "0000451", "TEN": "UBND Phường 1", "TILE": "99"}]',
            "none of the count fields",
            id="no-count-field",
        ),
        pytest.param(
            {"kind": "by_field"},
            BY_FIELD_BODY.replace('"HTN_TRUCTUYEN_TOTAL": "30"', '"HTN_TRUCTUYEN_TOTAL": ""'),
            "HTN_TRUCTUYEN_TOTAL of 'Hộ tịch'",
            id="empty-count-by-field",
        ),
        pytest.param(
            {"kind": "i766"},
            I766_BODY.replace('"88.02"', '"--"'),
            "TONG_SCORE of 'UBND Phường Ninh Sơn'",
            id="malformed-score",
        ),
        pytest.param(
            {"kind": "i766"},
            '[{"CAPDONVIID": "2", "TONG_SCORE": "80"}]',
            "has none of ID, MA_COQUAN, TEN",
            id="row-without-identity",
        ),
    ],
)
def test_an_unknown_shape_is_layout_not_recognised(
    settings: Settings, params: dict[str, str], body: str, expected: str
) -> None:
    period = ReportPeriod(2023, month=6)
    request = {
        "monthly": monthly_params(settings, period),
        "by_field": by_field_params(settings, period),
        "i766": i766_params(period, "417656"),
    }[params["kind"]]
    with pytest.raises(LayoutNotRecognised) as raised:
        PROBE.parse(rest_view(settings, request, body), settings)
    assert expected in raised.value.reason
    assert "dichvucong.gov.vn" in raised.value.reason
    assert raised.value.parser in ("monthly-summary", "field-summary", "i766-report")


def test_a_request_without_its_period_cannot_be_read(settings: Settings) -> None:
    params = {k: v for k, v in monthly_params(settings, ReportPeriod(2023, month=6)).items() if k != "p_nam"}
    with pytest.raises(LayoutNotRecognised, match="p_nam"):
        PROBE.parse(rest_view(settings, params, MONTHLY_BODY), settings)


DASHBOARD_DOM = """<html><body>
<select id="nam"><option value="2023" selected>2023</option><option value="2022">2022</option></select>
<select id="tinhtp"><option value="0">Tất cả</option><option value="417656">Tỉnh Tây Ninh</option></select>
<span id="select2-tinhtp-container" class="select2-selection__rendered">Tỉnh Tây Ninh</span>
<table class="table table-bordered" id="tblChiSo"><thead><tr><th>Hạng</th><th>Đơn vị</th><th>Điểm</th></tr></thead>
<tbody><tr><td>1</td><td>Sở Tư pháp</td><td>90.5</td></tr><tr><td>2</td><td>UBND Phường 3</td><td>88.02</td></tr></tbody>
</table></body></html>"""


def test_the_rendered_dashboard_reports_the_rows_it_shows(settings: Settings) -> None:
    url = settings.sources.dvc_quocgia.base_url + "/p/home/dvc-index-tinhthanhpho-tonghop.html"
    rest_url = settings.sources.dvc_quocgia.base_url + "/jsp/rest.jsp"
    view = SnapshotView(url=url, render="browser", dom=DASHBOARD_DOM, body=b"<html></html>",
                        subresponses=(SubView(rest_url, 200, b"[]"),))  # fmt: skip
    found = PROBE.parse(view, settings).found
    assert [(f.metric, f.period, f.value, f.text) for f in found] == [
        ("i766_dashboard_rows", "2023", 2, "Tỉnh Tây Ninh")
    ]
    assert found[0].attributes["first_row"] == ["1", "Sở Tư pháp", "90.5"]
    assert found[0].attributes["rest_calls"] == 1
    # A dashboard that shows something else is still kept as evidence: the parser does not fail on it.
    odd = SnapshotView(url=url, render="browser", dom="<html><body>Bảo trì</body></html>")
    assert PROBE.parse(odd, settings).found == []


def test_the_cookie_page_fetched_over_http_gives_no_observations(settings: Settings) -> None:
    url = settings.sources.dvc_quocgia.base_url + settings.sources.dvc_quocgia.bot_cookie_page
    view = SnapshotView(url=url, body=DASHBOARD_DOM.encode("utf-8"))
    assert PROBE.parse(view, settings).found == []
