"""The polite HTTP fetcher: robots.txt, one request in flight per host, retries with backoff and jitter,
Retry-After, timeouts, a body limit, redirects only within the allowed hosts, conditional GET, cookies per
origin.

`fetch()` never raises for what the network or a server does: every attempt ends in one Outcome, with the
request as sent, the response as received (raw body, de-chunked, still content-encoded) and the redirects.
The body limit holds twice: on the bytes off the wire, and on the body once its content-encoding is undone
(a 200 KB gzip bomb that decodes to 200 MB is `too-large`, its raw bytes kept, never parsed).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from crawler._models import Capture, Header, Hop, Outcome, Target
from crawler.content import ContentError, ContentTooLarge, decode_content
from crawler.cookies import DEFAULT_PORTS, OriginCookies, refusing_jar
from crawler.politeness import Politeness
from crawler.robots import RobotsRules, rules_from_response, unreachable
from crawler.transport import PerHostTransport

log = logging.getLogger("cchc.crawler")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchPolicy:
    """Everything the fetcher obeys; built from the settings by the caller."""

    user_agent: str
    robots_agent: str
    allowed_hosts: frozenset[str]
    min_delay_s: float = 2.0
    latency_factor: float = 4.0
    max_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 600.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 90.0
    max_body_bytes: int = 20_000_000
    obey_robots: bool = True
    max_redirects: int = 10


def host_key(url: str) -> str:
    """host[:port] in lower case, without the scheme's default port: the unit of politeness and permission."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme):
        return f"{host}:{parts.port}"
    return host


class _BodyTooLarge(Exception):
    pass


@dataclass
class _Exchange:
    """One request and its response, as they went over the wire."""

    url: str
    request_headers: tuple[Header, ...]
    status: int
    reason: str
    http_version: str
    headers: tuple[Header, ...]
    body: bytes
    peer: str | None
    tls: dict[str, str] | None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


@dataclass
class _Result:
    exchange: _Exchange | None
    outcome: Outcome
    detail: str
    attempts: int
    request_headers: tuple[Header, ...] = field(default_factory=tuple)
    queue_s: float = 0.0  # waiting for the host's turn, over every attempt
    exchange_s: float | None = None  # the last attempt, from sending the request to its answer (or failure)


@dataclass
class _Clocks:
    """One request's attempts: time spent waiting for the host's turn, and the last attempt's exchange."""

    queue_s: float = 0.0
    exchange_s: float | None = None


@dataclass
class _Timing:
    """What one fetch spent waiting for its host's turn and what the server took, over its redirect hops."""

    queue_s: float = 0.0
    server_s: float | None = None

    def add(self, result: _Result) -> None:
        self.queue_s += result.queue_s
        if result.exchange_s is not None:
            self.server_s = (self.server_s or 0.0) + result.exchange_s


class HttpFetcher:
    def __init__(
        self,
        policy: FetchPolicy,
        politeness: Politeness | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self.politeness = politeness or Politeness(policy.min_delay_s, policy.latency_factor)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._blocked_until: dict[str, float] = {}
        self.cookies = OriginCookies()
        timeout = httpx.Timeout(
            connect=policy.connect_timeout_s,
            read=policy.read_timeout_s,
            write=policy.read_timeout_s,
            pool=None,
        )
        self.client = httpx.AsyncClient(
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=timeout,
            follow_redirects=False,
            cookies=refusing_jar(),  # the client keeps none: self.cookies keeps them per origin
            transport=transport or PerHostTransport(),
        )
        # A connection's peer and TLS facts, read once per connection rather than once per request.
        self._network_facts: weakref.WeakKeyDictionary[Any, tuple[str | None, dict[str, str] | None]] = (
            weakref.WeakKeyDictionary()
        )

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- the one public verb ------------------------------------------------------------------------------

    async def fetch(self, target: Target, validators: tuple[str | None, str | None] | None = None) -> Capture:
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        headers = list(target.headers)
        if target.conditional and validators:
            etag, last_modified = validators
            if etag:
                headers.append(("If-None-Match", etag))
            if last_modified:
                headers.append(("If-Modified-Since", last_modified))
        method, body, url = target.method, target.body, target.url
        hops: list[Hop] = []
        attempts = 0
        timing = _Timing()
        while True:
            refusal = await self.refusal(url)
            if refusal is not None:
                outcome, detail = refusal
                return self._capture(
                    target, started_at, clock, outcome, detail, attempts, url, hops, None, (), timing
                )
            result = await self._request(method, url, tuple(headers), body)
            attempts += result.attempts
            timing.add(result)
            exchange = result.exchange
            if exchange is None or result.outcome is not Outcome.OK:
                return self._capture(target, started_at, clock, result.outcome, result.detail, attempts, url, hops,
                                     exchange, result.request_headers, timing)  # fmt: skip
            location = exchange.header("location")
            if exchange.status not in REDIRECTS or not location:
                return self._capture(target, started_at, clock, Outcome.OK, "", attempts, url, hops, exchange,
                                     exchange.request_headers, timing)  # fmt: skip
            hops.append(Hop(url=url, status=exchange.status, headers=exchange.headers))
            url = urljoin(url, location)
            if len(hops) > self.policy.max_redirects:
                detail = f"more than {self.policy.max_redirects} redirects (a redirect loop)"
                return self._capture(target, started_at, clock, Outcome.HTTP_ERROR, detail, attempts, url, hops,
                                     None, exchange.request_headers, timing)  # fmt: skip
            if exchange.status == 303 or (exchange.status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                headers = [(k, v) for k, v in headers if k.lower() != "content-type"]

    # --- steps ----------------------------------------------------------------------------------------------

    async def refusal(self, url: str) -> tuple[Outcome, str] | None:
        """Why this URL must not be fetched, if it must not: host not allowed, backing off, robots.txt."""
        host = host_key(url)
        if urlsplit(url).scheme not in DEFAULT_PORTS or host not in self.policy.allowed_hosts:
            return Outcome.HOST_NOT_ALLOWED, f"{host or url} is not one of the configured hosts; not fetched"
        blocked = self._blocked_until.get(host, 0.0) - time.monotonic()
        if blocked > 0:
            return (
                Outcome.RATE_LIMITED,
                f"{host} asked us to wait {blocked:.0f} s more (Retry-After); not fetched",
            )
        if not self.policy.obey_robots:
            return None
        rules = await self.robots(url)
        if rules.allows(url, self.policy.robots_agent):
            self.politeness.slot(host).crawl_delay = rules.crawl_delay(self.policy.robots_agent)
            return None
        if rules.disallow_all_reason.startswith("robots.txt unreachable"):
            return Outcome.CONNECTION_ERROR, f"{host}: {rules.disallow_all_reason}"
        reason = (
            rules.disallow_all_reason
            or f"robots.txt of {host} disallows this URL for {self.policy.robots_agent}"
        )
        return Outcome.ROBOTS_DISALLOWED, reason

    async def robots_allow(self, url: str) -> bool:
        """Whether robots.txt lets a page we render load this URL. Rules already read are used even when
        stale: re-reading the page's own host's rules would wait for the turn that the page itself holds."""
        if not self.policy.obey_robots:
            return True
        rules = self._robots.get(host_key(url))
        if rules is None:
            rules = await self.robots(url)
        return rules.allows(url, self.policy.robots_agent)

    def robots_read(self, url: str) -> RobotsRules | None:
        """The rules of the URL's host if they were read already (fresh or not), without asking for them."""
        return self._robots.get(host_key(url)) if self.policy.obey_robots else RobotsRules(None, None)

    async def robots(self, url: str) -> RobotsRules:
        parts = urlsplit(url)
        host = host_key(url)
        cached = self._robots.get(host)
        if cached is not None and cached.fresh():  # the common case needs no lock
            return cached
        lock = self._robots_locks.setdefault(host, asyncio.Lock())
        async with lock:
            cached = self._robots.get(host)
            if cached is not None and cached.fresh():
                return cached
            robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
            rules: RobotsRules | None = None
            for _ in range(5):  # RFC 9309: follow at least five redirects
                result = await self._request("GET", robots_url, (), b"", retries=1)
                exchange = result.exchange
                if exchange is None:
                    rules = unreachable(result.detail)
                    break
                location = exchange.header("location")
                if exchange.status in REDIRECTS and location:
                    robots_url = urljoin(robots_url, location)
                    if host_key(robots_url) not in self.policy.allowed_hosts:
                        rules = rules_from_response(
                            404, b""
                        )  # rules on a host we may not read: treat as none
                        break
                    continue
                rules = rules_from_response(
                    exchange.status,
                    exchange.body,
                    content_encoding=exchange.header("content-encoding"),
                    max_bytes=self.policy.max_body_bytes,
                )
                break
            self._robots[host] = rules or rules_from_response(404, b"")
            return self._robots[host]

    async def _request(self, method: str, url: str, headers: tuple[Header, ...], body: bytes,
                       retries: int | None = None) -> _Result:  # fmt: skip
        """One request with retries, and how long it waited for its host's turn and for the server."""
        clocks = _Clocks()
        result = await self._attempts(method, url, headers, body, retries, clocks)
        result.queue_s, result.exchange_s = clocks.queue_s, clocks.exchange_s
        return result

    async def _attempts(self, method: str, url: str, headers: tuple[Header, ...], body: bytes,
                        retries: int | None, clocks: _Clocks) -> _Result:  # fmt: skip
        """Backoff and jitter on 5xx and network errors, Retry-After on 429/503."""
        host = host_key(url)
        allowed = self.policy.max_retries if retries is None else retries
        attempts = 0
        while True:
            attempts += 1
            failure: tuple[Outcome, str] | None = None
            exchange: _Exchange | None = None
            waiting = time.monotonic()
            async with self.politeness.turn(host):
                clocks.queue_s += time.monotonic() - waiting
                blocked = self._blocked_until.get(host, 0.0) - time.monotonic()
                if blocked > 0:  # set while this request waited for its turn
                    detail = f"{host} asked us to wait {blocked:.0f} s more (Retry-After); not sent"
                    clocks.exchange_s = None
                    return _Result(None, Outcome.RATE_LIMITED, detail, attempts - 1)
                # The server's time starts when the request is sent, not when the walk asked for it.
                sent = time.monotonic()
                try:
                    exchange = await self._exchange(method, url, headers, body)
                except _BodyTooLarge:
                    return _Result(
                        None,
                        Outcome.TOO_LARGE,
                        f"body larger than {self.policy.max_body_bytes} bytes",
                        attempts,
                    )
                except (httpx.TimeoutException, TimeoutError) as exc:
                    failure = (Outcome.TIMEOUT, _describe(exc, "timed out"))
                except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
                    failure = (Outcome.CONNECTION_ERROR, _describe(exc, "connection failed"))
                except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                    return _Result(None, Outcome.CONNECTION_ERROR, _describe(exc, "invalid URL"), attempts)
                finally:
                    clocks.exchange_s = time.monotonic() - sent
            if failure is not None:
                if attempts <= allowed:
                    await self._sleep(self._backoff(attempts))
                    continue
                return _Result(None, failure[0], f"{failure[1]} (after {attempts} attempts)", attempts)
            assert exchange is not None
            status = exchange.status
            if status == 429 or status >= 500:
                retry_after = _retry_after(exchange.header("retry-after"))
                wait = retry_after if retry_after is not None else self._backoff(attempts)
                outcome = Outcome.RATE_LIMITED if status == 429 else Outcome.HTTP_ERROR
                if wait > self.policy.retry_after_max_s:
                    self._blocked_until[host] = time.monotonic() + wait
                    detail = f"HTTP {status} with Retry-After {wait:.0f} s, longer than the {self.policy.retry_after_max_s:.0f} s we wait"
                    return _Result(exchange, outcome, detail, attempts, exchange.request_headers)
                if attempts <= allowed:
                    self.politeness.hold_off(host, wait)
                    continue
                return _Result(
                    exchange,
                    outcome,
                    f"HTTP {status} after {attempts} attempts",
                    attempts,
                    exchange.request_headers,
                )
            if status >= 400:
                return _Result(exchange, Outcome.HTTP_ERROR, f"HTTP {status} {exchange.reason}".strip(), attempts,
                               exchange.request_headers)  # fmt: skip
            return _Result(exchange, Outcome.OK, "", attempts, exchange.request_headers)

    async def _exchange(self, method: str, url: str, headers: tuple[Header, ...], body: bytes) -> _Exchange:
        request = self.client.build_request(method, url, headers=list(headers), content=body or None)
        self.cookies.add_to(request)
        async with asyncio.timeout(self.policy.total_timeout_s):
            response = await self.client.send(request, stream=True)
            self.cookies.keep_from(response)
            try:
                peer, tls = self._facts_of(response)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.policy.max_body_bytes:
                    raise _BodyTooLarge
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > self.policy.max_body_bytes:
                        raise _BodyTooLarge
                    chunks.append(chunk)
            finally:
                await response.aclose()
        return _Exchange(
            url=url,
            request_headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
            status=response.status_code,
            reason=response.reason_phrase,
            http_version=response.http_version,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw),
            body=b"".join(chunks),
            peer=peer,
            tls=tls,
        )

    def _facts_of(self, response: httpx.Response) -> tuple[str | None, dict[str, str] | None]:
        stream: Any = response.extensions.get("network_stream")
        if stream is None:
            return None, None
        facts = self._network_facts.get(stream)
        if facts is None:
            facts = self._network_facts[stream] = _network_facts(stream)
        return facts[0], None if facts[1] is None else dict(facts[1])

    def _backoff(self, attempt: int) -> float:
        base = self.policy.backoff_base_s * 2.0 ** (attempt - 1)
        return min(self.policy.backoff_max_s, base * self._rng.uniform(0.5, 1.5))

    def _capture(
        self,
        target: Target,
        started_at: datetime,
        clock: float,
        outcome: Outcome,
        detail: str,
        attempts: int,
        url: str,
        hops: list[Hop],
        exchange: _Exchange | None,
        request_headers: tuple[Header, ...],
        timing: _Timing,
    ) -> Capture:
        content: bytes | None = None
        if exchange is not None and exchange.body:
            try:
                content = decode_content(
                    exchange.body, exchange.header("content-encoding"), max_bytes=self.policy.max_body_bytes
                )
            except ContentTooLarge as exc:
                # The raw bytes stay as evidence of what was sent; nothing reads them decoded.
                explained = f"{exc} (max_body_bytes); the raw bytes are kept, never parsed"
                if outcome is Outcome.OK:
                    outcome, detail = Outcome.TOO_LARGE, explained
                else:
                    detail = f"{detail}; {explained}" if detail else explained
            except ContentError as exc:  # kept as sent; whoever reads it records it as unreadable
                detail = f"{detail}; {exc}" if detail else str(exc)
        if outcome is not Outcome.OK:
            log.info("%s %s: %s %s", target.method, target.url, outcome, detail)
        return Capture(
            target=target,
            outcome=outcome,
            started_at=started_at,
            elapsed_ms=round((time.monotonic() - clock) * 1000),
            response_ms=None if timing.server_s is None else round(timing.server_s * 1000),
            queue_ms=round(timing.queue_s * 1000),
            attempts=attempts,
            final_url=url,
            request_headers=request_headers,
            status=exchange.status if exchange else None,
            reason=exchange.reason if exchange else "",
            http_version=exchange.http_version if exchange else "",
            response_headers=exchange.headers if exchange else (),
            body=exchange.body if exchange else None,
            content=content,
            redirects=tuple(hops),
            peer=exchange.peer if exchange else None,
            tls=exchange.tls if exchange else None,
            detail=detail,
        )


def _describe(exc: BaseException, fallback: str) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__}: {fallback}"


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _network_facts(stream: Any) -> tuple[str | None, dict[str, str] | None]:
    address = stream.get_extra_info("server_addr")
    peer = f"{address[0]}:{address[1]}" if address else None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return peer, None
    cipher = ssl_object.cipher()
    tls = {"version": ssl_object.version() or "", "cipher": cipher[0] if cipher else ""}
    cert = ssl_object.getpeercert() or {}
    if cert:
        tls["subject"] = ", ".join("=".join(p) for rdn in cert.get("subject", ()) for p in rdn)
        tls["issuer"] = ", ".join("=".join(p) for rdn in cert.get("issuer", ()) for p in rdn)
        tls["not_after"] = str(cert.get("notAfter", ""))
    return peer, tls
