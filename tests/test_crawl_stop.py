"""Stopping a crawl (SIGTERM, Ctrl-C: the crawl's task is cancelled) ends it even when a walk swallows its
first cancellation, as httpcore's connection code can through anyio (anyio#1214): at 2,000 portals a crawl
ignored SIGTERM for minutes. The swallowing depends on where in httpcore a cancellation lands, which no test can
arrange over real HTTP; so the stubborn walk here is a stand-in that swallows its first cancellation on
purpose. Everything else is real: the runner, the fetcher, a SQLite store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from probe_helpers import open_test_store
from sqlmodel import Session

from cchc.settings import Settings, Unit
from cli.wiring import fetch_policy
from evidence.models import Run
from probes._probe import Job
from probes._runner import COMPLETED_WITH_FAILURES, INTERRUPTED, CrawlReport, crawl
from probes._session import CrawlSession

BOUND_S = 30.0  # a failure bound, not a wait: the stop takes under a second even on a loaded machine


class StandInProbe:
    """A probe whose jobs are the given walks (a stand-in: no parsing, nothing fetched)."""

    name = "stand-in"

    def __init__(self, *walks: Job) -> None:
        self._walks = list(walks)

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]:
        return self._walks

    def parse(self, *args: object, **kwargs: object) -> list[object]:
        return []


def test_a_stop_ends_the_crawl_though_a_walk_swallows_its_first_cancellation(
    settings: Settings, tmp_path: Path
) -> None:
    store = open_test_store(tmp_path)
    started = asyncio.Event()
    swallowed: list[str] = []
    finished: list[str] = []

    async def stubborn(session: CrawlSession) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append("stubborn")  # what anyio#1214 does to httpcore's caller: the walk goes on
        await asyncio.Event().wait()

    async def quick(session: CrawlSession) -> None:
        finished.append("quick")

    async def main() -> CrawlReport:
        probe = StandInProbe(Job("stand-in", "stubborn", stubborn), Job("stand-in", "quick", quick))
        crawling = asyncio.create_task(
            crawl(settings, store, [probe], [], policy=fetch_policy(settings), with_browser=False)  # type: ignore[list-item]
        )
        await asyncio.wait_for(started.wait(), BOUND_S)
        crawling.cancel()  # what the SIGTERM handler of `cchc probes run` does
        done, _ = await asyncio.wait({crawling}, timeout=BOUND_S)
        if not done:
            crawling.cancel()  # a second cancellation ends the stand-in, so that the test can end
            await asyncio.wait({crawling})
            raise AssertionError(f"the crawl was still running {BOUND_S:.0f} s after it was stopped")
        return crawling.result()

    try:
        report = asyncio.run(main())
        assert swallowed == ["stubborn"] and finished == ["quick"]
        assert report.status == INTERRUPTED
        with Session(store.engine) as session:
            run = session.get(Run, report.run_id)
            assert run is not None and run.status == INTERRUPTED and run.finished_at is not None
    finally:
        store.close()


def test_a_walk_cancelled_from_within_ends_the_run_with_failures_naming_it(
    settings: Settings, tmp_path: Path
) -> None:
    store = open_test_store(tmp_path)

    async def cancelled_by_a_library(session: CrawlSession) -> None:
        raise asyncio.CancelledError

    async def quick(session: CrawlSession) -> None:
        return None

    probe = StandInProbe(
        Job("stand-in", "cancelled", cancelled_by_a_library), Job("stand-in", "quick", quick)
    )
    try:
        report = asyncio.run(
            crawl(settings, store, [probe], [], policy=fetch_policy(settings), with_browser=False)  # type: ignore[list-item]
        )
        assert report.status == COMPLETED_WITH_FAILURES
        assert report.counts.failures == ["stand-in/cancelled: the job was cancelled before it finished"]
    finally:
        store.close()
