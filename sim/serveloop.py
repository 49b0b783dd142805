"""The event-loop front end: one thread, one asyncio loop listening on every site's socket, so that thousands of
simulated portals (`cchc sim --portals N`) cost one thread, not a serve thread per site and one per connection.

What is answered is decided by sim.http.Exchange, as in the threads front end; this module only carries bytes
and waits (loop timers for `slow`, a parked connection for `hang`), so a faulty site never holds up another.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from sim.http import (
    CONTINUE,
    IDLE_TIMEOUT_S,
    LINGER_S,
    BadRequest,
    Exchange,
    Reply,
    RequestParser,
    SiteServer,
    close_with_reset,
    refusal,
)

SWEEP_EVERY_S = 5.0  # how often idle keep-alive connections are looked for: one timer for all, not one each


class _Connection(asyncio.Protocol):
    """One client connection to one site: requests are answered one at a time, in order (pipelined requests
    wait in the parser; reading pauses while an answer is being made, so a client cannot queue unbounded)."""

    def __init__(self, front: EventLoopServer, server: SiteServer) -> None:
        self.front = front
        self.server = server
        self.parser = RequestParser()
        self.transport: asyncio.Transport | None = None
        self.client_port = 0
        self.exchange: Exchange | None = None  # the request being answered
        self.timer: asyncio.TimerHandle | None = None
        self.writable = True
        self.refused = False  # a refusal was sent: the rest is read and dropped
        self.last_active = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client_port = int(peer[1]) if peer else 0
        self.front.connections.setdefault(self.server.site.id, set()).add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        # A slow answer's timer still fires, and its request is logged with its status, as the threads front
        # end logs it when a client leaves before the answer; until then it stays listed, so that stopping the
        # simulation wakes it. A hung request is logged when the simulation stops.
        if self.timer is None:
            self._forget()

    def _forget(self) -> None:
        self.front.connections.get(self.server.site.id, set()).discard(self)

    def wake(self) -> None:
        """The simulation stops: a slow answer is made now (and logged), as the threads front end wakes it."""
        if self.timer is not None and self.exchange is not None:
            self.timer.cancel()
            self.timer = None
            self.exchange.reply()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.refused:
            return
        self.parser.feed(data)
        self._next()

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._next()

    @property
    def idle(self) -> bool:
        """Not answering a request (a half-sent request is idle too, as a read times out in the threads)."""
        return self.exchange is None

    def _next(self) -> None:
        transport = self.transport
        if transport is None or self.exchange is not None or not self.writable or transport.is_closing():
            return
        item = self.parser.next()
        if item is None:
            if self.parser.wants_continue():
                transport.write(CONTINUE)
            return
        if isinstance(item, BadRequest):
            # A lingering close, as in the threads front end: what the client still sends is read and dropped
            # until it closes (eof_received) or LINGER_S passes, so that no RST destroys the refusal.
            transport.write(refusal(item, self.server.site.server_header))
            self.refused = True
            if transport.can_write_eof():
                transport.write_eof()
            self.front.loop.call_later(LINGER_S, transport.close)
            return
        exchange = self.exchange = Exchange(self.server, item, self.client_port)
        transport.pause_reading()
        if exchange.drop == "reset":
            exchange.abandon()
            sock = transport.get_extra_info("socket")
            if sock is not None:
                close_with_reset(sock)
            transport.abort()  # the close then sends RST
            return
        if exchange.drop == "hang":
            # Logged when the simulation stops, as the threads front end does.
            self.front.hung.append(exchange)
            return
        if exchange.pause_s:
            self.timer = self.front.loop.call_later(exchange.pause_s, self._answer, exchange)
            return
        self._answer(exchange)

    def _answer(self, exchange: Exchange) -> None:
        self.timer = None
        if self.front.pool is None:
            self._send(exchange, exchange.reply())
            return
        future = self.front.loop.run_in_executor(self.front.pool, exchange.reply)
        future.add_done_callback(lambda done: self._send(exchange, done.result()))

    def _send(self, exchange: Exchange, reply: Reply) -> None:
        transport = self.transport
        if transport is None:
            self._forget()  # the client left while its answer was made: logged all the same
            return
        if transport.is_closing() or self.exchange is not exchange:
            return
        transport.write(reply.data)
        self.exchange = None
        self.last_active = time.monotonic()
        if reply.close:
            transport.close()
            return
        transport.resume_reading()
        self._next()


class EventLoopServer:
    """Serves every site from one asyncio loop on one thread.

    Site code (rendering a page) is synchronous CPU work, under a millisecond a request. It runs inline on the
    loop by default (workers=0): on a burst of 6,000 keep-alive requests over 2,000 portals (bench/sim_serve.py,
    docs/simulation.md) a pool of 4 threads was no faster (5.9-6.5 s against 5.9-7.0 s inline; the GIL lets
    no two renders run at once) and cost 6 % more CPU (the hand-off of every request). Faults that wait (slow,
    hang) never block the loop: they are timers and parked connections.
    """

    def __init__(self, workers: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="sim-site") if workers else None
        self.thread: threading.Thread | None = None
        self.listeners: dict[str, asyncio.AbstractServer] = {}
        self.connections: dict[str, set[_Connection]] = {}
        self.hung: list[Exchange] = []
        self._sweeper: asyncio.TimerHandle | None = None

    def serve(self, servers: list[SiteServer]) -> None:
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="sim-event-loop", daemon=True)
        self.thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(self._listen(servers), self.loop).result()

    def withdraw(self, server: SiteServer) -> None:
        """Take one site off the network: its port refuses connections and its open connections close."""
        server.stopping.set()
        asyncio.run_coroutine_threadsafe(self._withdraw(server.site.id), self.loop).result()

    def stop(self) -> None:
        if self.thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close_all(), self.loop).result()
        if self.pool is not None:  # answers still in the pool hand their bytes to the loop: keep it running
            self.pool.shutdown(wait=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
        self.thread = None

    # --- on the loop's thread -------------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    async def _listen(self, servers: list[SiteServer]) -> None:
        for server in servers:
            self.listeners[server.site.id] = await self.loop.create_server(
                lambda server=server: _Connection(self, server),  # type: ignore[misc]
                sock=server.socket,
                backlog=256,
            )
        self._sweeper = self.loop.call_later(SWEEP_EVERY_S, self._sweep)

    def _sweep(self) -> None:
        """Close keep-alive connections idle for IDLE_TIMEOUT_S (a hung or slow answer is not idle)."""
        cutoff = time.monotonic() - IDLE_TIMEOUT_S
        for connections in self.connections.values():
            for connection in list(connections):
                if connection.idle and connection.last_active < cutoff and connection.transport is not None:
                    connection.transport.close()
        self._sweeper = self.loop.call_later(SWEEP_EVERY_S, self._sweep)

    async def _withdraw(self, site_id: str) -> None:
        listener = self.listeners.pop(site_id, None)
        if listener is not None:
            listener.close()
        for connection in list(self.connections.pop(site_id, set())):
            connection.wake()
            if connection.transport is not None:
                connection.transport.abort()
        self._log_hung(site_id)

    async def _close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for site_id in list(self.listeners):
            await self._withdraw(site_id)
        for site_id in list(self.connections):
            await self._withdraw(site_id)
        self._log_hung(None)

    def _log_hung(self, site_id: str | None) -> None:
        kept = []
        for exchange in self.hung:
            if site_id is None or exchange.server.site.id == site_id:
                exchange.abandon()
            else:
                kept.append(exchange)
        self.hung = kept
