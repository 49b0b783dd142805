"""The browser renderer against the simulated portals: real Chromium (Debian's), real HTTP, real faults."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from conftest import SimulationFactory, chromium_path
from crawler import BrowserStep, Capture, FetchPolicy, HttpFetcher, Outcome, Target, host_key
from crawler.browser import BrowserRenderer, _routed_urls, classify_error, request_allowed
from crawler.chromium import BrowserNotFound, find_chromium
from crawler.hostguard import bypass_list
from crawler.robots import RobotsRules, rules_from_response
from evidence import EvidenceStore
from evidence.models import SnapshotBlob
from evidence.verify import verify
from sim import FaultSpec, Simulation

pytestmark = pytest.mark.browser

USER_AGENT = "cchc-watch/test-browser (+mailto:test@example.invalid)"
DVC_LIST = "/thu-tuc-hanh-chinh?DonViID=356&PageSize=20"
DVC_ROWS = "#tblThuTuc tbody tr.thutuc-row"
DASHBOARD = "/p/home/dvc-index-tinhthanhpho-tonghop.html"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def policy_for(sim: Simulation, *, allowed: frozenset[str] | None = None, **changes: Any) -> FetchPolicy:
    values: dict[str, Any] = {
        "user_agent": USER_AGENT,
        "robots_agent": "cchc-watch",
        "allowed_hosts": frozenset(host_key(u) for u in sim.urls.values()) if allowed is None else allowed,
        "min_delay_s": 0.05,
        "latency_factor": 0.0,
        "max_retries": 0,
        "connect_timeout_s": 10.0,  # generous: a loaded machine answers slowly; the page budgets are the tests'
        "read_timeout_s": 30.0,
    }
    values.update(changes)
    return FetchPolicy(**values)


def render(policy: FetchPolicy, *targets: Target, together: bool = False, **options: Any) -> list[Capture]:
    """Render the targets with one renderer: one after the other, or all at once."""

    async def run() -> list[Capture]:
        async with (
            HttpFetcher(policy) as fetcher,
            BrowserRenderer(fetcher, **{"executable": chromium_path(), **options}) as renderer,
        ):
            if together:
                return list(await asyncio.gather(*(renderer.render(t) for t in targets)))
            return [await renderer.render(t) for t in targets]

    return asyncio.run(run())


def browser_target(url: str, **fields: Any) -> Target:
    return Target(url=url, render="browser", probe="test", **fields)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def log_since(sim: Simulation, site: str, since: float) -> list[Any]:
    return [entry for entry in sim.log(site) if entry.started >= since]


# --- pages JavaScript fills ---------------------------------------------------------------------------------


def test_dvc_procedure_list_is_captured_with_its_rows_screenshot_and_api_json(
    simulation: Simulation, truth: dict[str, Any]
) -> None:
    since = time.monotonic()
    target = browser_target(simulation.url("dvc_tinh") + DVC_LIST, wait_for=DVC_ROWS)
    [capture] = render(policy_for(simulation), target)

    assert capture.outcome is Outcome.OK, capture.detail
    assert capture.status == 200 and capture.http_version == "HTTP/1.1" and capture.attempts == 1
    assert capture.started_at.tzinfo is not None and capture.elapsed_ms > 0
    assert capture.final_url == target.url
    assert capture.dom is not None and capture.dom.count('class="thutuc-row"') == min(
        20, truth["units"]["phuong-3"]["procedures"]["tthc_listed"]
    )
    assert capture.body is not None and b'class="thutuc-row"' not in capture.body  # served empty
    width, height = png_size(capture.screenshot or b"")
    assert width == 1280 and 900 <= height < 20_000
    api = [s for s in capture.subresponses if s.url.endswith("/GetDanhSachTTHCDVC")]
    assert len(api) == 1 and api[0].method == "POST" and api[0].status == 200
    assert api[0].resource_type in ("fetch", "xhr") and json.loads(api[0].body)["status"] == 1
    sent = {k.lower(): v for k, v in capture.request_headers}
    assert sent["user-agent"] == USER_AGENT and "host" in sent  # as sent on the wire, not provisional
    document = [e for e in log_since(simulation, "dvc_tinh", since) if e.target == DVC_LIST]
    assert [e.user_agent for e in document] == [USER_AGENT]


def test_766_dashboard_keeps_the_provinces_unit_json_and_shows_the_units(simulation: Simulation) -> None:
    # The probe's own target: the rows of "all provinces" are already there when the step's wait returns,
    # so it is the wait for the network to settle that lets the province's rows in.
    target = browser_target(
        simulation.url("dvc_quocgia") + DASHBOARD,
        wait_for="#tblChiSo tbody tr",
        steps=(
            BrowserStep("select", "#tinhtp", simulation.world.province_id),
            BrowserStep("wait_for", "#tblChiSo tbody tr"),
        ),
    )
    [capture] = render(policy_for(simulation), target)

    assert capture.outcome is Outcome.OK, capture.detail
    reports = [json.loads(s.body) for s in capture.subresponses if s.url.endswith("/jsp/rest.jsp")]
    assert len(reports) == 2 and len(reports[0]) == 63  # first every province, then the chosen one's units
    units = [row["TEN"] for row in reports[1]]
    assert "UBND Phường IV" in units
    dom = html.unescape(capture.dom or "")
    assert all(name in dom for name in units)
    assert "Tỉnh Tây Ninh" in dom  # the select2 label follows the choice


# --- what is refused before any page opens ------------------------------------------------------------------


def test_robots_disallow_opens_no_page(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "robots-disallow")) as sim:
        [capture] = render(policy_for(sim), browser_target(sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/"))
        assert capture.outcome is Outcome.ROBOTS_DISALLOWED
        assert capture.attempts == 0 and capture.dom is None and capture.screenshot is None
        assert {e.target for e in sim.log("phuong-1")} == {"/robots.txt"}


def test_a_host_not_allowed_is_refused_without_a_request(simulation: Simulation) -> None:
    allowed = frozenset(host_key(u) for site, u in simulation.urls.items() if site != "motcua")
    url = simulation.url("motcua") + "/?cchc-browser-test=not-allowed"
    [capture] = render(policy_for(simulation, allowed=allowed), browser_target(url))
    assert capture.outcome is Outcome.HOST_NOT_ALLOWED
    assert host_key(url) in capture.detail
    assert not [e for e in simulation.log("motcua") if "cchc-browser-test" in e.target]


# --- what a site does ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "net_errors"),
    [
        (FaultSpec("phuong-1", "refused"), ("ERR_CONNECTION_REFUSED",)),
        (FaultSpec("phuong-1", "reset", path="/vi/news/"), ("ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE")),
    ],
)
def test_a_connection_that_fails_is_a_connection_error(
    make_simulation: SimulationFactory, fault: FaultSpec, net_errors: tuple[str, ...]
) -> None:
    with make_simulation(fault) as sim:
        # robots.txt off: a refused host would otherwise be refused by the fetcher, before Chromium tries
        policy = policy_for(sim, obey_robots=False)
        [capture] = render(policy, browser_target(sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/"))
        assert capture.outcome is Outcome.CONNECTION_ERROR
        assert any(code in capture.detail for code in net_errors), capture.detail
        assert capture.status is None and capture.dom is None


def test_a_hanging_page_times_out_within_its_budget(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "hang", path="/vi/news/")) as sim:
        started = time.monotonic()
        target = browser_target(sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/")
        [capture] = render(policy_for(sim), target, page_timeout_s=3.0)
        assert capture.outcome is Outcome.TIMEOUT, capture.detail
        # At least the budget's wait, and bounded by it: the slack is a loaded machine's, the hang is an hour's.
        assert 2_000 <= capture.elapsed_ms <= 3_000 + 20_000
        assert time.monotonic() - started < 60  # browser start and stop included


def test_a_selector_that_never_appears_is_a_timeout_with_the_page_kept(simulation: Simulation) -> None:
    target = browser_target(simulation.url("dvc_tinh") + DVC_LIST, wait_for="#no-such-table")
    # 8 s keeps a reserve of 1.6 s for the DOM and screenshot, enough on a loaded machine.
    [capture] = render(policy_for(simulation), target, page_timeout_s=8.0)
    assert capture.outcome is Outcome.TIMEOUT
    assert "waiting for #no-such-table" in capture.detail
    assert capture.status == 200 and capture.dom and "tblThuTuc" in capture.dom  # what the page did show
    assert capture.screenshot is not None and capture.elapsed_ms <= 8_000 + 5_000


def test_http_500_is_an_http_error_with_the_error_page_kept(make_simulation: SimulationFactory) -> None:
    with make_simulation(FaultSpec("phuong-1", "http-500", path="/vi/news/")) as sim:
        target = browser_target(sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/", wait_for="#never")
        [capture] = render(policy_for(sim), target)
        assert capture.outcome is Outcome.HTTP_ERROR
        assert capture.status == 500 and capture.detail.startswith("HTTP 500")
        assert capture.body is not None and b"500 Internal Server Error" in capture.body
        assert capture.dom is not None and "500 Internal Server Error" in capture.dom
        assert capture.elapsed_ms < 15_000  # an error page is not waited on (the page's budget is 30 s)


def test_a_bad_selector_is_a_browser_error_with_the_reason(simulation: Simulation) -> None:
    target = browser_target(simulation.url("dvc_tinh") + DVC_LIST, wait_for="#tblThuTuc >>> [[")
    [capture] = render(policy_for(simulation), target)
    assert capture.outcome is Outcome.BROWSER_ERROR
    assert "waiting for #tblThuTuc >>> [[" in capture.detail and "selector" in capture.detail.lower()


# --- the host check covers every request of a page ----------------------------------------------------------


@pytest.fixture
def page_with_other_hosts(simulation: Simulation) -> Iterator[str]:
    """A one-page site whose page loads an image, a stylesheet and JSON from a simulated portal, and opens a
    WebSocket there."""
    other = simulation.url("phuong-2")
    page = (
        "<!DOCTYPE html><html><head><title>off-host</title>"
        f'<link rel="stylesheet" href="{other}/themes/offhost-probe.css"></head>'
        f'<body><h1>Trang thử</h1><img src="{other}/uploads/offhost-probe.png">'
        f'<script>fetch("{other}/vi/news/offhost-probe/").catch(function () {{}});'
        f'new WebSocket("{other.replace("http", "ws", 1)}/offhost-probe-socket");</script></body></html>'
    ).encode()

    with one_page_site(page) as url:
        yield url


@contextmanager
def one_page_site(
    page: bytes,
    files: dict[str, bytes] | None = None,
    seen: list[str] | None = None,
    redirects: dict[str, str] | None = None,
) -> Iterator[str]:
    """A site of our own serving a page at / (and `files` at their paths, `redirects` as 302s to their
    locations, and recording every path asked for in `seen`): for what the simulated portals never serve."""
    served = {"/": page, **(files or {})}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if seen is not None:
                seen.append(self.path)
            if redirects and self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = served.get(self.path)
            status = 404 if body is None else 200
            body = body or b""
            kind = "text/plain" if self.path == "/robots.txt" else "text/html; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_pages_own_requests_honour_robots_txt(simulation: Simulation) -> None:
    # The simulated pages load nothing robots.txt disallows, so a one-page site of our own does.
    page = (
        b"<!DOCTYPE html><html><body><p id='out'>waiting</p><img src='/private/photo.png'><script>"
        b"fetch('/private/data.json').catch(function () {});"
        b"fetch('/open/data.json').then(function (r) { return r.text(); })"
        b".then(function (t) { document.getElementById('out').textContent = t; });</script></body></html>"
    )
    files = {"/robots.txt": b"User-agent: *\nDisallow: /private/\n", "/open/data.json": b"open-data-loaded"}
    seen: list[str] = []
    with one_page_site(page, files, seen) as url:
        policy = policy_for(simulation, allowed=frozenset({host_key(url)}))
        [capture] = render(policy, browser_target(url, wait_for="#out:text('open-data-loaded')"))
    assert capture.outcome is Outcome.OK, capture.detail
    assert not [path for path in seen if path.startswith("/private/")]
    assert "/open/data.json" in seen and capture.dom is not None and "open-data-loaded" in capture.dom
    assert "skipped 2 request(s) robots.txt disallows" in capture.detail
    assert [s.url for s in capture.subresponses] == [url + "open/data.json"]


def test_pages_run_in_the_inspections_time_zone(simulation: Simulation) -> None:
    # A page that formats dates in script shows them as its Vietnamese users see them, not in UTC.
    page = (
        b"<!DOCTYPE html><html><body><p id='tz'></p><script>document.getElementById('tz').textContent = "
        b"'offset ' + new Date(Date.UTC(2023, 8, 30)).getTimezoneOffset();</script>"
        b"</body></html>"
    )
    with one_page_site(page) as url:
        policy = policy_for(simulation, allowed=frozenset({host_key(url)}))
        [capture] = render(policy, browser_target(url))
    assert capture.outcome is Outcome.OK, capture.detail
    assert capture.dom is not None and "offset -420" in capture.dom  # UTC+7 (UTC would be 0)


def test_requests_to_hosts_not_allowed_are_aborted_and_counted(
    simulation: Simulation, page_with_other_hosts: str
) -> None:
    # The simulated pages only load from their own host, so a one-page site of our own refers elsewhere.
    policy = policy_for(simulation, allowed=frozenset({host_key(page_with_other_hosts)}))
    [capture] = render(policy, browser_target(page_with_other_hosts))
    assert capture.outcome is Outcome.OK, capture.detail
    other = host_key(simulation.url("phuong-2"))
    assert f"aborted 4 request(s) to hosts not allowed: {other} (4)" in capture.detail
    assert capture.dom is not None and "Trang thử" in capture.dom
    assert not [e for e in simulation.log("phuong-2") if "offhost-probe" in e.target]


def test_a_redirect_to_a_host_not_allowed_is_not_followed(make_simulation: SimulationFactory) -> None:
    # page.route sees only the first URL of a redirect chain: the hop is stopped by the DevTools guard.
    with make_simulation(FaultSpec("phuong-1", "moved")) as sim:
        successor = host_key(sim.url("phuong-tan-ninh"))
        allowed = frozenset(host_key(u) for u in sim.urls.values()) - {successor}
        [capture] = render(
            policy_for(sim, allowed=allowed), browser_target(sim.url("phuong-1") + "/vi/news/")
        )
        assert capture.outcome is Outcome.HOST_NOT_ALLOWED
        assert f"{successor} is not one of the configured hosts" in capture.detail
        assert [(hop.status, hop.url) for hop in capture.redirects] == [
            (301, sim.url("phuong-1") + "/vi/news/")
        ]
        assert sim.log("phuong-tan-ninh") == []


@contextmanager
def listener() -> Iterator[tuple[str, list[int]]]:
    """A host not allowed: a bare TCP listener that counts every connection made to it, requests or not."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[int] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed at the end of the test
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        server.close()
        thread.join(timeout=5)


def test_nothing_the_page_starts_reaches_a_host_not_allowed(simulation: Simulation) -> None:
    # Chromium's host guard (a dead proxy that only the allowed hosts bypass) refuses what the page's route
    # never sees: a sub-resource's redirect, a popup, a preconnect, a WebSocket.
    with listener() as (other, accepted):
        page = (
            f'<!DOCTYPE html><html><head><link rel="preconnect" href="{other}"></head><body><h1>ok</h1>'
            f'<img src="/moved.png"><script>window.open("{other}/popup");'
            f'new WebSocket("{other.replace("http", "ws", 1)}/socket");'
            f'fetch("/moved.json").catch(function () {{}});</script></body></html>'
        ).encode()
        redirects = {"/moved.png": f"{other}/photo.png", "/moved.json": f"{other}/data.json"}
        seen: list[str] = []
        with one_page_site(page, seen=seen, redirects=redirects) as url:
            policy = policy_for(simulation, allowed=frozenset({host_key(url)}))
            [capture] = render(policy, browser_target(url))
        assert accepted == []
    assert capture.outcome is Outcome.OK, capture.detail
    assert "/moved.png" in seen and "/moved.json" in seen  # the first hops were asked for, and refused after
    other_host, own_host = host_key(other), host_key(url)
    # Three refusals, named by the host refused; Chromium sometimes reports a redirect's refused next hop as the
    # failure of its first URL, which is then named as the next hop of a redirect from the page's host.
    assert "aborted 3 request(s) to hosts not allowed: " in capture.detail and other_host in capture.detail
    assert f"not allowed: {own_host} (" not in capture.detail and f", {own_host} (" not in capture.detail
    assert all(host_key(s.url) == own_host for s in capture.subresponses)  # nothing of the other host kept


def test_only_requests_robots_txt_cannot_disallow_skip_the_route() -> None:
    # The route sees every request but those to the page's own origin whose path starts with no Disallow
    # rule's literal start (of any group: "/a*b" counts as "/a") and has no escape Protego would decode.
    rules = rules_from_response(
        200,
        b"User-agent: *\nDisallow: /admin/\nDisallow: /data/x?y\nAllow: /\nUser-agent: bot\nDisallow: /a*b\n",
    )
    assert rules.disallow_prefixes() == ("/a", "/admin/", "/data/x")
    assert rules_from_response(200, b"User-agent: *\nDisallow: *.php\n").disallow_prefixes() is None
    assert rules_from_response(404, b"").disallow_prefixes() == ()
    assert rules_from_response(503, b"").disallow_prefixes() is None

    class Fetcher:
        def robots_read(self, url: str) -> RobotsRules | None:
            return rules

    page = "http://127.0.0.1:8080/vi/news/"
    pattern = _routed_urls(browser_target(page), Fetcher())  # type: ignore[arg-type]
    assert isinstance(pattern, re.Pattern)
    routed = {
        "http://127.0.0.1:8080/themes/site.css": False,
        "http://127.0.0.1:8080/data/": False,
        "http://127.0.0.1:8080/admin/x": True,
        "http://127.0.0.1:8080/about": True,  # "/a" of "/a*b"
        "http://127.0.0.1:8080/data/x?z": True,
        "http://127.0.0.1:8080/%61dmin/": True,  # Protego reads it as /admin/
        "http://127.0.0.1:8081/themes/site.css": True,
        "http://127.0.0.1:80801/themes/site.css": True,
        "https://127.0.0.1:8080/themes/site.css": True,
        "http://other.example/themes/site.css": True,
    }
    assert {url: bool(pattern.search(url)) for url in routed} == routed
    posted = browser_target(page, method="POST", body=b"q=1")
    assert _routed_urls(posted, Fetcher()) == "**/*"  # type: ignore[arg-type]


def test_the_host_guard_bypasses_each_allowed_host_on_its_port_only() -> None:
    # A host key without a port means the scheme's default one; loopback is not bypassed implicitly.
    allowed = frozenset({"a.gov.vn", "127.0.0.1:8080"})
    assert bypass_list(allowed) == "<-loopback>,127.0.0.1:8080,http://a.gov.vn:80,https://a.gov.vn:443"


def test_request_allowed_checks_scheme_and_host_with_port() -> None:
    allowed = frozenset({"127.0.0.1:8080", "dichvucong.gov.vn"})
    assert request_allowed("http://127.0.0.1:8080/a", allowed)
    assert request_allowed("https://DichVuCong.gov.vn:443/p/home/", allowed)  # the default port is no port
    assert not request_allowed("http://127.0.0.1:8081/a", allowed)
    assert not request_allowed("https://cdn.example.com/jquery.js", allowed)
    assert request_allowed("ws://127.0.0.1:8080/socket", allowed)  # a WebSocket's host is its HTTP host
    assert request_allowed("wss://dichvucong.gov.vn/socket", allowed)
    assert not request_allowed("wss://push.example.com/socket", allowed)
    assert not request_allowed("ftp://dichvucong.gov.vn/file", allowed)
    assert request_allowed("data:image/png;base64,AAAA", allowed)  # never leaves the browser


# --- politeness ---------------------------------------------------------------------------------------------


def _visits(entries: list[Any], is_document: Any) -> list[tuple[float, float]]:
    """One site's log cut into page visits: from a document request to the last request before the next."""
    entries = sorted(entries, key=lambda e: e.started)
    visits: list[list[Any]] = []
    for entry in entries:
        if is_document(entry) or not visits:
            visits.append([])
        visits[-1].append(entry)
    return [(v[0].started, max(e.finished for e in v)) for v in visits]


def test_pages_of_one_host_are_visited_one_at_a_time(make_simulation: SimulationFactory) -> None:
    with make_simulation() as sim:
        targets = [
            browser_target(sim.url("dvc_tinh") + f"/thu-tuc-hanh-chinh?DonViID={n}", wait_for=DVC_ROWS)
            for n in (354, 355, 356)
        ]
        captures = render(policy_for(sim), *targets, together=True, max_pages=3)
        assert [c.outcome for c in captures] == [Outcome.OK] * 3
        entries = [e for e in sim.log("dvc_tinh") if e.target != "/robots.txt"]
        visits = _visits(entries, lambda e: e.target.startswith("/thu-tuc-hanh-chinh"))
        assert len(visits) == 3
        for (_, ended), (next_started, _) in itertools.pairwise(visits):
            assert next_started >= ended  # the next page of the host starts after the last one's requests


def test_no_more_than_max_pages_are_open_at_once(make_simulation: SimulationFactory) -> None:
    with make_simulation() as sim:
        targets = [
            browser_target(sim.url("dvc_tinh") + DVC_LIST, wait_for=DVC_ROWS),
            browser_target(sim.url("phuong-2") + "/vi/news/thong-bao/"),
        ]
        captures = render(policy_for(sim), *targets, together=True, max_pages=1)
        assert [c.outcome for c in captures] == [Outcome.OK] * 2
        spans = sorted(
            (min(e.started for e in log), max(e.finished for e in log))
            for log in (
                [e for e in sim.log(site) if e.target != "/robots.txt"] for site in ("dvc_tinh", "phuong-2")
            )
        )
        assert spans[0][1] <= spans[1][0]  # two hosts, one page slot: the visits do not overlap


# --- the browser itself -------------------------------------------------------------------------------------


def test_contexts_are_recycled_so_cookies_do_not_carry_over(simulation: Simulation) -> None:
    # The national portal hands out session cookies with its pages; a new context starts without them.
    target = browser_target(simulation.url("dvc_quocgia") + DASHBOARD)

    def cookie_sent(capture: Capture) -> bool:
        return any(name.lower() == "cookie" for name, _ in capture.request_headers)

    kept = render(policy_for(simulation), target, target, recycle_context_after=100)
    fresh = render(policy_for(simulation), target, target, recycle_context_after=1)
    assert [c.outcome for c in kept + fresh] == [Outcome.OK] * 4
    assert [cookie_sent(c) for c in kept] == [False, True]
    assert [cookie_sent(c) for c in fresh] == [False, False]


def test_target_headers_go_with_the_document_request_only(simulation: Simulation) -> None:
    since = time.monotonic()
    url = simulation.url("phuong-3") + "/vi/news/thong-bao/"
    [capture] = render(
        policy_for(simulation), browser_target(url, headers=(("User-Agent", "cchc-override/1"),))
    )
    assert capture.outcome is Outcome.OK, capture.detail
    agents = {e.target: e.user_agent for e in log_since(simulation, "phuong-3", since)}
    assert agents["/vi/news/thong-bao/"] == "cchc-override/1"
    assert [a for t, a in agents.items() if t.startswith("/uploads/")] and all(
        a == USER_AGENT for t, a in agents.items() if t.startswith(("/uploads/", "/themes/"))
    )


def _browser_processes() -> set[int]:
    """Chromium browser processes (not its helpers) under this test process.

    A helper that the browser (or its zygote) has just forked still shows the browser's command line until it
    rewrites it, so a chromium process is a browser only when its parent is not one: the walk stops at a browser."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [os.getpid()]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, []):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            # Helpers rewrite their command line into one string: look for --type= anywhere in it.
            if command.split(b"\0")[0].endswith(b"/chromium") and b"--type=" not in command:
                found.add(child)
            else:
                stack.append(child)
    return found


def test_a_crashed_browser_is_relaunched_for_the_next_render(
    simulation: Simulation, make_simulation: SimulationFactory
) -> None:
    async def run(hanging: Simulation) -> tuple[Capture, Capture, int]:
        hosts = frozenset(host_key(u) for sim in (simulation, hanging) for u in sim.urls.values())
        before = _browser_processes()
        async with (
            HttpFetcher(policy_for(simulation, allowed=hosts)) as fetcher,
            BrowserRenderer(fetcher, executable=chromium_path(), page_timeout_s=60.0) as renderer,
        ):
            ours = _browser_processes() - before
            assert len(ours) == 1
            hang = browser_target(hanging.url("phuong-1") + "/vi/news/thong-bao/")
            pending = asyncio.ensure_future(renderer.render(hang))
            # The page's request has reached the hanging server (a hung request is logged only when it ends).
            deadline = time.monotonic() + 60
            while hanging.servers["phuong-1"].faults[0].matched == 0:
                assert not pending.done() and time.monotonic() < deadline, "the page was never requested"
                await asyncio.sleep(0.05)
            os.kill(ours.pop(), signal.SIGKILL)  # the browser dies in the middle of a page
            crashed = await pending
            after = await renderer.render(
                browser_target(simulation.url("dvc_tinh") + DVC_LIST, wait_for=DVC_ROWS)
            )
            return crashed, after, renderer.launches

    with make_simulation(FaultSpec("phuong-1", "hang", path="/vi/news/")) as hanging:
        crashed, after, launches = asyncio.run(run(hanging))
    assert crashed.outcome is Outcome.BROWSER_ERROR and crashed.detail
    assert crashed.elapsed_ms < 50_000  # the crash ends the visit; it does not wait for the 60 s timeout
    assert after.outcome is Outcome.OK, after.detail
    assert launches == 2


def test_no_chromium_names_the_command_that_installs_it(
    simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BrowserNotFound, match="sudo apt-get install -y chromium"):
        render(policy_for(simulation), executable="/nonexistent/chromium")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BrowserNotFound, match="sudo apt-get install -y chromium"):
        find_chromium()


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("Page.goto: net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/", Outcome.CONNECTION_ERROR),
        ("Page.goto: net::ERR_EMPTY_RESPONSE at http://127.0.0.1:9/", Outcome.CONNECTION_ERROR),
        ("Page.goto: net::ERR_NAME_NOT_RESOLVED at http://x.invalid/", Outcome.CONNECTION_ERROR),
        ("Page.goto: net::ERR_TIMED_OUT at http://127.0.0.1:9/", Outcome.TIMEOUT),
        ("Page.goto: net::ERR_BLOCKED_BY_CLIENT at http://127.0.0.1:9/", Outcome.HOST_NOT_ALLOWED),
        # Chromium's host guard: only a host the proxy bypass list leaves out is ever sent to the dead proxy
        ("Page.goto: net::ERR_PROXY_CONNECTION_FAILED at http://127.0.0.1:9/", Outcome.HOST_NOT_ALLOWED),
        ("Page.goto: net::ERR_TOO_MANY_REDIRECTS at http://127.0.0.1:9/", Outcome.HTTP_ERROR),
        ("Page.goto: net::ERR_ABORTED at http://127.0.0.1:9/", Outcome.BROWSER_ERROR),
        ("Target page, context or browser has been closed", Outcome.BROWSER_ERROR),
    ],
)
def test_playwright_errors_map_to_outcome_classes(message: str, outcome: Outcome) -> None:
    from playwright.async_api import Error

    assert classify_error(Error(message)) is outcome


# --- evidence -----------------------------------------------------------------------------------------------


def test_a_browser_capture_is_kept_as_verifiable_evidence(simulation: Simulation, tmp_path: Path) -> None:
    [capture] = render(
        policy_for(simulation), browser_target(simulation.url("dvc_tinh") + DVC_LIST, wait_for=DVC_ROWS)
    )
    assert capture.outcome is Outcome.OK, capture.detail
    store = EvidenceStore.open(f"sqlite:///{tmp_path}/e.sqlite3", tmp_path / "blobs", tmp_path / "key.pem")
    try:
        run = store.begin_run("test")
        assert run.id is not None
        snapshot = store.store(run.id, capture)
        store.finish_run(run.id)
        assert verify(store.engine, store.blobs).clean
        with Session(store.engine) as session:
            roles = session.exec(
                select(SnapshotBlob.role).where(SnapshotBlob.snapshot_id == snapshot.id)
            ).all()
        assert {"response_body", "dom", "screenshot", "subresponse"} <= set(roles)
        assert roles.count("subresponse") == len(capture.subresponses) >= 2
        assert snapshot.render == "browser" and snapshot.valid
    finally:
        store.close()
