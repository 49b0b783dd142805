"""Rendering the pages JavaScript fills: the system Chromium, driven by Playwright, under the fetcher's rules.
`render()` never raises for what a site does: each visit ends in one Capture (document, DOM, PNG, XHR)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    WebSocket,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from crawler._models import BrowserStep, Capture, Header, Hop, Outcome, SubResponse, Target
from crawler.chromium import find_chromium
from crawler.fetcher import REDIRECTS, HttpFetcher, _retry_after, host_key
from crawler.hostguard import REFUSED_ERRORS, ClosedPort

log = logging.getLogger("cchc.crawler")

# Kept with the page: the JSON behind it (evidence of its figures), and what it needs to be replayed as it was
# seen (styles, scripts, images, fonts). Media streams are left out: large, and no figure rests on them.
SUBRESOURCE_TYPES = frozenset({"xhr", "fetch", "stylesheet", "script", "image", "font"})
MAX_SUBRESOURCES = 200  # per page; beyond, the page's detail says how many were left out
NETWORK_QUIET_S = 0.25  # nothing in flight this long counts as idle (Playwright's "networkidle" waits 0.5 s)
NETWORK_IDLE_MAX_S = 3.0
CAPTURE_RESERVE_S = 5.0  # of the budget, kept for the DOM and screenshot of a page whose wait timed out
CLOSE_TIMEOUT_S = 5.0
NO_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})
# A WebSocket's host is checked as the HTTP host it upgrades from.
WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

_NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
# Chromium's own refusals, not the network's: they say nothing about whether the site answers.
_BROWSER_NET_ERRORS = frozenset(
    {"ERR_ABORTED", "ERR_FAILED", "ERR_ACCESS_DENIED", "ERR_INVALID_URL", "ERR_UNKNOWN_URL_SCHEME",
     "ERR_INSUFFICIENT_RESOURCES", "ERR_OUT_OF_MEMORY", "ERR_BLOCKED_BY_RESPONSE", "ERR_FILE_NOT_FOUND"}
)  # fmt: skip


def request_allowed(url: str, allowed_hosts: frozenset[str]) -> bool:
    """Whether a page may send this request: only to a configured host (data: and blob: never leave)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in NO_NETWORK_SCHEMES:
        return True
    if scheme not in WEB_SCHEMES:
        return False
    return host_key(parts._replace(scheme=WEB_SCHEMES[scheme]).geturl()) in allowed_hosts


def classify_error(exc: BaseException) -> Outcome:
    """The outcome class of something Playwright raised while visiting a page."""
    if isinstance(exc, PlaywrightTimeout | TimeoutError):
        return Outcome.TIMEOUT
    match = _NET_ERROR.search(str(exc))
    if match is None:
        return Outcome.BROWSER_ERROR
    code = match.group(1)
    if code == "ERR_BLOCKED_BY_CLIENT" or code in REFUSED_ERRORS:  # our route or Chromium's host guard
        return Outcome.HOST_NOT_ALLOWED
    if "TIMED_OUT" in code:
        return Outcome.TIMEOUT
    if code == "ERR_TOO_MANY_REDIRECTS":  # the fetcher's class for a redirect loop
        return Outcome.HTTP_ERROR
    if code in _BROWSER_NET_ERRORS:
        return Outcome.BROWSER_ERROR
    return Outcome.CONNECTION_ERROR


class BrowserRenderer:
    """One Chromium for many pages: a fresh page per target, at most `max_pages` at once, one per host."""

    def __init__(
        self,
        fetcher: HttpFetcher,
        *,
        executable: str = "",
        page_timeout_s: float = 30.0,
        recycle_context_after: int = 100,
        viewport: tuple[int, int] = (1280, 900),
        max_pages: int = 2,
        timezone_id: str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self.fetcher = fetcher
        self.timezone_id = timezone_id  # a page that formats dates in script shows them as its users see them
        self.executable = executable
        self.page_timeout_s = page_timeout_s
        self.recycle_context_after = max(1, recycle_context_after)
        self.viewport = viewport
        self.max_pages = max(1, max_pages)
        self.launches = 0  # Chromiums started: more than one after a crash
        self._page_slots = asyncio.Semaphore(self.max_pages)
        self._launch_lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._current: _Lease | None = None
        self._leases: list[_Lease] = []
        self._background: set[asyncio.Task[None]] = set()
        self._guard: ClosedPort | None = None  # the dead proxy of every context: see crawler/hostguard.py

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> BrowserRenderer:
        self.executable = find_chromium(self.executable)
        self._guard = ClosedPort()
        self._playwright = await async_playwright().start()
        try:
            await self._launch()
        except BaseException:
            await self._playwright.stop()
            self._playwright = None
            self._guard.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for lease in list(self._leases):
            await self._close_context(lease)
        self._current = None
        if self._browser is not None:
            browser, self._browser = self._browser, None
            await _quietly(browser.close())
        if self._playwright is not None:
            playwright, self._playwright = self._playwright, None
            await playwright.stop()
        if self._guard is not None:
            self._guard.close()  # after Chromium: no context is left to send anything there
            self._guard = None

    async def _launch(self) -> Browser:
        assert self._playwright is not None, "use `async with BrowserRenderer(...)`"
        old, self._browser = self._browser, None
        if old is not None:  # it crashed: its contexts died with it
            self._leases = [lease for lease in self._leases if lease.browser is not old]
            self._current = None
            await _quietly(old.close())
        self._browser = await self._playwright.chromium.launch(executable_path=self.executable)
        self.launches += 1
        return self._browser

    async def _lease(self) -> _Lease:
        """A context: a new one every `recycle_context_after` pages, a new browser after a crash."""
        async with self._launch_lock:
            browser = self._browser
            if browser is None or not browser.is_connected():
                log.warning("Chromium is gone; launching a new one")
                browser = await self._launch()
            lease = self._current
            if lease is None or lease.opened >= self.recycle_context_after:
                if lease is not None:
                    await self._retire(lease)
                lease = self._current = _Lease(await self._new_context(browser), browser)
                self._leases.append(lease)
            lease.opened += 1
            lease.in_flight += 1
            return lease

    async def _new_context(self, browser: Browser) -> BrowserContext:
        assert self._guard is not None, "use `async with BrowserRenderer(...)`"
        width, height = self.viewport
        # Chromium itself refuses every host not allowed, in every page of the context (popups, redirects,
        # preconnects, WebSockets) without pausing a request; our page's route checks again and names them.
        return await browser.new_context(
            user_agent=self.fetcher.policy.user_agent,
            viewport={"width": width, "height": height},
            timezone_id=self.timezone_id,
            service_workers="block",  # a service worker's requests would not pass page.route (robots.txt)
            accept_downloads=False,
            proxy=self._guard.proxy(self.fetcher.policy.allowed_hosts),
        )

    async def _release(self, lease: _Lease, *, broken: bool) -> None:
        lease.in_flight -= 1
        if broken and not lease.retired:
            await self._retire(lease)  # whatever broke the page may have broken its context
        elif lease.retired and lease.in_flight == 0:
            await self._close_context(lease)

    async def _retire(self, lease: _Lease) -> None:
        """No new pages in this context; it closes when its last page does (pages may share it)."""
        lease.retired = True
        if self._current is lease:
            self._current = None
        if lease.in_flight == 0:
            await self._close_context(lease)

    async def _close_context(self, lease: _Lease) -> None:
        if lease in self._leases:
            self._leases.remove(lease)
        await _quietly(lease.context.close())

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(_quietly(work))
        self._background.add(task)  # a reference, or the task may be collected before it ran
        task.add_done_callback(self._background.discard)

    # --- the one public verb ------------------------------------------------------------------------------

    async def render(self, target: Target) -> Capture:
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        refusal = await self.fetcher.refusal(target.url)
        if refusal is not None:
            outcome, detail = refusal
            log.info("browser %s: %s %s", target.url, outcome, detail)
            return Capture(target=target, outcome=outcome, started_at=started_at, attempts=0,
                           elapsed_ms=_ms_since(clock), final_url=target.url, detail=detail)  # fmt: skip
        host = host_key(target.url)
        waiting = time.monotonic()
        # The host first, then a page slot, so that no slot idles while its host rests.
        async with self.fetcher.politeness.turn(host), self._page_slots:
            queued_ms = _ms_since(waiting)
            capture = await self._visit(target, started_at, clock)
        capture.queue_ms = queued_ms
        if capture.status in (429, 503):
            wait = _retry_after(capture.header("retry-after"))
            if wait is not None:  # after the turn, whose own pause would overwrite this one
                self.fetcher.politeness.hold_off(host, min(wait, self.fetcher.policy.retry_after_max_s))
        if capture.outcome is not Outcome.OK:
            log.info("browser %s: %s %s", target.url, capture.outcome, capture.detail)
        return capture

    # --- one page visit -----------------------------------------------------------------------------------

    async def _visit(self, target: Target, started_at: datetime, clock: float) -> Capture:
        capture = Capture(target=target, outcome=Outcome.OK, started_at=started_at, final_url=target.url)
        try:
            lease = await self._lease()
        except PlaywrightError as exc:
            capture.outcome = Outcome.BROWSER_ERROR
            capture.detail = f"Chromium could not start: {_error_text(exc)}"
            capture.elapsed_ms = _ms_since(clock)
            return capture
        budget = _Budget(self.page_timeout_s)
        traffic = _Traffic(target, self.fetcher.policy.allowed_hosts)
        page: Page | None = None
        notes: list[str] = []
        try:
            main: Response | None = None
            try:
                async with asyncio.timeout(budget.fill_s() + 0.2):  # a backstop under Playwright's timeouts
                    page = await lease.context.new_page()
                    await self._watch(page, lease.context, traffic)
                    main = await page.goto(target.url, timeout=budget.fill_ms(), wait_until="load")
                    if main is None:
                        raise PlaywrightError(f"navigating to {target.url} gave no response")
                    if main.status < 400:  # an error page will not fill: keep it as it is
                        await self._fill(page, target, budget, traffic)
            except (PlaywrightError, TimeoutError) as exc:
                capture.outcome = classify_error(exc)
                text = (
                    _error_text(exc) if str(exc) else f"the page took longer than {self.page_timeout_s:g} s"
                )
                capture.detail = traffic.blocked_redirect or (
                    f"{traffic.stage}: {text}" if traffic.stage else text
                )
            if page is not None and not page.is_closed():
                try:
                    async with asyncio.timeout(budget.left_s()):
                        await self._collect(page, main or traffic.document, traffic, capture, notes, budget)
                except (PlaywrightError, TimeoutError) as exc:
                    if capture.outcome is Outcome.OK:
                        capture.outcome = classify_error(exc)
                        capture.detail = f"capturing the page: {_error_text(exc) or 'out of time'}"
        finally:
            if page is not None:
                await _quietly(page.close())
            for task in traffic.subresponses:
                task.cancel()
            await self._release(lease, broken=capture.outcome is Outcome.BROWSER_ERROR)
        if capture.status is not None and capture.status >= 400 and capture.outcome is Outcome.OK:
            capture.outcome = Outcome.RATE_LIMITED if capture.status == 429 else Outcome.HTTP_ERROR
            capture.detail = f"HTTP {capture.status} {capture.reason}".strip()
        capture.detail = "; ".join(filter(None, [capture.detail, traffic.summary(), *notes]))
        capture.elapsed_ms = _ms_since(clock)
        return capture

    async def _watch(self, page: Page, context: BrowserContext, traffic: _Traffic) -> None:
        """Route every request through the host check, and keep what the page loads."""

        async def route(route: Route) -> None:
            await _route(route, page, traffic, self.fetcher)

        def on_request(request: Request) -> None:
            traffic.in_flight.add(request)
            traffic.last_activity = time.monotonic()

        def on_done(request: Request) -> None:
            traffic.in_flight.discard(request)
            traffic.last_activity = time.monotonic()

        def on_failed(request: Request) -> None:
            on_done(request)
            if not _refused_by_guard(request.failure):
                return
            if request_allowed(request.url, traffic.allowed_hosts):
                # Chromium can report a redirect's refused next hop as the failure of its first, allowed URL,
                # before the next hop's URL reaches us: name where the redirect came from, not an allowed host.
                traffic.block_next_hop_of(request.url)
            else:  # a redirect's next hop: our route saw only its first URL
                traffic.block(request.url)

        def on_response(response: Response) -> None:
            request = response.request
            if request.resource_type in SUBRESOURCE_TYPES:
                traffic.subresponses.append(asyncio.ensure_future(_subresponse(response)))
            elif response.status not in REDIRECTS and _is_main_navigation(request, page):
                traffic.document = response  # kept for a page whose "load" never comes

        def on_socket(socket: WebSocket) -> None:
            # WebSockets do not pass page.route; one to a host not allowed fails at Chromium's host guard.
            if not request_allowed(socket.url, traffic.allowed_hosts):
                traffic.block(socket.url)

        await page.route(_routed_urls(traffic.target, self.fetcher), route)
        if traffic.target.steps:  # only then is the settling ours to tell (see _fill): two events a request
            page.on("request", on_request)
            page.on("requestfinished", on_done)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        page.on("websocket", on_socket)
        page.on("popup", lambda popup: self._spawn(popup.close()))  # its requests meet only the host guard
        await self._attach_devtools(page, context, traffic)

    async def _attach_devtools(self, page: Page, context: BrowserContext, traffic: _Traffic) -> None:
        """What page.route cannot tell: the document's redirects (route sees only the first URL of a chain;
        a hop to a host not allowed is refused by Chromium's host guard, and named here), and the document
        request's headers as sent (route reports them unsent). No request waits on this session."""
        cdp = await context.new_cdp_session(page)

        def on_sent(event: dict[str, Any]) -> None:
            if not traffic.navigation_id and event.get("type") == "Document":
                traffic.navigation_id = str(event["requestId"])
            redirect = event.get("redirectResponse")
            if redirect and event["requestId"] == traffic.navigation_id:
                # Playwright reports no redirect whose next hop failed: keep the hop from here.
                headers = _devtools_headers(redirect.get("headers", {}))
                traffic.hops.append(Hop(str(redirect["url"]), int(redirect["status"]), headers))
                url = str(event["request"]["url"])
                if not traffic.blocked_redirect and not request_allowed(url, traffic.allowed_hosts):
                    host = host_key(url) or url
                    traffic.blocked_redirect = (
                        f"redirect to {url} not followed: {host} is not one of the configured hosts"
                    )

        def on_sent_extra(event: dict[str, Any]) -> None:
            traffic.sent_headers[str(event["requestId"])] = _devtools_headers(event.get("headers", {}))

        def on_received(event: dict[str, Any]) -> None:
            status = int(event.get("response", {}).get("status", 0))
            if event.get("requestId") == traffic.navigation_id and status not in REDIRECTS:
                self._spawn(cdp.detach())  # the document's headers are in; spare the rest

        cdp.on("Network.requestWillBeSent", on_sent)
        cdp.on("Network.requestWillBeSentExtraInfo", on_sent_extra)
        cdp.on("Network.responseReceived", on_received)
        await cdp.send("Network.enable")

    async def _fill(self, page: Page, target: Target, budget: _Budget, traffic: _Traffic) -> None:
        """Wait for the page to be filled, do the steps, then let the network settle."""
        if target.wait_for:
            traffic.stage = f"waiting for {target.wait_for}"
            await page.wait_for_selector(target.wait_for, timeout=budget.fill_ms())
        for n, step in enumerate(target.steps, start=1):
            traffic.stage = f"step {n} ({step.action} {step.selector})"
            await _do(page, step, budget.fill_ms())
        traffic.stage = ""
        limit_s = min(NETWORK_IDLE_MAX_S, budget.fill_s())
        if target.steps:  # what a step starts comes after Playwright's "networkidle", which fires once
            await _network_idle(traffic, limit_s)
        else:
            await _network_settled(page, limit_s)

    async def _collect(
        self,
        page: Page,
        main: Response | None,
        traffic: _Traffic,
        capture: Capture,
        notes: list[str],
        budget: _Budget,
    ) -> None:
        """Copy into the capture what the page shows and what it loaded."""
        capture.final_url = page.url
        if main is None:  # Chromium's error page, or nothing: not the site's
            capture.redirects = tuple(traffic.hops)
            return
        capture.status = main.status
        capture.reason = main.status_text
        capture.response_headers = _headers(await main.headers_array())
        sent = traffic.sent_headers.get(traffic.navigation_id)
        capture.request_headers = sent or _headers(await main.request.headers_array())
        capture.redirects = await _redirect_chain(main.request)
        capture.peer, capture.tls = await _network_facts(main)
        capture.response_ms = _server_ms(main)
        capture.http_version = await _http_version(page)
        limit = self.fetcher.policy.max_body_bytes
        try:
            capture.body = await main.body()
        except PlaywrightError as exc:
            notes.append(f"document body unavailable: {_error_text(exc)}")
        if capture.body is not None and len(capture.body) > limit:
            capture.body = None
            capture.outcome = Outcome.TOO_LARGE
            capture.detail = f"body larger than {limit} bytes"
        if traffic.subresponses:
            # Bodies are read as they arrive; the stragglers get half of the time left.
            done, _ = await asyncio.wait(traffic.subresponses, timeout=budget.left_s() / 2)
            read = [task.result() if task in done else None for task in traffic.subresponses]
            kept = [sub for sub in read if sub is not None]
            if len(kept) < len(read):
                notes.append(f"{len(read) - len(kept)} sub-resource(s) could not be read")
            if len(kept) > MAX_SUBRESOURCES:
                notes.append(
                    f"{len(kept) - MAX_SUBRESOURCES} sub-resource(s) beyond {MAX_SUBRESOURCES} not kept"
                )
                kept = kept[:MAX_SUBRESOURCES]
            room = limit  # the sub-resources of one page share one body limit
            for n, sub in enumerate(kept):
                if len(sub.body) > room:
                    notes.append(
                        f"{sub.resource_type} {sub.url}: {len(sub.body)} bytes over the page's limit, body not kept"
                    )
                    kept[n] = SubResponse(
                        sub.url, sub.method, sub.status, sub.headers, b"", sub.resource_type
                    )
                else:
                    room -= len(sub.body)
            capture.subresponses = tuple(kept)
        capture.dom = await page.content()
        capture.screenshot = await page.screenshot(full_page=True, type="png", timeout=budget.left_s() * 1000)


class _Budget:
    """The page's time: its waits end early enough to leave a reserve for capturing what it shows."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.fill_end = self.end - min(CAPTURE_RESERVE_S, seconds * 0.2)

    def fill_s(self) -> float:
        return max(0.001, self.fill_end - time.monotonic())

    def fill_ms(self) -> float:
        return self.fill_s() * 1000  # never 0, which Playwright reads as "no timeout"

    def left_s(self) -> float:
        return max(0.001, self.end - time.monotonic())


@dataclass
class _Lease:
    """A browser context and how many pages it has served."""

    context: BrowserContext
    browser: Browser
    opened: int = 0
    in_flight: int = 0
    retired: bool = False


@dataclass
class _Traffic:
    """What one page sent and received while it was open."""

    target: Target
    allowed_hosts: frozenset[str]
    main_routed: bool = False
    in_flight: set[Request] = field(default_factory=set)
    last_activity: float = field(default_factory=time.monotonic)
    blocked: Counter[str] = field(default_factory=Counter)
    blocked_redirect: str = ""
    robots_disallowed: list[str] = field(default_factory=list)  # sub-requests robots.txt does not allow
    stage: str = ""  # what the page was doing, for the detail of a failure
    document: Response | None = None
    hops: list[Hop] = field(default_factory=list)  # of the document request, as DevTools saw them
    subresponses: list[asyncio.Future[SubResponse | None]] = field(default_factory=list)
    navigation_id: str = ""
    sent_headers: dict[str, tuple[Header, ...]] = field(default_factory=dict)

    def block(self, url: str) -> None:
        self.blocked[host_key(url) or urlsplit(url).scheme or url] += 1

    def block_next_hop_of(self, url: str) -> None:
        self.blocked[f"the next hop of a redirect from {host_key(url)}"] += 1

    def summary(self) -> str:
        parts = []
        if self.blocked:
            hosts = ", ".join(f"{host} ({n})" for host, n in self.blocked.most_common())
            parts.append(f"aborted {sum(self.blocked.values())} request(s) to hosts not allowed: {hosts}")
        if self.robots_disallowed:
            shown = ", ".join(self.robots_disallowed[:3]) + (", …" if len(self.robots_disallowed) > 3 else "")
            parts.append(f"skipped {len(self.robots_disallowed)} request(s) robots.txt disallows: {shown}")
        return "; ".join(parts)


async def _route(route: Route, page: Page, traffic: _Traffic, fetcher: HttpFetcher) -> None:
    request = route.request
    try:
        if not request_allowed(request.url, traffic.allowed_hosts):
            traffic.block(request.url)
            await route.abort("blockedbyclient")
            return
        main = _is_main_navigation(request, page)  # its robots.txt was read before the visit
        web = urlsplit(request.url).scheme in ("http", "https")
        if web and not main and not await fetcher.robots_allow(request.url):
            traffic.robots_disallowed.append(request.url)
            await route.abort("blockedbyclient")
            return
        target = traffic.target
        overridden = target.headers or target.method != "GET" or target.body
        if overridden and not traffic.main_routed and main:
            traffic.main_routed = True
            headers = {**request.headers, **dict(target.headers)}
            await route.continue_(method=target.method, headers=headers, post_data=target.body or None)
            return
        await route.continue_()
    except PlaywrightError:
        pass  # the page closed while the request waited: nothing left to route


def _routed_urls(target: Target, fetcher: HttpFetcher) -> str | re.Pattern[str]:
    """The requests our route must see: all but those to the page's own origin whose path robots.txt cannot
    disallow (most of what a page loads), which Chromium then sends without a round trip to Python. Hosts
    not allowed are never on the page's origin, so every request to one is still routed, refused and named."""
    rules = fetcher.robots_read(target.url)
    prefixes = rules.disallow_prefixes() if rules is not None else None
    parts = urlsplit(target.url)
    overridden = target.headers or target.method != "GET" or target.body
    if overridden or prefixes is None or parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return "**/*"
    # Written as Chromium writes a URL (host in lower case, no default port); any other spelling of the
    # origin, or a "%" anywhere after it, falls outside the exception and is routed.
    origin = re.escape(f"{parts.scheme}://{host_key(target.url)}")
    disallowed = f"(?!{'|'.join(map(re.escape, prefixes))})" if prefixes else ""
    return re.compile(f"^(?!{origin}(?=/)(?![^%]*%){disallowed})")


def _refused_by_guard(failure: str | None) -> bool:
    match = _NET_ERROR.search(failure or "")
    return match is not None and match.group(1) in REFUSED_ERRORS


def _is_main_navigation(request: Request, page: Page) -> bool:
    try:
        return request.is_navigation_request() and request.frame == page.main_frame
    except PlaywrightError:
        return False  # a service worker's request has no frame


async def _do(page: Page, step: BrowserStep, timeout_ms: float) -> None:
    if step.action == "select":
        # force: select2-style pickers hide the real <select>, which Playwright would wait to see.
        await page.select_option(step.selector, step.value, force=True, timeout=timeout_ms)
    elif step.action == "click":
        await page.click(step.selector, timeout=timeout_ms)
    elif step.action == "wait_for":
        await page.wait_for_selector(step.selector, timeout=timeout_ms)
    else:
        raise PlaywrightError(f"unknown browser step {step.action!r}")


async def _network_settled(page: Page, limit_s: float) -> None:
    """Until Playwright's "networkidle" (nothing in flight for 0.5 s after "load", told by its driver without
    an event a request to us), or limit_s: the page's JavaScript may still fetch."""
    with contextlib.suppress(PlaywrightTimeout):  # still busy: the page is captured as it is by then
        await page.wait_for_load_state("networkidle", timeout=limit_s * 1000)


async def _network_idle(traffic: _Traffic, limit_s: float) -> None:
    """Until nothing is in flight for NETWORK_QUIET_S, or limit_s: the page's JavaScript may still fetch."""
    deadline = time.monotonic() + limit_s
    # A fresh quiet window: a request a step has just started may not have been reported yet.
    traffic.last_activity = time.monotonic()
    while time.monotonic() < deadline:
        if not traffic.in_flight and time.monotonic() - traffic.last_activity >= NETWORK_QUIET_S:
            return
        await asyncio.sleep(0.05)


async def _subresponse(response: Response) -> SubResponse | None:
    try:
        body = await response.body()
        headers = _headers(await response.headers_array())
    except PlaywrightError:
        return None
    request = response.request
    return SubResponse(
        url=response.url,
        method=request.method,
        status=response.status,
        headers=headers,
        body=body,
        resource_type=request.resource_type,
    )


async def _hop(response: Response) -> Hop:
    return Hop(url=response.url, status=response.status, headers=_headers(await response.headers_array()))


async def _redirect_chain(request: Request) -> tuple[Hop, ...]:
    hops: list[Hop] = []
    previous = request.redirected_from
    while previous is not None:
        response = await previous.response()
        if response is not None:
            hops.append(await _hop(response))
        previous = previous.redirected_from
    return tuple(reversed(hops))


async def _network_facts(response: Response) -> tuple[str | None, dict[str, str] | None]:
    address = await response.server_addr()
    peer = f"{address['ipAddress']}:{address['port']}" if address else None
    details = await response.security_details()
    if not details:
        return peer, None
    tls = {
        "version": str(details.get("protocol", "")),
        "subject": str(details.get("subjectName", "")),
        "issuer": str(details.get("issuer", "")),
    }
    valid_to = details.get("validTo")
    if valid_to:
        tls["not_after"] = datetime.fromtimestamp(valid_to, UTC).isoformat()
    return peer, tls


def _headers(pairs: list[Any]) -> tuple[Header, ...]:
    return tuple((str(h["name"]), str(h["value"])) for h in pairs)


def _devtools_headers(headers: dict[str, Any]) -> tuple[Header, ...]:
    # DevTools joins repeated headers with a newline.
    return tuple((name, line) for name, value in headers.items() for line in str(value).split("\n"))


async def _http_version(page: Page) -> str:
    """The document's protocol, which Playwright does not tell, spelled as the fetcher does: "HTTP/1.1"."""
    try:
        protocol = await page.evaluate("() => performance.getEntriesByType('navigation')[0]?.nextHopProtocol")
    except PlaywrightError:
        return ""  # a fact about the capture, not worth failing it for
    value = str(protocol or "").lower()
    if value.startswith("http/"):
        return value.upper()
    if value in ("h2", "h2c", "h3") or value.startswith("h3-"):
        return f"HTTP/{value[1]}"
    return ""


def _error_text(exc: BaseException) -> str:
    """The error without Playwright's call log, which repeats the URL and grows with every retry."""
    text = str(exc).split("\nCall log:", 1)[0].strip() or type(exc).__name__
    return text if len(text) <= 600 else text[:600] + "…"


async def _quietly(work: Awaitable[Any], timeout_s: float = CLOSE_TIMEOUT_S) -> None:
    """Close or answer something that may be gone already (a crashed browser, a closed page)."""
    try:
        async with asyncio.timeout(timeout_s):
            await work
    except (PlaywrightError, TimeoutError):
        pass


def _ms_since(clock: float) -> int:
    return round((time.monotonic() - clock) * 1000)


def _server_ms(response: Response) -> int | None:
    """The document's own time, from Chromium's resource timing: the request's start to the answer's last
    byte (milliseconds after `startTime`; -1 when Chromium did not record it)."""
    end = response.request.timing.get("responseEnd", -1)
    return round(end) if end is not None and end >= 0 else None
