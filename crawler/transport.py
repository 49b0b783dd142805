"""A connection pool per host, for a crawler that sends one request at a time to each of many hosts.

httpcore's pool checks every connection it holds (a poll() each, to see whether the server closed it) whenever
a request starts or ends. With one pool for the whole crawl that is one system call per host per request; with
a pool per host it is one. Pools of hosts not used for a while are closed once more than `max_hosts` are open,
so a crawl of thousands of portals keeps a bounded number of sockets.
"""

from __future__ import annotations

import functools
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpx

# One request in flight per host (crawler.politeness); robots.txt and a rendered page's own requests may
# overlap with it, hence a few connections, of which one is kept open between requests.
PER_HOST_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=1)
MAX_HOSTS = 256


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (certifi's CA bundle, verification on), made once a process: making one loads the
    bundle, 25 ms of CPU, and each crawl made its own (the tests' clients share it too, tests/loopback.py). No one
    changes it after it is made, so every client and thread may share it."""
    return httpx.create_ssl_context()


class PerHostTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_hosts: int = MAX_HOSTS, limits: httpx.Limits = PER_HOST_LIMITS) -> None:
        self.max_hosts = max_hosts
        self.limits = limits
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], httpx.AsyncHTTPTransport] = OrderedDict()
        self._active: dict[tuple[bytes, bytes, int | None], int] = {}
        self._tls = tls_context()  # one for every pool, not one per host

    @property
    def open_hosts(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = httpx.AsyncHTTPTransport(verify=self._tls, limits=self.limits)
        self._pools.move_to_end(key)
        self._active[key] = self._active.get(key, 0) + 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            self._release(key)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, lambda: self._release(key))
        await self._close_unused()
        return response

    def _release(self, key: tuple[bytes, bytes, int | None]) -> None:
        self._active[key] -= 1

    async def _close_unused(self) -> None:
        """Close the pools of the hosts used longest ago, with no request open, down to max_hosts."""
        # The idle pools are chosen and unlinked with no await in between: requests ending together each run
        # this, and one closing a pool must not let another pick the same pool from a list made before.
        idle: list[httpx.AsyncHTTPTransport] = []
        for key in list(self._pools):
            if len(self._pools) <= self.max_hosts:
                break
            if self._active.get(key, 0) == 0:
                idle.append(self._pools.pop(key))
                self._active.pop(key, None)
        for pool in idle:
            await pool.aclose()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.aclose()


class _Released(httpx.AsyncByteStream):
    """A response's body stream that tells its pool's owner when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._stream = stream
        self._on_close: Callable[[], None] | None = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._on_close is not None:
                on_close, self._on_close = self._on_close, None
                on_close()
