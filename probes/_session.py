"""One crawl run: fetch or render a target, keep it as evidence, parse it, keep what the parser found.

Probes' walks call `visit()`; the session counts snapshots by outcome, observations and parse failures.
A snapshot that cannot be read (a body that does not decode, an unknown charset, a parser that fails on it)
is a recorded parse failure, never an exception that ends the walk unrecorded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from sqlmodel import Session

from cchc.settings import Settings
from crawler import Capture, HttpFetcher, Outcome, Target
from crawler.content import DEFAULT_MAX_BYTES, ContentError, decode_content
from evidence import EvidenceStore
from evidence.models import Observation, ParseFailure, Snapshot
from evidence.store import ParseResult
from probes._base import PageUnreadable, Parsed, Parser, SnapshotView, SubView

log = logging.getLogger("cchc.probes")


class Renderer(Protocol):
    """What the session needs of a browser renderer (crawler.browser.BrowserRenderer)."""

    async def render(self, target: Target) -> Capture: ...


@dataclass
class CrawlCounts:
    snapshots: Counter[str] = field(default_factory=Counter)  # by outcome
    observations: int = 0
    parse_failures: int = 0
    job_failures: int = 0
    failures: list[str] = field(default_factory=list)  # "parser: url: reason", "probe/job: the job failed: …"


def decoded_body(
    raw: bytes, content_encoding: str | None, *, browser: bool, max_bytes: int
) -> tuple[bytes, str]:
    """A stored body as a parser reads it, and why not when it cannot be (then the body is empty)."""
    if not raw:
        return b"", ""
    try:
        return decode_content(raw, content_encoding, max_bytes=max_bytes, already_decoded=browser), ""
    except ContentError as exc:
        return b"", str(exc)


def content_encoding_of(store: EvidenceStore, snapshot_id: int) -> str | None:
    """The Content-Encoding of a stored snapshot's body (a 304 reuses the body of the one it confirms)."""
    with Session(store.engine) as session:
        stored = session.get(Snapshot, snapshot_id)
    headers = stored.response_headers if stored is not None else []
    return next((v for k, v in headers if k.lower() == "content-encoding"), None)


def view_of(
    capture: Capture, snapshot: Snapshot | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> SnapshotView:
    if capture.outcome is Outcome.TOO_LARGE:
        body, body_error = b"", ""  # the outcome says it all; a bomb is never inflated to be read
    elif capture.content is not None:
        body, body_error = capture.content, ""  # the fetcher decoded it already, within the same bound
    else:
        body, body_error = decoded_body(capture.body or b"", capture.header("content-encoding"),
                                        browser=capture.target.render == "browser", max_bytes=max_bytes)  # fmt: skip
    return SnapshotView(
        url=capture.target.url,
        final_url=capture.final_url,
        method=capture.target.method,
        request_headers=capture.target.headers,
        request_body=capture.target.body,
        outcome=str(capture.outcome),
        status=capture.status,
        headers=capture.response_headers,
        body=body,
        redirects=tuple((h.url, h.status) for h in capture.redirects),
        elapsed_ms=capture.elapsed_ms,
        response_ms=capture.response_ms,
        queue_ms=capture.queue_ms,
        render=capture.target.render,
        dom=capture.dom,
        subresponses=tuple(SubView(s.url, s.status, s.body) for s in capture.subresponses),
        unit=capture.target.unit,
        label=capture.target.label,
        fetched_at=capture.started_at,
        snapshot_id=snapshot.id if snapshot else None,
        tls=capture.tls,
        body_error=body_error,
    )


def read(probe: Parser, view: SnapshotView, settings: Settings) -> Parsed:
    """A probe's parser on one view; whatever keeps it from reading the page is a PageUnreadable."""
    if view.body_error and getattr(probe, "reads_body", True):
        raise PageUnreadable("content", view.where, view.body_error)
    try:
        return probe.parse(view, settings)
    except PageUnreadable:
        raise
    except ContentError as exc:  # an unknown charset, say: the page cannot be read as its server meant
        raise PageUnreadable("content", view.where, str(exc)) from exc
    except Exception as exc:
        # A parser's own bug: recorded against the snapshot that showed it, with the traceback in the log.
        log.exception("%s parser failed on %s", probe.name, view.where)
        raise PageUnreadable("error", view.where, f"the parser failed: {type(exc).__name__}: {exc}") from exc


def parse_result(
    probe: Parser, settings: Settings, snapshot_id: int, unit: str | None, view: SnapshotView
) -> tuple[Parsed | None, PageUnreadable | None, ParseResult]:
    """Run a probe's parser on one snapshot: what it read, why it could not, and the rows that keep either."""
    now = datetime.now(UTC)
    try:
        parsed = read(probe, view, settings)
    except PageUnreadable as exc:
        failure = ParseFailure(
            snapshot_id=snapshot_id,
            probe=probe.name,
            unit=unit,
            parser=f"{probe.name}/{exc.parser}",
            parser_version=probe.version,
            reason=exc.reason,
            created_at=now,
        )
        return None, exc, ParseResult([], [failure])
    rows = [
        Observation(
            snapshot_id=snapshot_id,
            probe=probe.name,
            unit=f.unit,
            metric=f.metric,
            period=f.period,
            value=f.value,
            text=f.text,
            attributes=dict(f.attributes),
            parser=probe.name,
            parser_version=probe.version,
            derived_at=now,
        )
        for f in parsed.found
    ]
    return parsed, None, ParseResult(rows, [])


def parse_and_keep(
    store: EvidenceStore,
    probe: Parser,
    settings: Settings,
    snapshot_id: int,
    unit: str | None,
    view: SnapshotView,
) -> tuple[Parsed | None, PageUnreadable | None]:
    """Run a probe's parser on one snapshot and keep the result: its observations, or a parse failure."""
    parsed, failure, rows = parse_result(probe, settings, snapshot_id, unit, view)
    if rows.failures:
        store.add_parse_failure(rows.failures[0])
    else:
        store.add_observations(rows.observations)
    return parsed, failure


class CrawlSession:
    def __init__(
        self,
        settings: Settings,
        store: EvidenceStore,
        fetcher: HttpFetcher,
        run_id: int,
        *,
        browser: Renderer | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.browser = browser
        self.run_id = run_id
        self.counts = CrawlCounts()
        self.shared: dict[
            str, object
        ] = {}  # state walks share within one run (the national portal's cookies)
        self._on_snapshot = on_snapshot

    async def capture(self, target: Target) -> tuple[Snapshot, SnapshotView]:
        """Fetch (or render) a target and keep it: the snapshot and what a parser would see of it."""
        if target.render == "browser":
            if self.browser is None:
                raise RuntimeError(f"{target.url}: a browser target but the crawl has no browser")
            capture = await self.browser.render(target)
        else:
            validators = None
            if target.conditional:
                known = self.store.validators(target.key)
                validators = (known.etag, known.last_modified) if known else None
            capture = await self.fetcher.fetch(target, validators)
        snapshot = await self.store.keep(self.run_id, capture)
        self.counts.snapshots[snapshot.outcome] += 1
        if self._on_snapshot is not None:
            self._on_snapshot(snapshot)
        max_bytes = self.settings.politeness.max_body_bytes
        view = view_of(capture, snapshot, max_bytes=max_bytes)
        if capture.status == 304 and snapshot.not_modified_of is not None:
            # The server confirmed the earlier content: the parser reads that content, as it was encoded.
            earlier = self.store.body(snapshot.not_modified_of) or b""
            encoding = content_encoding_of(self.store, snapshot.not_modified_of)
            body, problem = decoded_body(earlier, encoding, browser=False, max_bytes=max_bytes)
            view = replace(view, body=body, body_error=problem)
        return snapshot, view

    async def observe(self, probe: Parser, snapshot: Snapshot, view: SnapshotView) -> Parsed | None:
        """Parse one snapshot; keep its observations, or a parse failure with the reason. The parse is kept by
        the store's writer with those of other walks (one transaction, one journal fsync): it is durable when
        this returns, as a capture is when keep() returns."""
        assert snapshot.id is not None
        parsed, failure, rows = parse_result(probe, self.settings, snapshot.id, snapshot.unit, view)
        await self.store.keep_parse(rows.observations, rows.failures)
        if failure is not None:
            self.counts.parse_failures += 1
            self.counts.failures.append(str(failure))
            log.warning("parse failure: %s", failure)
            return None
        assert parsed is not None
        self.counts.observations += len(parsed.found)
        return parsed

    async def visit(self, probe: Parser, target: Target) -> tuple[Snapshot, Parsed | None]:
        """Capture a target and, when it is evidence of content, parse it."""
        snapshot, view = await self.capture(target)
        if snapshot.outcome != Outcome.OK and not getattr(probe, "parses_failures", False):
            return snapshot, None
        return snapshot, await self.observe(probe, snapshot, view)
