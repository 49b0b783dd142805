"""The polite fetcher against the simulated portals over real HTTP: politeness measured on the server side,
robots.txt, every fault ending in the right outcome after the configured retries, Retry-After, redirects.
"""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise
from typing import Any

import httpx
import pytest

from conftest import SimulationFactory, sim_fetch_policy
from crawler import Capture, HttpFetcher, Outcome, Target
from sim import FaultSpec, Simulation
from sim.http import LogEntry
from sim.runner import FRONT_ENDS, FrontEndName

NEWS = "/vi/news/tin-tuc-su-kien/"


@pytest.fixture(params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> FrontEndName:
    """The fetcher meets every fault alike behind either of the simulation's front ends."""
    front: FrontEndName = request.param
    return front


def fetch_all(sim: Simulation, targets: list[Target], **policy: Any) -> list[Capture]:
    async def run() -> list[Capture]:
        async with HttpFetcher(sim_fetch_policy(sim, **policy)) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(t) for t in targets)))

    return asyncio.run(run())


def fetch_one(sim: Simulation, site: str, path: str = NEWS, **policy: Any) -> Capture:
    return fetch_all(sim, [Target(url=sim.url(site) + path)], **policy)[0]


def page_requests(sim: Simulation, site: str) -> list[LogEntry]:
    return [e for e in sim.log(site) if e.target != "/robots.txt"]


def test_politeness_gaps_between_requests_to_one_host(make_simulation: SimulationFactory) -> None:
    with make_simulation() as sim:
        pages = [Target(url=sim.url("phuong-1") + f"{NEWS}page-{n}/") for n in range(2, 8)]
        captures = fetch_all(sim, pages, min_delay_s=0.25)
        log = sorted(sim.log("phuong-1"), key=lambda e: e.started)
    assert all(c.outcome is Outcome.OK for c in captures)
    assert len(log) == 7  # robots.txt, then six pages
    gaps = [b.started - a.finished for a, b in pairwise(log)]
    assert min(gaps) >= 0.25, gaps


def test_never_two_requests_in_flight_to_one_host(make_simulation: SimulationFactory) -> None:
    # Both hosts' pages slow, robots.txt not: each host is busy for eight back-to-back pages from about the same
    # moment, so the hosts overlap however fast the machine. (With phuong-3 fast and phuong-2's robots.txt slow
    # too, an idle machine could finish phuong-3 before phuong-2's first page began.)
    slow = [FaultSpec(site, "slow", delay_s=0.05, path=NEWS) for site in ("phuong-2", "phuong-3")]
    with make_simulation(*slow) as sim:
        targets = [Target(url=sim.url("phuong-2") + f"{NEWS}page-{n}/") for n in range(2, 10)]
        targets += [Target(url=sim.url("phuong-3") + f"{NEWS}page-{n}/") for n in range(2, 10)]
        fetch_all(sim, targets)
        for site in ("phuong-2", "phuong-3"):
            log = sorted(sim.log(site), key=lambda e: e.started)
            assert all(b.started >= a.finished for a, b in pairwise(log)), site
        # …while different hosts are fetched at the same time
        two, three = sim.log("phuong-2"), sim.log("phuong-3")
        assert any(a.started < b.finished and b.started < a.finished for a in two for b in three)


def test_delay_grows_with_the_host_latency(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=0.2, path="/vi/")) as sim:
        fetch_all(
            sim, [Target(url=sim.url("phuong-1") + f"{NEWS}page-{n}/") for n in (2, 3, 4)], latency_factor=2.0
        )
        log = sorted(page_requests(sim, "phuong-1"), key=lambda e: e.started)
    gaps = [b.started - a.finished for a, b in pairwise(log)]
    assert min(gaps) >= 0.4, gaps  # k × latency = 2 × ≥0.2 s


def test_robots_crawl_delay_is_honoured(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "robots-crawl-delay", delay_s=0.3)) as sim:
        fetch_all(sim, [Target(url=sim.url("phuong-1") + f"{NEWS}page-{n}/") for n in (2, 3, 4)])
        log = sorted(page_requests(sim, "phuong-1"), key=lambda e: e.started)
    gaps = [b.started - a.finished for a, b in pairwise(log)]
    assert min(gaps) >= 0.3, gaps


def test_robots_disallow_is_honoured_and_recorded(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "robots-disallow")) as sim:
        capture = fetch_one(sim, "phuong-1")
        targets = [e.target for e in sim.log("phuong-1")]
    assert capture.outcome is Outcome.ROBOTS_DISALLOWED and capture.status is None
    assert "disallows" in capture.detail
    assert targets == ["/robots.txt"]  # the page itself was never requested


def test_robots_rules_of_a_real_robots_txt(simulation: Simulation) -> None:
    capture = fetch_one(simulation, "dvc_tinh", "/Account/Login")
    assert capture.outcome is Outcome.ROBOTS_DISALLOWED


def test_every_request_names_us(make_simulation: SimulationFactory) -> None:
    with make_simulation() as sim:
        fetch_one(sim, "phuong-1")
        agents = {e.user_agent for e in sim.log("phuong-1")}
    assert agents == {"cchc-watch/test (+mailto:test@example.invalid)"}


def test_http_500_is_retried_then_an_http_error(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500")) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=2)
        pages = page_requests(sim, "phuong-1")
    assert (capture.outcome, capture.status, capture.attempts, len(pages)) == (Outcome.HTTP_ERROR, 500, 3, 3)
    assert capture.body and b"500" in capture.body  # the error page is kept, as evidence of the failure


def test_transient_503_recovers_after_retries(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-503", first=2, retry_after_s=0)) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=3)
    assert (capture.outcome, capture.status, capture.attempts) == (Outcome.OK, 200, 3)


def test_retry_after_is_followed(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "rate-limit", first=1, retry_after_s=1)) as sim:
        capture = fetch_one(sim, "phuong-1")
        first, second = sorted(page_requests(sim, "phuong-1"), key=lambda e: e.started)
    assert (capture.outcome, capture.attempts) == (Outcome.OK, 2)
    assert (first.status, second.status) == (429, 200)
    assert second.started - first.finished >= 1.0


def test_persistent_rate_limit_ends_rate_limited(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "rate-limit", retry_after_s=0)) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=2)
    assert (capture.outcome, capture.status, capture.attempts) == (Outcome.RATE_LIMITED, 429, 3)


def test_retry_after_too_long_gives_up_and_spares_the_host(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "rate-limit", retry_after_s=900)) as sim:
        first, second = fetch_all(
            sim, [Target(url=sim.url("phuong-1") + NEWS), Target(url=sim.url("phuong-1") + NEWS + "page-2/")]
        )
        pages = page_requests(sim, "phuong-1")
    assert {first.outcome, second.outcome} == {Outcome.RATE_LIMITED}
    assert len(pages) == 1  # the second target was not sent: the host asked us to wait 900 s
    assert any("Retry-After" in c.detail for c in (first, second))


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("hang", Outcome.TIMEOUT),
        ("truncated", Outcome.CONNECTION_ERROR),
        ("reset", Outcome.CONNECTION_ERROR),
    ],
)
def test_network_faults_are_retried_then_classified(
    make_simulation: SimulationFactory, mode: str, outcome: Outcome
) -> None:
    with make_simulation(FaultSpec("phuong-1", mode)) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=1, read_timeout_s=0.4)
        faulted = sim.servers["phuong-1"].faults[0].matched  # a hung request is logged only when it ends
    assert (capture.outcome, capture.attempts, faulted) == (outcome, 2, 2)
    assert capture.detail


def test_slow_beyond_the_read_timeout_is_a_timeout(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=1.0, path="/vi/")) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=0, read_timeout_s=0.3)
    assert capture.outcome is Outcome.TIMEOUT


def test_total_timeout_bounds_a_request(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=30.0, path="/vi/")) as sim:
        capture = fetch_one(sim, "phuong-1", max_retries=0, read_timeout_s=60, total_timeout_s=0.3)
    # Far below the server's 30 s and the read timeout's 60 s, whatever the machine's load.
    assert capture.outcome is Outcome.TIMEOUT and capture.elapsed_ms < 10_000


def test_connection_refused(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("xa-tan-binh", "refused")) as sim:
        capture = fetch_one(sim, "xa-tan-binh")
    assert capture.outcome is Outcome.CONNECTION_ERROR and "unreachable" in capture.detail


def test_too_large_body(simulation: Simulation) -> None:
    capture = fetch_one(simulation, "phuong-1", max_body_bytes=1000)
    assert capture.outcome is Outcome.TOO_LARGE and capture.body is None


def test_redirect_loop_is_an_http_error(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "redirect-loop")) as sim:
        capture = fetch_one(sim, "phuong-1", max_redirects=5)
    assert capture.outcome is Outcome.HTTP_ERROR and "redirect loop" in capture.detail
    assert len(capture.redirects) == 6


def test_garbage_is_fetched_fine_and_left_to_the_parsers(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "garbage")) as sim:
        capture = fetch_one(sim, "phuong-1")
    assert capture.outcome is Outcome.OK and capture.body and b"\x00" in capture.body


def test_redirect_within_allowed_hosts_is_followed_and_recorded(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-ninh-son", "moved")) as sim:
        capture = fetch_one(sim, "phuong-ninh-son", "/vi/news/tin-tuc-su-kien")
        successor = sim.url("phuong-binh-minh")
    assert capture.outcome is Outcome.OK and capture.status == 200
    assert [h.status for h in capture.redirects] == [301, 301]  # moved host, then the trailing slash
    assert capture.final_url == successor + NEWS


def test_redirect_outside_the_allowed_hosts_is_refused_and_never_fetched(
    make_simulation: SimulationFactory,
) -> None:
    with make_simulation(FaultSpec("phuong-ninh-son", "moved")) as sim:
        successor = sim.url("phuong-binh-minh")
        allowed = frozenset(
            h for h in sim_fetch_policy(sim).allowed_hosts if h != successor.removeprefix("http://")
        )
        capture = fetch_one(sim, "phuong-ninh-son", allowed_hosts=allowed)
        successor_log = sim.log("phuong-binh-minh")
    assert capture.outcome is Outcome.HOST_NOT_ALLOWED
    assert [h.status for h in capture.redirects] == [301]
    assert capture.final_url == successor + NEWS
    assert successor_log == []


def test_target_outside_the_allowed_hosts_is_refused() -> None:
    async def run() -> Capture:
        from crawler import FetchPolicy

        policy = FetchPolicy(user_agent="t", robots_agent="t", allowed_hosts=frozenset({"dichvucong.gov.vn"}))
        async with HttpFetcher(policy) as fetcher:
            return await fetcher.fetch(Target(url="https://example.org/"))

    capture = asyncio.run(run())
    assert capture.outcome is Outcome.HOST_NOT_ALLOWED and "example.org" in capture.detail


def test_retired_site_is_an_http_error_with_its_status(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-2", "gone-410")) as sim:
        capture = fetch_one(sim, "phuong-2")
    assert (capture.outcome, capture.status, capture.attempts) == (Outcome.HTTP_ERROR, 410, 1)


def test_conditional_get_gets_not_modified(simulation: Simulation) -> None:
    target = Target(url=simulation.url("phuong-1") + "/vi/news/rss/", conditional=True)

    async def run() -> tuple[Capture, Capture]:
        async with HttpFetcher(sim_fetch_policy(simulation)) as fetcher:
            first = await fetcher.fetch(target)
            second = await fetcher.fetch(
                target, validators=(first.header("etag"), first.header("last-modified"))
            )
            return first, second

    first, second = asyncio.run(run())
    assert first.status == 200 and first.header("etag")
    assert second.outcome is Outcome.OK and second.status == 304 and not second.body
    assert ("If-None-Match", first.header("etag")) in second.request_headers


def test_cookies_from_a_page_carry_to_the_api(simulation: Simulation) -> None:
    """The national portal's bot protection: a page GET hands out cookies that the rest.jsp call needs."""
    base = simulation.url("dvc_quocgia")
    page = Target(url=base + "/p/home/dvc-index-tinhthanhpho-tonghop.html")
    body = (
        "params=" + json.dumps({"type": "ref", "service": "report_tinh_766_service", "p_nam": "2023"})
    ).encode()
    api = Target(
        url=base + "/jsp/rest.jsp",
        method="POST",
        body=body,
        headers=(
            ("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"),
            ("X-Requested-With", "XMLHttpRequest"),
            ("Referer", page.url),
        ),
    )

    async def run() -> list[Capture]:
        async with HttpFetcher(sim_fetch_policy(simulation)) as fetcher:
            return [await fetcher.fetch(page), await fetcher.fetch(api)]

    page_capture, api_capture = asyncio.run(run())
    assert page_capture.outcome is Outcome.OK and api_capture.outcome is Outcome.OK
    assert json.loads(api_capture.body or b"[]")[0]["TEN"].startswith(("Tỉnh", "Thành phố"))


def test_capture_records_the_request_and_the_peer(simulation: Simulation) -> None:
    capture = fetch_one(simulation, "phuong-1")
    names = {k.lower() for k, _ in capture.request_headers}
    assert {"host", "user-agent", "accept-encoding"} <= names
    assert capture.peer and capture.peer.startswith("127.0.0.1:")
    assert capture.http_version == "HTTP/1.1" and capture.started_at.tzinfo is not None


class _SignallingTransport(httpx.AsyncHTTPTransport):
    """The real transport, which also says when a request to a given path has been handed to the network: the
    test waits on that event instead of guessing how long to sleep."""

    def __init__(self, path: str, sent: asyncio.Event) -> None:
        super().__init__()
        self.path, self.sent = path, sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            self.sent.set()
        return await super().handle_async_request(request)


def test_a_request_queued_behind_another_records_the_servers_time_not_its_wait(
    make_simulation: SimulationFactory,
) -> None:
    slow, quick = f"{NEWS}page-2/", f"{NEWS}page-3/"
    with make_simulation(FaultSpec("phuong-1", "slow", delay_s=5.0, path=slow)) as sim:

        async def run() -> tuple[Capture, Capture]:
            sent = asyncio.Event()
            transport = _SignallingTransport(slow, sent)
            async with HttpFetcher(
                sim_fetch_policy(sim, read_timeout_s=15.0), transport=transport
            ) as fetcher:
                first = asyncio.create_task(fetcher.fetch(Target(url=sim.url("phuong-1") + slow)))
                await sent.wait()  # the slow request holds the host from here on
                second = await fetcher.fetch(Target(url=sim.url("phuong-1") + quick))
                return await first, second

        first, second = asyncio.run(run())
        served = {e.target: e.finished - e.started for e in page_requests(sim, "phuong-1")}
    assert first.outcome is second.outcome is Outcome.OK
    # The second request waited its turn for about 5 s, and that wait is recorded as such…
    assert second.queue_ms is not None and second.queue_ms >= 4_500, second.queue_ms
    assert second.elapsed_ms >= 4_500
    # …while its response time is what the server took to answer it (loopback overhead aside), not the 5 s.
    assert second.response_ms is not None
    assert served[quick] * 1000 <= second.response_ms + 1 < served[quick] * 1000 + 3_000, (second, served)
    # The slow request's own time is the server's 5 s: measured from sending it, whatever it waited for.
    assert first.response_ms is not None and first.response_ms >= 5_000
    assert first.queue_ms is not None and first.queue_ms < 3_000
