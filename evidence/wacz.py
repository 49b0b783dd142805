"""Evidence bundles: WACZ 1.1.1 files that anyone can check and replay offline, with the chain from each figure
back to the bytes.

A bundle holds, besides the WACZ essentials (the WARC, its CDXJ index, the pages, `datapackage.json` with a
digest of every file, `datapackage-digest.json`):

    ledger/segment.jsonl      every ledger record from the first bundled snapshot to the signed checkpoint that
                              covers the last one: the full record (metadata and blob digests), so the chain
                              can be recomputed link by link without our database
    ledger/checkpoints.jsonl  the signed checkpoints inside that range
    ledger/collector.pem      the collector's Ed25519 public key
    timestamps/*.tsr          RFC 3161 tokens over those checkpoints' signatures; timestamps/<authority>.pem the
                              certificates the collector pinned for each authority
    figures/figures.jsonl     the figures the bundle backs, each naming its snapshots (written by the caller)

`datapackage-digest.json` carries, beside the WACZ `path` and `hash`, a `cchcAttestation`: the collector's
Ed25519 signature over the ASCII `hash` string, and RFC 3161 tokens over that signature (wacz-auth's
`signedData` allows no other key type, so the attestation is an extension standard tools ignore).
`evidence.bundle_check` verifies all of it from the file alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from warcio.archiveiterator import ArchiveIterator

import cchc
from evidence.blobs import BlobStore
from evidence.ledger import record_payload
from evidence.models import Checkpoint, Snapshot, SnapshotBlob
from evidence.signing import CollectorKey
from evidence.timestamps import Authority, TimestampError, request_timestamp, tokens_of
from evidence.warc import export_warc

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
ATTESTATION = "cchcAttestation"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # entries carry no time of their own: the same bundle zips the same
SEGMENT_BATCH = 500
LEDGER_SCHEMAS: dict[str, dict[str, Any]] = {
    "ledger/segment.jsonl": {"fields": [{"name": "id", "type": "integer"}, {"name": "in_bundle", "type": "boolean"},
                                        {"name": "payload", "type": "object"}, {"name": "record_hash", "type": "string"}]},
    "ledger/checkpoints.jsonl": {"fields": [{"name": n, "type": t} for n, t in (
        ("id", "integer"), ("run_id", "any"), ("seq", "integer"), ("head_hash", "string"), ("created_at", "string"),
        ("reason", "string"), ("public_key", "string"), ("signature", "string"), ("format", "integer"),
        ("store_id", "any"), ("event_seq", "any"), ("event_head", "any"))]},
}  # fmt: skip


class BundleError(ValueError):
    """A bundle that cannot be made as asked (nothing selected, a selection no checkpoint covers …)."""


@dataclass(frozen=True)
class BundleFile:
    """A file the caller adds (the figures); its path has one folder level, as WACZ validators want."""

    path: str
    data: bytes
    # A Frictionless table schema for a .jsonl file: validators infer column types otherwise, and guess wrong.
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class BundleSummary:
    path: Path
    snapshots: int
    records: int
    bytes_written: int
    digest: str  # "sha256:<hex>" of datapackage.json: the bundle's identity
    ledger_range: tuple[int, int]
    checkpoint_id: int
    timestamped_by: list[str] = field(default_factory=list)
    timestamp_failures: list[str] = field(default_factory=list)


def write_bundle(
    engine: Engine,
    blobs: BlobStore,
    out: Path,
    *,
    snapshot_ids: Collection[int],
    key: CollectorKey,
    title: str,
    description: str = "",
    files: Sequence[BundleFile] = (),
    authorities: Sequence[Authority] = (),
    about: dict[str, Any] | None = None,
    ledger: LedgerLines | None = None,
) -> BundleSummary:
    """Write the bundle of `snapshot_ids` (and the snapshots their 304s confirmed) to `out`, atomically.

    The ledger segment ends at the first signed checkpoint at or after the last selected snapshot; with none,
    BundleError (sign one first: the CLI does). An authority that is down leaves its token out, listed in
    `timestamp_failures`; the bundle is still whole and signed. A caller writing many bundles of one store
    passes one `ledger`, so each record is read from the database once.
    """
    if not snapshot_ids:
        raise BundleError("no snapshots selected: the figures rest on no evidence in this store")
    selected = _with_confirmed(engine, set(snapshot_ids))
    segment, checkpoints = _ledger_segment(engine, selected, ledger or LedgerLines(engine))
    last = checkpoints[-1]
    assert last.id is not None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".cchc-bundle-", dir=out.parent))
    try:
        warc = work / WARC_NAME
        summary = export_warc(engine, blobs, warc, snapshot_ids=selected)
        index, pages = _index(warc)
        listed: list[tuple[str, Path | bytes]] = [
            (f"archive/{WARC_NAME}", warc),
            ("indexes/index.cdx", "".join(index).encode()),
            ("pages/pages.jsonl", _pages_jsonl(pages, title)),
            ("ledger/segment.jsonl", b"".join(segment)),
            ("ledger/checkpoints.jsonl", b"".join(_jsonl(_checkpoint_entry(c)) for c in checkpoints)),
            ("ledger/collector.pem", key.public_pem().encode()),
        ]
        tokens = tokens_of(engine, [c.id for c in checkpoints if c.id is not None])
        for token in tokens:
            listed.append((f"timestamps/checkpoint-{token.checkpoint_id}-{token.authority}.tsr", token.reply))
        # The certificates pinned for each authority: a checker compares them with its own pins.
        for authority in sorted(authorities, key=lambda a: a.name):
            listed.append((f"timestamps/{authority.name}.pem", authority.certificates_pem))
        listed += [(f.path, f.data) for f in files]
        schemas = {f.path: f.schema for f in files if f.schema} | LEDGER_SCHEMAS
        _check_paths([path for path, _ in listed])
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        main = pages[0] if pages else None
        package: dict[str, Any] = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": title,
            "description": description,
            "created": created,
            "software": f"cchc-watch {cchc.__version__}",
            **({"mainPageUrl": main["url"], "mainPageDate": main["ts"]} if main else {}),
            "resources": [_resource(path, content, schemas.get(path)) for path, content in listed],
            "cchc": {
                "collector_public_key": key.public_hex,
                "ledger": {
                    "first_seq": segment_first(segment),
                    "last_seq": last.seq,
                    "checkpoint_id": last.id,
                },
                "snapshots": sorted(selected),
                **(about or {}),
            },
        }
        package_bytes = json.dumps(package, ensure_ascii=False, indent=2).encode()
        digest = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
        signature = key.sign(digest.encode("ascii"))
        stamps, failures = [], []
        for authority in authorities:
            try:
                reply = request_timestamp(authority, signature.encode("ascii"))
            except TimestampError as exc:
                failures.append(str(exc))
                continue
            stamps.append({"authority": authority.name, "over": "ed25519.signature",
                           "reply": base64.b64encode(reply.as_bytes()).decode()})  # fmt: skip
        attestation = {
            "version": 1,
            "hash": digest,
            "created": created,
            "ed25519": {"publicKey": key.public_hex, "signature": signature, "over": "hash"},
            "rfc3161": stamps,
        }
        digest_file = {"path": "datapackage.json", "hash": digest, ATTESTATION: attestation}
        partial = out.with_name(f".{out.name}.part")
        with zipfile.ZipFile(partial, "w", allowZip64=True) as bundle:
            for path, content in listed:
                stored = path.startswith("archive/") or path.endswith((".gz", ".tsr"))
                _add(bundle, path, content, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
            _add(bundle, "datapackage.json", package_bytes, zipfile.ZIP_DEFLATED)
            _add(
                bundle,
                "datapackage-digest.json",
                json.dumps(digest_file, indent=2).encode(),
                zipfile.ZIP_DEFLATED,
            )
        partial.replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BundleSummary(
        path=out,
        snapshots=len(selected),
        records=summary.records,
        bytes_written=out.stat().st_size,
        digest=digest,
        ledger_range=(segment_first(segment), last.seq),
        checkpoint_id=last.id,
        timestamped_by=[s["authority"] for s in stamps],
        timestamp_failures=failures,
    )


def segment_first(segment: list[bytes]) -> int:
    return int(json.loads(segment[0])["payload"]["seq"])


# --- selection and the ledger ---------------------------------------------------------------------------------


def _with_confirmed(engine: Engine, ids: set[int]) -> set[int]:
    """A 304 vouches for content it does not carry: the snapshot holding that content comes along."""
    with Session(engine) as session:
        found: set[int] = set()
        confirmed: set[int] = set()
        for chunk in _chunks(sorted(ids)):
            for snapshot_id, earlier in session.exec(
                select(Snapshot.id, Snapshot.not_modified_of).where(col(Snapshot.id).in_(chunk))
            ):
                assert snapshot_id is not None
                found.add(snapshot_id)
                if earlier is not None:
                    confirmed.add(earlier)
    missing = ids - found
    if missing:
        raise BundleError(f"snapshots {sorted(missing)[:10]} are not in this store")
    return found | confirmed


def _ledger_segment(
    engine: Engine, ids: set[int], ledger: LedgerLines
) -> tuple[list[bytes], list[Checkpoint]]:
    """The records from the first selected snapshot to the checkpoint covering the last, and the checkpoints."""
    with Session(engine) as session:
        seqs = [
            seq
            for chunk in _chunks(sorted(ids))
            for seq in session.exec(select(Snapshot.seq).where(col(Snapshot.id).in_(chunk)))
        ]
        first, last = min(seqs), max(seqs)
        covering = session.exec(
            select(Checkpoint)
            .where(col(Checkpoint.seq) >= last)
            .order_by(col(Checkpoint.seq), col(Checkpoint.id))
        ).first()
        if covering is None:
            raise BundleError(
                f"snapshot seq {last} is after the last signed checkpoint: sign one first (`cchc evidence bundle` does)"
            )
        checkpoints = list(
            session.exec(
                select(Checkpoint)
                .where(col(Checkpoint.seq) >= first, col(Checkpoint.seq) <= covering.seq)
                .order_by(col(Checkpoint.id))
            )
        )
    lines = list(ledger.lines(first, covering.seq, ids))
    return lines, checkpoints


class LedgerLines:
    """The ledger's records as segment lines, each read from the database once however many bundles name it.

    A record is never edited once written, so what was read for one bundle holds for the next. The cache keeps
    one contiguous run of sequence numbers, grown at either end; its size is the segments asked for, which a
    bundle holds whole anyway. A line is the record's serialised payload between its id, its bundle flag and
    its hash: the same bytes as serialising the whole entry at once.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._seqs: list[int] = []  # ascending
        self._records: list[tuple[int, bytes]] = []  # (snapshot id, the line's text after the bundle flag)

    def lines(self, first: int, last: int, bundled: AbstractSet[int]) -> Iterator[bytes]:
        """The segment's lines from `first` to `last` (sequence numbers), `in_bundle` true for `bundled`."""
        if not self._seqs:
            self._read(first, last, at_end=True)
        else:
            if first < self._seqs[0]:
                self._read(first, self._seqs[0] - 1, at_end=False)
            if last > self._seqs[-1]:
                self._read(self._seqs[-1] + 1, last, at_end=True)
        start, stop = bisect_left(self._seqs, first), bisect_right(self._seqs, last)
        for snapshot_id, rest in self._records[start:stop]:
            flag = b"true" if snapshot_id in bundled else b"false"
            yield b'{"id":%d,"in_bundle":%s,"payload":%s' % (snapshot_id, flag, rest)

    def _read(self, first: int, last: int, *, at_end: bool) -> None:
        seqs: list[int] = []
        records: list[tuple[int, bytes]] = []
        after = first - 1
        while after < last:
            with Session(self._engine) as session:
                batch = list(
                    session.exec(
                        select(Snapshot)
                        .where(col(Snapshot.seq) > after, col(Snapshot.seq) <= last)
                        .order_by(col(Snapshot.seq))
                        .limit(SEGMENT_BATCH)
                    )
                )
                if not batch:
                    break
                links: dict[int, list[SnapshotBlob]] = {s.id: [] for s in batch if s.id is not None}
                for link in session.exec(
                    select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(list(links)))
                ):
                    links[link.snapshot_id].append(link)
            for snapshot in batch:
                assert snapshot.id is not None and snapshot.seq is not None
                payload = _jsonl(record_payload(snapshot, links[snapshot.id]))[:-1]
                seqs.append(snapshot.seq)
                records.append(
                    (snapshot.id, payload + b',"record_hash":' + _jsonl(snapshot.record_hash)[:-1] + b"}\n")
                )
            after = batch[-1].seq
        if at_end:
            self._seqs += seqs
            self._records += records
        else:
            self._seqs[:0] = seqs
            self._records[:0] = records


def _checkpoint_entry(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.id,
        "run_id": checkpoint.run_id,
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "created_at": checkpoint.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "reason": checkpoint.reason,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
        "format": checkpoint.format,
        "store_id": checkpoint.store_id,
        "event_seq": checkpoint.event_seq,
        "event_head": checkpoint.event_head,
    }


# --- index and pages -------------------------------------------------------------------------------------------


def surt(url: str) -> str:
    """The CDXJ sort key of a URL, as warcio.js computes it (what ReplayWeb.page and pywb look up)."""
    if not url.startswith(("http:", "https:")):
        return url
    lowered = re.sub(r"^(https?://)www\d*\.", r"\1", url).lower()
    parts = urlsplit(lowered)
    key = ",".join(reversed((parts.hostname or "").split(".")))
    if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme]:
        key += f":{parts.port}"
    key += ")" + (parts.path or "/")
    if parts.query:
        key += "?" + "&".join(sorted(parts.query.split("&")))
    return key


def _index(warc: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """CDXJ lines of every response, resource and revisit record, and the pages (HTML documents) among them."""
    lines: list[str] = []
    pages: list[dict[str, Any]] = []
    with warc.open("rb") as handle:
        records = ArchiveIterator(handle)
        for record in records:
            if record.rec_type not in ("response", "resource", "revisit"):
                continue
            headers = record.rec_headers
            url = headers.get_header("WARC-Target-URI")
            date = headers.get_header("WARC-Date")
            stamp = "".join(ch for ch in date if ch.isdigit())[:17]
            entry: dict[str, Any] = {"url": url, "digest": headers.get_header("WARC-Payload-Digest")}
            if record.http_headers is not None:
                entry["mime"] = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip()
                entry["status"] = int(record.http_headers.get_statuscode() or 0)
            else:
                entry["mime"] = (headers.get_header("Content-Type") or "").split(";")[0].strip()
            if record.rec_type == "revisit":
                entry["mime"] = "warc/revisit"
            record.content_stream().read()  # the iterator knows a record's length once it has been read
            entry |= {"offset": records.get_record_offset(), "length": records.get_record_length(),
                      "filename": WARC_NAME, "snapshot": int(headers.get_header("WARC-Cchc-Snapshot-Id") or 0)}  # fmt: skip
            lines.append(
                f"{surt(url)} {stamp} {json.dumps(entry, separators=(',', ':'), ensure_ascii=False)}\n"
            )
            is_document = record.rec_type == "response" and headers.get_header("WARC-Cchc-Part") == "response"
            if is_document and entry.get("mime") == "text/html" and entry.get("status") == 200:
                pages.append({"id": f"s{entry['snapshot']}", "url": url, "ts": date, "title": url})
    lines.sort(key=lambda line: line.encode())
    return lines, pages


def _pages_jsonl(pages: list[dict[str, Any]], title: str) -> bytes:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    return b"".join(_jsonl(line) for line in [header, *pages])


# --- files -----------------------------------------------------------------------------------------------------


def _jsonl(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_iso).encode() + b"\n"


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise TypeError(f"cannot write {type(value).__name__} in a bundle")


def _check_paths(paths: list[str]) -> None:
    for path in paths:
        folder, _, name = path.partition("/")
        if not folder or not name or "/" in name or "." not in name:
            raise BundleError(f"bundle file {path!r}: WACZ wants exactly one folder level and an extension")
    duplicated = {p for p in paths if paths.count(p) > 1}
    if duplicated:
        raise BundleError(f"bundle files named twice: {sorted(duplicated)}")


def _resource(path: str, content: Path | bytes, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    for chunk in _chunks_of(content):
        digest.update(chunk)
        size += len(chunk)
    name = path.rsplit("/", 1)[-1].lower()
    resource = {"name": name, "path": path, "hash": "sha256:" + digest.hexdigest(), "bytes": size}
    return resource | ({"schema": schema} if schema else {})


def _chunks_of(content: Path | bytes) -> Iterator[bytes]:
    if isinstance(content, bytes):
        yield content
        return
    with content.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _add(bundle: zipfile.ZipFile, path: str, content: Path | bytes, compression: int) -> None:
    info = zipfile.ZipInfo(path, FIXED_ZIP_TIME)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    with bundle.open(info, "w", force_zip64=True) as entry:
        for chunk in _chunks_of(content):
            entry.write(chunk)


def _chunks(values: list[int], size: int = 900) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
