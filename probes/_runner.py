"""One pass of probes over units: every job of every probe, concurrently (politeness is per host).

A run ends "completed" when every job finished and every page was read; "completed with failures" when a job
failed or a page could not be read (each one recorded: a parse failure, or the job in the log with its run
id); "interrupted" when stopped.

Each job is a task of its own, awaited with `asyncio.wait`, so that stopping never depends on every walk
taking its first cancellation: httpcore's connection code, through anyio, can swallow one (anyio#1214), and
`asyncio.gather` then waits for that walk for ever (a crawl of 2,000 portals ignored SIGTERM for minutes). A
stop cancels every walk still running, and again every STOP_REPEAT_S, until none is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cchc.settings import Settings, Unit
from crawler import Capture, FetchPolicy, HttpFetcher, Target
from evidence import EvidenceStore
from evidence.models import Snapshot
from probes._probe import Job, Probe
from probes._session import CrawlCounts, CrawlSession

if TYPE_CHECKING:
    from crawler.browser import BrowserRenderer

log = logging.getLogger("cchc.probes")
COMPLETED = "completed"
COMPLETED_WITH_FAILURES = "completed with failures"
INTERRUPTED = "interrupted"
STOP_REPEAT_S = 0.5  # how often a stop cancels again the walks that swallowed its cancellation


@dataclass
class CrawlReport:
    run_id: int
    status: str
    started_at: datetime
    finished_at: datetime
    counts: CrawlCounts
    jobs: int
    browser_started: bool = False  # whether any target needed Chromium (JSON, RSS and plain pages do not)


async def crawl(
    settings: Settings,
    store: EvidenceStore,
    probes: Sequence[Probe],
    units: Sequence[Unit],
    *,
    policy: FetchPolicy,
    trigger: str = "manual",
    surprise: bool = False,
    with_browser: bool = True,
    on_job_done: Callable[[Job], None] | None = None,
    on_jobs: Callable[[int], None] | None = None,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> CrawlReport:
    """Run every job of the given probes for the given units as one run, and sign its checkpoint.

    The caller composes the fetch policy from the settings (`cli.wiring.fetch_policy`)."""
    started = datetime.now(UTC)
    run = store.begin_run(trigger, [p.name for p in probes], [u.id for u in units], surprise=surprise)
    assert run.id is not None
    jobs = [job for probe in probes for job in probe.jobs(settings, units)]
    if on_jobs is not None:
        on_jobs(len(jobs))
    status = COMPLETED
    browser_started = False
    log.info("run started", extra={"run_id": run.id, "probes": [p.name for p in probes], "jobs": len(jobs)})
    async with HttpFetcher(policy) as fetcher:
        renderer = BrowserOnDemand(settings, fetcher) if with_browser else None
        session = CrawlSession(settings, store, fetcher, run.id, browser=renderer, on_snapshot=on_snapshot)
        walks = [
            asyncio.create_task(_run_job(job, session, on_job_done), name=f"{job.probe}/{job.name}")
            for job in jobs
        ]
        try:
            if walks:
                await asyncio.wait(walks)
            _count_walks_cancelled_from_within(walks, session)
            if session.counts.failures:
                status = COMPLETED_WITH_FAILURES
        except asyncio.CancelledError:
            # SIGTERM or Ctrl-C: every capture so far is stored whole; the run is closed as interrupted.
            status = INTERRUPTED
            await _stop_walks(walks)
        except BaseException:
            status = INTERRUPTED
            await _stop_walks(walks)
            raise
        finally:
            if renderer is not None:
                await renderer.aclose()
                browser_started = renderer.started
            store.finish_run(run.id, status)
            log.info("run finished", extra={"run_id": run.id, "status": status, "snapshots": dict(session.counts.snapshots),
                                            "observations": session.counts.observations,
                                            "parse_failures": session.counts.parse_failures})  # fmt: skip
    return CrawlReport(run.id, status, started, datetime.now(UTC), session.counts, len(jobs), browser_started)


async def _stop_walks(walks: list[asyncio.Task[None]]) -> None:
    """Cancel every walk still running, again every STOP_REPEAT_S for one that swallowed its cancellation, and
    return when none is left. The crawl's own cancellation is taken (uncancel), so that closing the run and the
    browser afterwards is not cancelled too; a second SIGTERM while stopping only stops again."""
    current = asyncio.current_task()
    if current is not None:
        current.uncancel()
    running = {walk for walk in walks if not walk.done()}
    while running:
        for walk in running:
            walk.cancel()
        try:
            _, running = await asyncio.wait(running, timeout=STOP_REPEAT_S)
        except asyncio.CancelledError:
            if current is not None:
                current.uncancel()
            running = {walk for walk in running if not walk.done()}
        if running:
            log.warning("%d walks still running after a stop; cancelling them again", len(running))


def _count_walks_cancelled_from_within(walks: list[asyncio.Task[None]], session: CrawlSession) -> None:
    """A walk that ended cancelled though the crawl was not stopped (a library cancelled it) did not finish:
    the run ends "completed with failures" and says which."""
    for walk in walks:
        if walk.cancelled():
            session.counts.job_failures += 1
            session.counts.failures.append(f"{walk.get_name()}: the job was cancelled before it finished")


async def _run_job(job: Job, session: CrawlSession, on_done: Callable[[Job], None] | None) -> None:
    try:
        await job.walk(session)
    except Exception as exc:
        # A bug in one walk must not stop the others: it is logged with its job and run, counted, and the run
        # goes on to end "completed with failures".
        log.exception("job %s/%s failed", job.probe, job.name, extra={"run_id": session.run_id})
        session.counts.job_failures += 1
        session.counts.failures.append(f"{job.probe}/{job.name}: the job failed: {type(exc).__name__}: {exc}")
    finally:
        if on_done is not None:
            on_done(job)


class BrowserOnDemand:
    """The crawl's browser, started by its first browser target: a crawl whose evidence needs no screenshot
    (JSON APIs, RSS feeds, pages read over HTTP) never starts Playwright or Chromium. A missing Chromium is
    still named when the crawl starts, not at its first browser target."""

    def __init__(self, settings: Settings, fetcher: HttpFetcher) -> None:
        from crawler.chromium import find_chromium

        find_chromium(settings.browser.executable)
        self._settings = settings
        self._fetcher = fetcher
        self._renderer: BrowserRenderer | None = None
        self._opening = asyncio.Lock()

    @property
    def started(self) -> bool:
        return self._renderer is not None

    async def render(self, target: Target) -> Capture:
        if self._renderer is None:
            async with self._opening:
                if self._renderer is None:
                    self._renderer = await _open_browser(self._settings, self._fetcher)
        return await self._renderer.render(target)

    async def aclose(self) -> None:
        if self._renderer is not None:
            await self._renderer.aclose()


async def _open_browser(settings: Settings, fetcher: HttpFetcher) -> BrowserRenderer:
    from crawler.browser import BrowserRenderer  # Playwright is imported only when a crawl needs a browser

    renderer = BrowserRenderer(
        fetcher,
        executable=settings.browser.executable,
        page_timeout_s=settings.browser.page_timeout_s,
        recycle_context_after=settings.browser.recycle_context_after,
        viewport=(settings.browser.viewport_width, settings.browser.viewport_height),
        timezone_id=settings.inspection.timezone,
    )
    await renderer.__aenter__()
    return renderer
