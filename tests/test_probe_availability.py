"""The availability probe: every configured site up or not, and a retired ward site as moved or gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from probe_helpers import observations, open_test_store, pointed, run_probes

from cchc.settings import Settings
from conftest import SimulationFactory
from sim import FaultSpec, Simulation


def test_every_site_of_the_crawled_units_is_up(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    store = open_test_store(tmp_path)
    run_probes(pointed(settings, simulation), store, ["availability"])
    up = {o.attributes["site"]: o.value for o in observations(store, "site_up")}
    assert up == dict.fromkeys(
        {"dvc_tinh", "motcua", "dvc_quocgia"} | {u.portal for u in settings.units_in_inspection()}, 1.0
    )
    timings = observations(store, "site_response_ms")
    assert len(timings) == len(up) and all((t.value or 0) >= 0 for t in timings)
    assert observations(store, "site_moved") == [] and observations(store, "site_gone") == []
    motcua = next(o for o in observations(store, "site_up") if o.attributes["site"] == "motcua")
    assert motcua.attributes["redirects"] and motcua.attributes["final_url"].endswith(
        "/Account/Login?ReturnUrl=%2F"
    )


def test_a_moved_ward_site_records_its_redirect_target(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path
) -> None:
    with make_simulation(FaultSpec("phuong-ninh-son", "moved")) as sim:
        store = open_test_store(tmp_path)
        run_probes(pointed(settings, sim), store, ["availability"], ["phuong-ninh-son"])
        successor = sim.url("phuong-binh-minh")
    (moved,) = observations(store, "site_moved")
    assert moved.unit == "phuong-ninh-son" and moved.text == successor + "/"
    assert moved.attributes["to_site"] == "phuong-binh-minh" and moved.attributes["redirects"][0][1] == 301
    up = next(o for o in observations(store, "site_up") if o.attributes["site"] == "phuong-ninh-son")
    assert up.value == 0.0


@pytest.mark.parametrize(
    ("mode", "reason"), [("gone-410", "HTTP 410"), ("refused", "connection refused or reset")]
)
def test_a_retired_ward_site_is_recorded_as_gone(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path, mode: str, reason: str
) -> None:
    with make_simulation(FaultSpec("phuong-2", mode)) as sim:
        store = open_test_store(tmp_path)
        run_probes(pointed(settings, sim, max_retries=0), store, ["availability"], ["phuong-2"])
    (gone,) = observations(store, "site_gone")
    assert gone.unit == "phuong-2" and gone.text == reason
    assert [o.value for o in observations(store, "site_up") if o.attributes["site"] == "phuong-2"] == [0.0]
