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


def test_the_response_time_is_the_servers_and_old_snapshots_get_a_bound_from_their_stored_timings(
    settings: Settings, tmp_path: Path
) -> None:
    """Snapshots kept before the server's time was measured (no response_ms) are not rewritten: their time is
    bounded when read, from the snapshots to the same host that ended while they waited."""
    from datetime import UTC, datetime, timedelta

    from crawler import Capture, Outcome, Target
    from probes._reparse import reparse
    from probes.availability import PROBE as AVAILABILITY

    store = open_test_store(tmp_path)
    run = store.begin_run("test", ["availability"], [])
    assert run.id is not None
    home = settings.sources.dvc_tinh.base_url + "/"
    t0 = datetime(2023, 9, 1, 1, 0, tzinfo=UTC)

    def kept(label: str, start_ms: int, elapsed_ms: int, response_ms: int | None = None) -> None:
        store.store(run.id, Capture(  # type: ignore[arg-type]
            target=Target(url=home, probe="availability", label=label), outcome=Outcome.OK,
            started_at=t0 + timedelta(milliseconds=start_ms), elapsed_ms=elapsed_ms, response_ms=response_ms,
            queue_ms=None if response_ms is None else elapsed_ms - response_ms, status=200,
            response_headers=(("Content-Type", "text/html"),), body=b"<html></html>"))  # fmt: skip

    kept("first", 0, 1_000)  # nothing else to its host during it: at most its whole visit
    kept("second", 100, 1_500)  # waited for the first (ended at 1 000 ms): at most 1 600 − 1 000
    kept("measured", 5_000, 2_400, response_ms=40)  # measured from the moment it was sent
    counts = reparse(settings, store, [AVAILABILITY])
    assert counts.parse_failures == 0
    timings = {o.attributes["elapsed_ms"]: o for o in observations(store, "site_response_ms")}
    assert timings[1_000].value == 1_000 and timings[1_000].attributes["basis"].startswith(
        "at most: the whole"
    )
    assert timings[1_500].value == 600 and "waited for 1 request(s)" in timings[1_500].attributes["basis"]
    assert timings[2_400].value == 40 and timings[2_400].attributes["basis"] == "measured"
    assert timings[2_400].attributes["queue_ms"] == 2_360
    store.close()
