"""Each injectable fault behaves as declared, on one site only, for the requests it is scoped to."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import loopback
import pytest

from conftest import SimulationFactory
from sim import FaultSpec, Simulation
from sim.runner import FRONT_ENDS, FrontEndName

NEWS = "/vi/news/tin-tuc-su-kien/"


@pytest.fixture(params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> FrontEndName:
    """Every fault behaves the same behind either front end."""
    front: FrontEndName = request.param
    return front


def fetch(sim: Any, site: str, path: str = NEWS, **kw: Any) -> httpx.Response:
    return loopback.get(sim.url(site) + path, follow_redirects=False, **kw)


def test_http_500(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500")) as sim:
        assert fetch(sim, "phuong-1").status_code == 500
        assert fetch(sim, "phuong-2").status_code == 200  # other sites are unaffected


def test_http_503_with_retry_after(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("dvc_tinh", "http-503", retry_after_s=7)) as sim:
        response = fetch(sim, "dvc_tinh", "/api/dvc/GetDataDonVi_TraCuu")
    assert response.status_code == 503 and response.headers["retry-after"] == "7"


def test_rate_limit_for_the_first_requests_only(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "rate-limit", first=2, retry_after_s=3)) as sim:
        statuses = [fetch(sim, "phuong-1").status_code for _ in range(4)]
        first = sim.log("phuong-1")[0]
    assert statuses == [429, 429, 200, 200]
    assert first.fault == "rate-limit"


def test_every_nth_request(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500", every=3)) as sim:
        statuses = [fetch(sim, "phuong-1").status_code for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]


def test_fault_scoped_to_a_path(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500", path="/vi/news/rss/")) as sim:
        assert fetch(sim, "phuong-1", "/vi/news/rss/").status_code == 500
        assert fetch(sim, "phuong-1").status_code == 200


def test_slow_response(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=0.6)) as sim:
        started = time.monotonic()
        response = fetch(sim, "phuong-1")
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed >= 0.6


def test_hang_never_answers(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "hang")) as sim, pytest.raises(httpx.ReadTimeout):
        fetch(sim, "phuong-1", timeout=httpx.Timeout(5, read=0.5))


def test_truncated_body(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "truncated")) as sim, pytest.raises(httpx.RemoteProtocolError):
        fetch(sim, "phuong-1")


def test_connection_reset(make_simulation: SimulationFactory) -> None:
    with (
        make_simulation(FaultSpec("phuong-1", "reset")) as sim,
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        fetch(sim, "phuong-1")


def test_redirect_loop(make_simulation: SimulationFactory) -> None:
    with (
        make_simulation(FaultSpec("phuong-1", "redirect-loop")) as sim,
        pytest.raises(httpx.TooManyRedirects),
    ):
        loopback.get(sim.url("phuong-1") + NEWS, follow_redirects=True)


def test_garbage_is_not_html(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "garbage")) as sim:
        response = fetch(sim, "phuong-1")
    assert (
        response.status_code == 200 and b"news_column" not in response.content and b"\x00" in response.content
    )


def test_markup_drift_changes_the_layout_not_the_content(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "drift")) as sim:
        drifted = fetch(sim, "phuong-1").text
        healthy = fetch(sim, "phuong-2").text
        api = loopback.post(
            sim.url("dvc_tinh") + "/api/dvc/GetDanhSachTTHCDVC", files={"data": (None, '{"DonViID": 356}')}
        )
    assert "news_column" not in drifted and "post-card" in drifted
    assert "news_column" in healthy
    assert "status" in api.json()  # drift on one site leaves the others as they were


def test_drift_on_the_dvc_api_changes_the_envelope(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("dvc_tinh", "drift")) as sim:
        api = loopback.post(
            sim.url("dvc_tinh") + "/api/dvc/GetDanhSachTTHCDVC", files={"data": (None, '{"DonViID": 356}')}
        )
    body = api.json()
    assert "status" not in body and body["Success"] is True and body["Result"]["Items"]


def test_moved_ward_site_redirects_to_its_successor(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-ninh-son", "moved")) as sim:
        response = fetch(sim, "phuong-ninh-son", "/vi/news/tin-tuc-su-kien/page-2/")
        robots = fetch(sim, "phuong-ninh-son", "/robots.txt")
        successor = sim.url("phuong-binh-minh")
    assert response.status_code == 301
    assert response.headers["location"] == successor + "/vi/news/tin-tuc-su-kien/page-2/"
    assert robots.status_code == 301  # the whole host moved


@pytest.mark.parametrize(("mode", "status"), [("gone-404", 404), ("gone-410", 410)])
def test_retired_ward_site(make_simulation: SimulationFactory, mode: str, status: int) -> None:
    with make_simulation(FaultSpec("phuong-2", mode)) as sim:
        response = fetch(sim, "phuong-2")
    assert response.status_code == status and "ngừng hoạt động" in response.text


def refused_port_is_held(sim: Simulation, site: str) -> bool:
    """No other server can take the refused site's port while the simulation runs (a port only closed could be
    handed to a server started meanwhile, and the "refused" site would then answer)."""
    port = int(sim.url(site).rsplit(":", 1)[1])
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_connection_refused(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("xa-tan-binh", "refused")) as sim:
        with pytest.raises(httpx.ConnectError):
            fetch(sim, "xa-tan-binh")
        assert refused_port_is_held(sim, "xa-tan-binh")


def test_robots_disallow(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "robots-disallow")) as sim:
        robots = fetch(sim, "phuong-1", "/robots.txt").text
        page = fetch(sim, "phuong-1")
    assert robots == "User-agent: *\nDisallow: /\n" and page.status_code == 200


def test_faults_spare_robots_txt_unless_the_whole_host_fails(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500")) as sim:
        assert fetch(sim, "phuong-1", "/robots.txt").status_code == 200


def test_injecting_a_fault_into_a_running_site(make_simulation: SimulationFactory) -> None:
    """A theme change mid-run: the same site answers in the default theme, then in a new one."""
    with make_simulation() as sim:
        assert "news_column" in fetch(sim, "phuong-3").text
        sim.inject(FaultSpec("phuong-3", "drift"))
        assert "news_column" not in fetch(sim, "phuong-3").text
        sim.inject(FaultSpec("phuong-3", "refused"))
        with pytest.raises(httpx.ConnectError):
            fetch(sim, "phuong-3")
        assert refused_port_is_held(sim, "phuong-3")


def test_unknown_fault_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'explode'"):
        FaultSpec("phuong-1", "explode")
