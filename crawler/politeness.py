"""Per-host politeness: one request in flight per host, and a pause after each of
max(minimum delay, k × the host's last latency, the host's robots.txt Crawl-delay).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class HostSlot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_allowed: float = 0.0  # time.monotonic() before which the host gets no new request
    last_latency: float = 0.0
    crawl_delay: float = 0.0


class Politeness:
    def __init__(self, min_delay_s: float, latency_factor: float) -> None:
        self.min_delay_s = min_delay_s
        self.latency_factor = latency_factor
        self._slots: dict[str, HostSlot] = {}

    def slot(self, host: str) -> HostSlot:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = HostSlot()
        return slot

    def delay_after(self, slot: HostSlot) -> float:
        return max(self.min_delay_s, self.latency_factor * slot.last_latency, slot.crawl_delay)

    @asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[HostSlot]:
        """Hold the host: wait for the previous request's pause, then let one request through."""
        slot = self.slot(host)
        async with slot.lock:
            wait = slot.next_allowed - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            started = time.monotonic()
            try:
                yield slot
            finally:
                finished = time.monotonic()
                slot.last_latency = finished - started
                slot.next_allowed = finished + self.delay_after(slot)

    def hold_off(self, host: str, seconds: float) -> None:
        """Push the host's next request back (a Retry-After the caller chose not to wait for)."""
        slot = self.slot(host)
        slot.next_allowed = max(slot.next_allowed, time.monotonic() + seconds)
