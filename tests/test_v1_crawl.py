"""service_stats on api/v1: the periods the config reads from v1 are asked for there, over real HTTP on loopback,
and the group scores it finds for our wards equal the simulation's truth (the demo's check, on v1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from probe_helpers import observations, open_test_store, parse_failures, pointed, run_probes

import indicators
from cchc.settings import NationalApi, Settings
from cli.demo import headlines
from indicators.observed import SCORE_METRICS, raw_figures
from probes.national_v1 import ENDPOINTS
from sim import Simulation
from sim.sites.national_v1 import V1Api, root_id
from sim.spec import FaultSpec

V1_ONLY = [NationalApi(api="v1", rule_set="dvcqg-v1", valid_from=date(2019, 12, 9))]


def on_v1(settings: Settings, sim: Simulation, root: str | None = None) -> Settings:
    target = pointed(settings, sim)
    national = target.sources.dvc_quocgia.model_copy(
        update={"apis": V1_ONLY, "root_department_id": root_id(sim.world) if root is None else root}
    )
    return target.model_copy(update={"sources": target.sources.model_copy(update={"dvc_quocgia": national})})


def test_the_v1_scores_of_our_wards_equal_the_truth(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    target = on_v1(settings, simulation)
    store = open_test_store(tmp_path)
    try:
        report = run_probes(target, store, ["service_stats"])
        figures = raw_figures(store.engine, target)
        truth = simulation.truth()
        assert not report.counts.parse_failures, report.counts.failures
        v1_urls = [o for o in observations(store, "report_rows") if o.attributes.get("api") == "v1"]
        assert v1_urls, "no api/v1 answer was read"
        scores = figures[figures["metric"].isin(SCORE_METRICS) & (figures["status"] == "ok")]
        wards = [u.id for u in target.units_in_inspection() if u.kind != "phong" and u.id in truth["units"]]
        assert set(scores["unit"]) == set(wards)
        wrong = [
            (
                r.unit,
                r.metric,
                r.period,
                r.value,
                truth["units"][r.unit]["i766"].get(r.period, {}).get(r.metric),
            )
            for r in scores.itertuples()
            if r.value
            != pytest.approx(truth["units"][r.unit]["i766"].get(r.period, {}).get(r.metric), abs=1e-9)
        ]
        assert wrong == []
        assert not scores["period"].str.contains("-H").any()  # api/v1 has no half-years
        # The demo's headline (the year's total, the sum of the six groups v1 publishes) matches the truth.
        year = target.inspection.year
        for ward in wards:
            total = next(h for h in headlines(figures, truth, ward, year) if h.label == "766")
            assert total.found is not None and total.matches, (ward, total)
        # The reconciliation of the stored answers: every department's published group score is where its own
        # counts put it, except the discrepancies the simulation plants (truth lists them) and provide-online-tree
        # (no counts: unchecked).
        checks = indicators.reconcile_v1("2023-01..2023-08", settings=target, engine=store.engine)
        assert {c.endpoint for c in checks} == set(ENDPOINTS)
        # provide-online-tree publishes no counts: a discrepancy planted in CLGQ cannot show there.
        planted = {
            (d["unit"], d["period"], d["group"]) for d in truth["i766_discrepancies"] if d["group"] != "CLGQ"
        }
        scored = simulation.world.scored_wards()
        unit_of = {
            i: scored[a.id].id if a.id in scored else a.id for a, i, _ in V1Api(simulation.world).departments
        }
        months = {f"2023-{m:02d}" for m in range(1, 9)}
        differing = {(unit_of[c.department], c.period, c.group) for c in checks if c.finding}
        assert differing == {p for p in planted if p[1] in months}
        assert differing, "the simulation plants discrepancies in these months"
        assert {c.status for c in checks if c.endpoint == "provide-online-tree"} == {"unchecked"}
        # The wards were found by name (no v1 id configured), each match recorded.
        matches = [o for o in observations(store, "unit_match") if o.attributes.get("api") == "v1"]
        assert matches and all(o.value == 1.0 and o.attributes["method"] == "name" for o in matches)
    finally:
        store.close()


def test_a_configured_v1_id_is_matched_by_id(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    from sim.sites.national_v1 import V1Api

    api = V1Api(simulation.world)
    ward = next(u for u in settings.units_in_inspection() if u.kind != "phong" and u.national_id)
    ident = next(i for a, i, _ in api.departments if a.id == ward.national_id)
    units = [
        u.model_copy(update={"v1_department_id": ident}) if u.id == ward.id else u for u in settings.unit
    ]
    target = on_v1(settings.model_copy(update={"unit": units}), simulation)
    store = open_test_store(tmp_path)
    try:
        run_probes(target, store, ["service_stats"], [ward.id])
        matched = [o for o in observations(store, "unit_match") if o.attributes.get("api") == "v1"]
        assert matched and all(o.attributes["method"] == "id" for o in matched if o.unit == ward.id)
    finally:
        store.close()


def test_without_the_root_department_nothing_is_asked_and_it_says_why(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    target = on_v1(settings, simulation, root="")
    store = open_test_store(tmp_path)
    try:
        report = run_probes(target, store, ["service_stats"])
        assert any("root_department_id is not set" in f for f in report.counts.failures)
        assert not [o for o in observations(store, "report_rows") if o.attributes.get("api") == "v1"]
    finally:
        store.close()


def test_a_changed_envelope_is_a_recorded_parse_failure_and_no_score(
    settings: Settings, make_simulation: Any, tmp_path: Path
) -> None:
    drift = FaultSpec("dvc_quocgia", "drift", path="/api/v1/reporting/evaluation/transparency")
    ward = next(u for u in settings.units_in_inspection() if u.kind != "phong" and u.national_id)
    with make_simulation(drift) as sim:
        target = on_v1(settings, sim)
        store = open_test_store(tmp_path)
        try:
            run_probes(target, store, ["service_stats"], [ward.id])
            failures = parse_failures(store)
            assert failures and all("/evaluation/transparency" in s.url for _, s in failures)
            assert all("data" in f.reason for f, _ in failures)
            figures = raw_figures(store.engine, target, [ward])
            # Months only: the city's id is still looked up on rest.jsp's 766 list of the year, which has scores.
            mine = figures[
                (figures["unit"] == ward.id)
                & (figures["status"] == "ok")
                & (figures["period"].str.len() == 7)
            ]
            assert not (mine["metric"] == "i766_score_ckmb").any()  # no score, never a zero
            assert (mine["metric"] == "i766_score_tdgq").any()  # the other endpoints still read
            assert not (mine["metric"] == "i766_score_tong").any()  # a total needs all six groups
        finally:
            store.close()
