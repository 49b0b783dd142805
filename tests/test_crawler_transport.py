"""The per-host connection pools against the simulated portals over real HTTP: with more hosts than the pools
it keeps, requests to every host at once all succeed, and idle pools are closed down to the bound.

(At 2,000 simulated portals, concurrent requests each closed "the idle pools" from their own list and closed
the same pool twice: thousands of requests failed with a KeyError.)"""

from __future__ import annotations

import asyncio

import httpx

from crawler.transport import PerHostTransport
from sim import Simulation


def test_requests_to_more_hosts_than_kept_pools_all_succeed_and_idle_pools_are_closed(
    simulation: Simulation,
) -> None:
    origins = sorted(simulation.urls.values())
    assert len(origins) > 4

    async def run() -> tuple[list[int], int, int]:
        transport = PerHostTransport(max_hosts=2)
        async with httpx.AsyncClient(transport=transport, timeout=120) as client:

            async def get(origin: str) -> int:
                response = await client.get(origin + "/robots.txt")
                return response.status_code

            statuses: list[int] = []
            most_open = 0
            for _ in range(5):  # several rounds: pools closed in one are opened again in the next
                statuses += await asyncio.gather(*(get(origin) for origin in origins))
                most_open = max(most_open, transport.open_hosts)
            await client.get(origins[0] + "/robots.txt")  # one request alone: every other pool is idle
            return statuses, most_open, transport.open_hosts

    statuses, most_open, open_at_end = asyncio.run(run())
    assert statuses == [200] * (5 * len(origins))
    assert most_open <= len(origins) and open_at_end <= 2
