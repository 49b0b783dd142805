"""WARC 1.1 export of stored evidence: the snapshots a filter selects, as request, response, revisit and
resource records with SHA-256 digests, each with headers that lead it back to its ledger entry.
"""

from __future__ import annotations

import base64
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

import cchc
from evidence.blobs import BlobStore
from evidence.models import Snapshot, SnapshotBlob

WARC_VERSION = "WARC/1.1"
WARC_1_1_SPEC = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
BATCH_SIZE = 200
# Record ids come from the ledger (a snapshot's record hash and the record's part), so an export is
# reproducible and a revisit can name the record of the content it confirms, even in another file.
RECORD_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cchc-watch:warc-record")
# The stored body is de-chunked, so a Transfer-Encoding header no longer describes the payload.
RESPONSE_RENAMED = frozenset({"transfer-encoding"})
# Browsers hand out bodies (the document's and its sub-responses') already decoded: the headers describing the
# wire form no longer apply.
SUBRESPONSE_RENAMED = frozenset({"transfer-encoding", "content-encoding", "content-length"})
HTTP_1 = ("HTTP/1.0", "HTTP/1.1")
# A page's rendered DOM and screenshot are kept under URIs of their own (Browsertrix's urn:view: for a screenshot).
RESOURCE_URI_PREFIX = {"dom": "urn:dom:", "screenshot": "urn:view:"}


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: snapshots selected (skipped ones included), WARC records, bytes of the file."""

    snapshots: int
    records: int
    bytes_written: int
    path: Path
    skipped: int = 0  # selected snapshots that wrote no record: nothing answered them


class _Sha256WARCWriter(WARCWriter):  # type: ignore[misc]  # warcio ships no type hints
    """warcio's writer with SHA-256 instead of its default SHA-1 for every block and payload digest."""

    @staticmethod
    def _create_digester() -> Any:
        return Digester("sha256")


class _WireHeaders(StatusAndHeaders):  # type: ignore[misc]
    """HTTP headers written back as the bytes that came over the wire."""

    def to_ascii_bytes(self, filter_func: Any = None) -> bytes:
        # The fetcher decoded header bytes as latin-1, so latin-1 gives them back exactly; warcio's own
        # method would percent-encode a non-ASCII value (a Vietnamese file name, say) and change the evidence.
        try:
            wire: bytes = self.to_str(filter_func).encode("latin-1")
        except UnicodeEncodeError:
            escaped: bytes = super().to_ascii_bytes(filter_func)
            return escaped
        return wire + b"\r\n"


@dataclass(frozen=True)
class _Selected:
    snapshot: Snapshot
    links: list[SnapshotBlob]
    confirmed: Snapshot | None  # the earlier snapshot whose content a 304 confirmed


def export_warc(
    engine: Engine,
    blobs: BlobStore,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    units: Sequence[str] = (),
    probes: Sequence[str] = (),
    snapshot_ids: Collection[int] | None = None,
    batch_size: int = BATCH_SIZE,
    on_snapshot: Callable[[], None] | None = None,
) -> ExportSummary:
    """Write the selected snapshots, in ledger order, to `out` as a gzipped WARC 1.1 file.

    Selection: fetched_at in [since, until) (aware datetimes), unit in `units`, probe in `probes` and id in
    `snapshot_ids` when given. The ledger head is read first, so snapshots appended during the export are left for the next one;
    snapshots are read in batches of `batch_size`, one blob in memory at a time.

    Records: one `warcinfo` first (software, format, filters, ledger head). Per snapshot: its redirect hops as
    `response` records without payload; a `request` (as sent to the final URL) and a `response` (the stored
    body, still content-encoded) linked by WARC-Concurrent-To, or a `revisit` (identical-payload-digest
    profile) for a 304 that confirmed earlier content; for browser snapshots the DOM and the screenshot as
    `resource` records concurrent to the page's response (their URIs `urn:dom:` and `urn:view:` before the
    page's URL, as Browsertrix names them, so that replay finds the page, not its picture, at its URL), and each sub-response as a `response`. Snapshots
    that got no response at all (robots-disallowed, connection-error …) are counted in the summary and
    write nothing; a redirect loop still writes the hops it saw. Every record of a snapshot carries
    WARC-Cchc-Snapshot-Id, WARC-Cchc-Seq, WARC-Cchc-Record-Hash, WARC-Cchc-Outcome and its part of the snapshot
    (WARC-Cchc-Part: request, response, redirect/N, dom/N, screenshot/N, subresponse/N); every digest is
    SHA-256.

    Raises BlobMissing or BlobCorrupt (evidence.errors) for any blob the selected snapshots name that is
    missing or no longer hashes to its name: an export never skips evidence silently. On any error `out`
    is left untouched (the file is written beside it and renamed into place at the end). Raises ValueError
    for a naive `since` or `until`.
    """
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name}={moment.isoformat()} is naive: give a timezone-aware datetime")
    out = Path(out)
    head = _ledger_head(engine)
    conditions = _conditions(since, until, units, probes)
    if snapshot_ids is not None:
        conditions.append(col(Snapshot.id).in_(sorted(snapshot_ids)))
    partial = out.with_name(f".{out.name}.part")
    selected = skipped = records = 0
    try:
        with partial.open("wb") as handle:
            writer = _Sha256WARCWriter(handle, gzip=True, warc_version=WARC_VERSION)
            warcinfo = writer.create_warcinfo_record(
                out.name, _warcinfo_fields(head, since, until, units, probes)
            )
            writer.write_record(warcinfo)
            records += 1
            warcinfo_id: str = warcinfo.rec_headers.get_header("WARC-Record-ID")
            for batch in _batches(engine, conditions, head[0] if head else 0, batch_size):
                for item in batch:
                    written = 0
                    for record in _records_of(writer, blobs, item, warcinfo_id):
                        writer.write_record(record)
                        written += 1
                    selected += 1
                    records += written
                    if on_snapshot is not None:  # the caller's progress
                        on_snapshot()
                    if written == 0:
                        skipped += 1
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportSummary(selected, records, out.stat().st_size, out, skipped)


# --- selection ----------------------------------------------------------------------------------------------


def _ledger_head(engine: Engine) -> tuple[int, str] | None:
    with Session(engine) as session:
        head = session.exec(
            select(Snapshot.seq, Snapshot.record_hash).order_by(col(Snapshot.seq).desc()).limit(1)
        ).first()
    return None if head is None else (head[0], head[1])


def _conditions(
    since: datetime | None, until: datetime | None, units: Sequence[str], probes: Sequence[str]
) -> list[Any]:
    conditions: list[Any] = []
    if since is not None:
        conditions.append(col(Snapshot.fetched_at) >= since)
    if until is not None:
        conditions.append(col(Snapshot.fetched_at) < until)
    if units:
        conditions.append(col(Snapshot.unit).in_(list(units)))
    if probes:
        conditions.append(col(Snapshot.probe).in_(list(probes)))
    return conditions


def _batches(engine: Engine, conditions: list[Any], last_seq: int, size: int) -> Iterator[list[_Selected]]:
    """Selected snapshots in seq order with their blob links; one short read transaction per batch."""
    after = 0
    while after < last_seq:
        with Session(engine) as session:
            snapshots = list(
                session.exec(
                    select(Snapshot)
                    .where(*conditions, col(Snapshot.seq) > after, col(Snapshot.seq) <= last_seq)
                    .order_by(col(Snapshot.seq))
                    .limit(size)
                ).all()
            )
            if not snapshots:
                return
            ids = [s.id for s in snapshots]
            links: dict[int, list[SnapshotBlob]] = defaultdict(list)
            for link in session.exec(
                select(SnapshotBlob)
                .where(col(SnapshotBlob.snapshot_id).in_(ids))
                .order_by(col(SnapshotBlob.id))
            ).all():
                links[link.snapshot_id].append(link)
            wanted = {s.not_modified_of for s in snapshots if s.not_modified_of is not None}
            confirmed = (
                {s.id: s for s in session.exec(select(Snapshot).where(col(Snapshot.id).in_(wanted))).all()}
                if wanted
                else {}
            )
        yield [
            _Selected(
                s,
                links[s.id] if s.id is not None else [],
                confirmed.get(s.not_modified_of) if s.not_modified_of is not None else None,
            )
            for s in snapshots
        ]
        after = snapshots[-1].seq


def _warcinfo_fields(
    head: tuple[int, str] | None,
    since: datetime | None,
    until: datetime | None,
    units: Sequence[str],
    probes: Sequence[str],
) -> dict[str, str]:
    return {
        "software": f"cchc-watch/{cchc.__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": WARC_1_1_SPEC,
        "hostname": socket.gethostname(),
        "description": "Captures kept as evidence by cchc-watch; WARC-Cchc-* headers name ledger entries",
        "cchc-ledger-head": f"seq {head[0]} {head[1]}" if head else "empty ledger",
        "cchc-since": _warc_date(since) if since else "none (inclusive bound)",
        "cchc-until": _warc_date(until) if until else "none (exclusive bound)",
        "cchc-units": ", ".join(units) if units else "all",
        "cchc-probes": ", ".join(probes) if probes else "all",
    }


# --- records ------------------------------------------------------------------------------------------------


def _records_of(writer: Any, blobs: BlobStore, item: _Selected, warcinfo_id: str) -> Iterator[Any]:
    """The WARC records of one snapshot, in the order things happened; none when nothing answered."""
    snapshot = item.snapshot
    common = [
        ("WARC-Warcinfo-ID", warcinfo_id),
        ("WARC-Cchc-Snapshot-Id", str(snapshot.id)),
        ("WARC-Cchc-Seq", str(snapshot.seq)),
        ("WARC-Cchc-Record-Hash", snapshot.record_hash),
        ("WARC-Cchc-Outcome", snapshot.outcome),
    ]
    date = _warc_date(snapshot.fetched_at)
    version = snapshot.http_version if snapshot.http_version in HTTP_1 else "HTTP/1.1"

    def record(
        record_type: str,
        part: str,
        uri: str,
        payload: bytes = b"",
        *,
        http: Any = None,
        content_type: str = "",
        extra: Iterable[tuple[str, str]] = (),
    ) -> Any:
        headers = [
            ("WARC-Type", record_type),
            ("WARC-Record-ID", _record_id(snapshot, part)),
            ("WARC-Date", date),
            ("WARC-Target-URI", uri),
            *extra,
            *common,
            ("WARC-Cchc-Part", part),
        ]
        return writer.create_warc_record(
            uri,
            record_type,
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type=content_type,
            warc_headers=StatusAndHeaders("", headers, protocol=WARC_VERSION),
            http_headers=http,
        )

    for index, hop in enumerate(snapshot.redirects):
        hop_headers = [(str(k), str(v)) for k, v in hop["headers"]]
        # The fetcher keeps a redirect's headers but not its body: say so when the headers announce one.
        announced = any(
            (k.lower() == "content-length" and v.strip() != "0") or k.lower() == "transfer-encoding"
            for k, v in hop_headers
        )
        http = _WireHeaders(
            _status_line(int(hop["status"]), ""), _renamed(hop_headers, RESPONSE_RENAMED), protocol=version
        )
        truncated = [("WARC-Truncated", "unspecified")] if announced else []
        yield record("response", f"redirect/{index}", str(hop["url"]), http=http, extra=truncated)

    roles = _by_role(item.links)
    page_id: str | None = None
    if snapshot.status_code is not None:
        page_id = _record_id(snapshot, "response")
        yield _request(record, blobs, snapshot, roles, page_id)
        http = _WireHeaders(
            _status_line(snapshot.status_code, snapshot.reason),
            _renamed(
                snapshot.response_headers,
                SUBRESPONSE_RENAMED if snapshot.render == "browser" else RESPONSE_RENAMED,
            ),
            protocol=version,
        )
        network = [("WARC-IP-Address", snapshot.peer.rsplit(":", 1)[0].strip("[]"))] if snapshot.peer else []
        body = roles.get("response_body", [])
        confirmed = item.confirmed
        if snapshot.not_modified_of is not None and confirmed is not None and body:
            # A revisit vouches for content it does not carry: that content must still be intact.
            blobs.get(body[0].sha256)
            revisit = [
                ("WARC-Profile", REVISIT_PROFILE),
                ("WARC-Refers-To", _record_id(confirmed, "response")),
                ("WARC-Refers-To-Target-URI", confirmed.final_url),
                ("WARC-Refers-To-Date", _warc_date(confirmed.fetched_at)),
                ("WARC-Payload-Digest", _sha256_label(body[0].sha256)),
            ]
            yield record("revisit", "response", snapshot.final_url, http=http, extra=revisit + network)
        else:
            payload = blobs.get(body[0].sha256) if body else b""
            yield record("response", "response", snapshot.final_url, payload, http=http, extra=network)

    concurrent = [("WARC-Concurrent-To", page_id)] if page_id else []
    for role, default_type in (("dom", "text/html; charset=utf-8"), ("screenshot", "image/png")):
        for index, link in enumerate(roles.get(role, [])):
            content_type = str(link.info.get("content_type") or default_type)
            yield record(
                "resource",
                f"{role}/{index}",
                RESOURCE_URI_PREFIX[role] + snapshot.final_url,
                blobs.get(link.sha256),
                content_type=content_type,
                extra=concurrent,
            )

    for index, link in enumerate(roles.get("subresponse", [])):
        info = link.info
        http = _WireHeaders(
            _status_line(int(info.get("status", 0)), ""),
            _renamed(info.get("headers", []), SUBRESPONSE_RENAMED),
            protocol="HTTP/1.1",
        )
        uri = link.url or snapshot.final_url
        yield record("response", f"subresponse/{index}", uri, blobs.get(link.sha256), http=http)


def _request(
    record: Any, blobs: BlobStore, snapshot: Snapshot, roles: dict[str, list[SnapshotBlob]], response_id: str
) -> Any:
    """The request that produced the final response, rebuilt from the snapshot."""
    method, body_sent = snapshot.method, True
    for hop in snapshot.redirects:
        # As the fetcher does: a 303, or a 301/302 after a POST, is followed by a GET without the body.
        if hop["status"] == 303 or (hop["status"] in (301, 302) and method == "POST"):
            method, body_sent = "GET", False
    parts = urlsplit(snapshot.final_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    bodies = roles.get("request_body", [])
    payload = blobs.get(bodies[0].sha256) if bodies and body_sent else b""
    http = _WireHeaders(
        f"{method} {target} HTTP/1.1", [(k, v) for k, v in snapshot.request_headers], is_http_request=True
    )
    concurrent = [("WARC-Concurrent-To", response_id)]
    return record("request", "request", snapshot.final_url, payload, http=http, extra=concurrent)


def _by_role(links: list[SnapshotBlob]) -> dict[str, list[SnapshotBlob]]:
    roles: dict[str, list[SnapshotBlob]] = defaultdict(list)
    for link in links:
        roles[link.role].append(link)
    return roles


def _renamed(headers: Iterable[Sequence[str]], names: frozenset[str]) -> list[tuple[str, str]]:
    return [(f"X-Archive-Orig-{k}" if k.lower() in names else k, v) for k, v in headers]


def _status_line(code: int, reason: str) -> str:
    # HTTP/2 and browsers give no reason phrase; the status line of application/http wants one.
    if not reason:
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = ""
    return f"{code} {reason}".rstrip()


def _record_id(snapshot: Snapshot, part: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_ID_NAMESPACE, f'{snapshot.record_hash}/{part}')}>"


def _sha256_label(hex_digest: str) -> str:
    """A blob's name (hex SHA-256 of its bytes) as a WARC digest of the same bytes."""
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
