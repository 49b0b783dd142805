"""Re-deriving observations from stored evidence with the current parsers, without touching the network.

Earlier observations stay, marked with their parser version; a snapshot already parsed by the current
version of its probe is skipped, so reparse can run any number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from sqlmodel import Session, col, select

from cchc.settings import Settings
from crawler import Outcome
from crawler.content import DEFAULT_MAX_BYTES
from evidence import EvidenceStore
from evidence.models import Observation, ParseFailure, Snapshot, SnapshotBlob
from probes._base import SnapshotView, SubView
from probes._probe import Probe
from probes._session import content_encoding_of, decoded_body, parse_and_keep
from probes._timing import server_time

log = logging.getLogger("cchc.probes")

BATCH = 500


@dataclass
class ReparseCounts:
    snapshots: int = 0
    skipped: int = 0
    observations: int = 0
    parse_failures: int = 0
    failures: list[str] = field(default_factory=list)


def stored_view(
    store: EvidenceStore,
    snapshot: Snapshot,
    links: Sequence[SnapshotBlob],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SnapshotView:
    """What a parser sees of a stored snapshot: the same view the crawl gave it."""
    blobs = {link.role: link for link in links if link.role != "subresponse"}
    headers = tuple((k, v) for k, v in snapshot.response_headers)
    encoding = next((v for k, v in headers if k.lower() == "content-encoding"), None)
    if snapshot.not_modified_of is not None:  # its body is the one it confirmed, encoded as that one was
        encoding = content_encoding_of(store, snapshot.not_modified_of)
    body, body_error = b"", ""
    if "response_body" in blobs and snapshot.outcome != Outcome.TOO_LARGE:  # a bomb is never inflated
        raw = store.blobs.get(blobs["response_body"].sha256)
        body, body_error = decoded_body(
            raw, encoding, browser=snapshot.render == "browser", max_bytes=max_bytes
        )
    request_body = store.blobs.get(blobs["request_body"].sha256) if "request_body" in blobs else b""
    dom = store.blobs.get(blobs["dom"].sha256).decode("utf-8") if "dom" in blobs else None
    subs = tuple(
        SubView(link.url or "", int(link.info.get("status", 0)), store.blobs.get(link.sha256))
        for link in links
        if link.role == "subresponse"
    )
    request_headers = tuple((k, v) for k, v in snapshot.request_headers)
    return SnapshotView(
        url=snapshot.url,
        final_url=snapshot.final_url,
        method=snapshot.method,
        request_headers=request_headers,
        request_body=request_body,
        outcome=snapshot.outcome,
        status=snapshot.status_code,
        headers=headers,
        body=body,
        redirects=tuple((h["url"], int(h["status"])) for h in snapshot.redirects),
        elapsed_ms=snapshot.elapsed_ms,
        response_ms=snapshot.response_ms,
        queue_ms=snapshot.queue_ms,
        render=snapshot.render,
        dom=dom,
        subresponses=subs,
        unit=snapshot.unit,
        label=snapshot.label,
        fetched_at=snapshot.fetched_at,
        snapshot_id=snapshot.id,
        tls=snapshot.tls,
        body_error=body_error,
    )


def view_to_parse(
    settings: Settings,
    store: EvidenceStore,
    snapshot: Snapshot,
    links: Sequence[SnapshotBlob],
    probe: Probe | None = None,
) -> SnapshotView:
    """What the parser read when this snapshot was captured: a 304's view carries the content it confirmed; a
    snapshot kept before the server's time was measured gets a bound of it, for a probe that reads timing."""
    max_bytes = settings.politeness.max_body_bytes
    view = stored_view(store, snapshot, links, max_bytes=max_bytes)
    if snapshot.response_ms is None and getattr(probe, "reads_timing", False):
        with Session(store.engine) as session:
            bound, basis = server_time(session, snapshot)
        view = replace(view, response_ms=bound, response_basis=basis)
    if snapshot.not_modified_of is not None and not view.body and not view.body_error:
        earlier = store.body(snapshot.not_modified_of) or b""
        encoding = content_encoding_of(store, snapshot.not_modified_of)
        body, problem = decoded_body(earlier, encoding, browser=False, max_bytes=max_bytes)
        view = replace(view, body=body, body_error=problem)
    return view


def _snapshots(store: EvidenceStore, probe: Probe) -> Iterator[tuple[Snapshot, list[SnapshotBlob], bool]]:
    """Snapshots of a probe in ledger order, their blobs, and whether the current parser already read them."""
    last = 0
    wanted = [str(Outcome.OK)] if not getattr(probe, "parses_failures", False) else None
    while True:
        with Session(store.engine) as session:
            query = select(Snapshot).where(Snapshot.probe == probe.name, Snapshot.seq > last)
            if wanted is not None:
                query = query.where(col(Snapshot.outcome).in_(wanted))
            batch = session.exec(query.order_by(col(Snapshot.seq)).limit(BATCH)).all()
            if not batch:
                return
            ids = [s.id for s in batch]
            links: dict[int, list[SnapshotBlob]] = {}
            for link in session.exec(
                select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(ids))
            ).all():
                links.setdefault(link.snapshot_id, []).append(link)
            done = set(
                session.exec(
                    select(Observation.snapshot_id).where(
                        col(Observation.snapshot_id).in_(ids), Observation.parser_version == probe.version
                    )
                ).all()
            ) | set(
                session.exec(
                    select(ParseFailure.snapshot_id).where(
                        col(ParseFailure.snapshot_id).in_(ids), ParseFailure.parser_version == probe.version
                    )
                ).all()
            )
        for snapshot in batch:
            assert snapshot.id is not None
            yield snapshot, links.get(snapshot.id, []), snapshot.id in done
        last = batch[-1].seq


def reparse(
    settings: Settings,
    store: EvidenceStore,
    probes: Sequence[Probe],
    progress: Callable[[int], None] | None = None,
) -> ReparseCounts:
    counts = ReparseCounts()
    for probe in probes:
        for snapshot, links, done in _snapshots(store, probe):
            counts.snapshots += 1
            if progress is not None:
                progress(counts.snapshots)
            if done:
                counts.skipped += 1
                continue
            assert snapshot.id is not None
            view = view_to_parse(settings, store, snapshot, links, probe)
            parsed, failure = parse_and_keep(store, probe, settings, snapshot.id, snapshot.unit, view)
            if failure is not None:
                counts.parse_failures += 1
                counts.failures.append(str(failure))
            elif parsed is not None:
                counts.observations += len(parsed.found)
    return counts
