"""Checking an evidence bundle with nothing but the file: no database, no network.

Each layer gets a verdict, and every problem is named (a checker that stops at the first problem hides the
others). A layer is `ok`, `failed`, `unverified` (consistent, but nothing the checker trusts vouches for it:
no trusted collector key, or an authority nobody pinned) or `missing` (the bundle carries no such proof).

    structure      the WACZ 1.1.1 files are there, listed, and the WARC is stored uncompressed in the zip
    digests        every file hashes to what datapackage.json says; datapackage.json to what the digest says
    signature      the collector's Ed25519 signature over the bundle's hash, by a key the checker trusts
    timestamps     RFC 3161 tokens over that signature, from authorities the checker pinned
    index          every CDXJ line points at a WARC record with its URL, date and payload digest; none unindexed
    ledger         the segment's chain recomputed record by record up to a signed checkpoint; each WARC record's
                   payload is a blob its ledger record names
    checkpoints    RFC 3161 tokens over the segment's checkpoints
    figures        every figure's snapshots are in the bundle, in the WARC and in the ledger
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from warcio.archiveiterator import ArchiveIterator

from evidence.ledger import GENESIS, canonical_json, checkpoint_signed_message
from evidence.models import Checkpoint
from evidence.signing import signature_is_valid
from evidence.timestamps import TimestampError, verify_timestamp
from evidence.wacz import ATTESTATION, WACZ_VERSION

Status = Literal["ok", "failed", "unverified", "missing"]
MAX_JSON_BYTES = 512 * 1024 * 1024  # a manifest, segment or index beyond this is not ours
MAX_RECORD_BYTES = 1 << 31
TIMESTAMP_SLACK = timedelta(minutes=10)  # wacz-auth: the token follows the signature within minutes

LAYERS: dict[str, tuple[str, str]] = {
    "structure": ("Cấu trúc gói WACZ", "WACZ structure"),
    "digests": ("Mã băm các tệp", "File digests"),
    "signature": ("Chữ ký của đơn vị thu thập", "Collector's signature"),
    "timestamps": ("Dấu thời gian của gói", "Bundle timestamps"),
    "index": ("Chỉ mục CDXJ và bản ghi WARC", "CDXJ index and WARC records"),
    "ledger": ("Đoạn sổ cái và điểm kiểm", "Ledger segment and checkpoint"),
    "checkpoints": ("Dấu thời gian của điểm kiểm", "Checkpoint timestamps"),
    "figures": ("Số liệu và bằng chứng", "Figures and their evidence"),
}
VERDICTS: dict[Status, tuple[str, str]] = {
    "ok": ("đạt", "ok"),
    "failed": ("KHÔNG ĐẠT", "FAILED"),
    "unverified": ("nhất quán, chưa xác thực", "consistent, not authenticated"),
    "missing": ("không có", "absent"),
}


@dataclass
class Layer:
    key: str
    status: Status = "ok"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.status = "failed"
        self.problems.append(problem)

    def doubt(self, note: str) -> None:
        if self.status == "ok":
            self.status = "unverified"
        self.notes.append(note)

    def lines(self) -> list[str]:
        vi, en = LAYERS[self.key]
        verdict_vi, verdict_en = VERDICTS[self.status]
        return [f"{vi} / {en}: {verdict_vi} / {verdict_en}"] + [
            f"  - {p}" for p in self.problems + self.notes
        ]


@dataclass
class BundleReport:
    path: Path
    layers: dict[str, Layer] = field(default_factory=lambda: {key: Layer(key) for key in LAYERS})

    @property
    def failed(self) -> bool:
        return any(layer.status == "failed" for layer in self.layers.values())

    def lines(self) -> list[str]:
        return [line for layer in self.layers.values() for line in layer.lines()]


def check_bundle(
    path: Path, *, trusted_keys: set[str] | None = None, pinned_authorities: dict[str, bytes] | None = None
) -> BundleReport:
    """Check every layer of the bundle at `path`. `pinned_authorities`: authority name → PEM certificates."""
    report = BundleReport(Path(path))
    layers = report.layers
    try:
        bundle = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        layers["structure"].fail(f"not a readable zip file: {exc}")
        return report
    with bundle:
        package, digest_file = _manifests(bundle, layers["structure"])
        if package is None or digest_file is None:
            return report
        _check_structure(bundle, package, layers["structure"])
        _check_digests(bundle, package, layers["digests"])
        attestation = digest_file.get(ATTESTATION)
        signature = _check_signature(
            bundle, package, digest_file, attestation, trusted_keys, layers["signature"]
        )
        _check_bundle_timestamps(
            bundle, attestation, signature, pinned_authorities or {}, layers["timestamps"]
        )
        warc_records = _check_index(bundle, layers["index"])
        segment = _check_ledger(bundle, package, warc_records, trusted_keys, layers["ledger"])
        _check_checkpoint_timestamps(bundle, pinned_authorities or {}, layers["checkpoints"])
        _check_figures(bundle, segment, warc_records, layers["figures"])
    return report


# --- structure and digests -------------------------------------------------------------------------------------


def _read(bundle: zipfile.ZipFile, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
    info = bundle.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{name} is {info.file_size} bytes, over the {limit} a checker reads")
    with bundle.open(info) as entry:
        data = entry.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} decompresses to more than {limit} bytes")
    return data


def _manifests(bundle: zipfile.ZipFile, layer: Layer) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    found: list[dict[str, Any] | None] = []
    for name in ("datapackage.json", "datapackage-digest.json"):
        try:
            value = json.loads(_read(bundle, name))
            found.append(value if isinstance(value, dict) else None)
            if not isinstance(value, dict):
                layer.fail(f"{name} is not a JSON object")
        except KeyError:
            layer.fail(f"{name} is missing")
            found.append(None)
        except ValueError as exc:
            layer.fail(f"{name} cannot be read: {exc}")
            found.append(None)
    return found[0], found[1]


def _resources(package: dict[str, Any]) -> list[dict[str, Any]]:
    resources = package.get("resources")
    return [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []


def _check_structure(bundle: zipfile.ZipFile, package: dict[str, Any], layer: Layer) -> None:
    if package.get("profile") != "data-package":
        layer.fail(f"datapackage.json profile is {package.get('profile')!r}, not 'data-package'")
    if package.get("wacz_version") != WACZ_VERSION:
        layer.fail(f"wacz_version is {package.get('wacz_version')!r}, not {WACZ_VERSION!r}")
    names = {info.filename for info in bundle.infolist() if not info.is_dir()}
    listed = {str(r.get("path")) for r in _resources(package)}
    for required, prefix in (("a WARC in archive/", "archive/"), ("an index in indexes/", "indexes/")):
        if not any(n.startswith(prefix) for n in names):
            layer.fail(f"no {required}")
    if "pages/pages.jsonl" not in names:
        layer.fail("pages/pages.jsonl is missing")
    for name in sorted(names - listed - {"datapackage.json", "datapackage-digest.json"}):
        layer.fail(f"{name} is in the zip but not listed in datapackage.json")
    for name in sorted(listed - names):
        layer.fail(f"{name} is listed in datapackage.json but not in the zip")
    for info in bundle.infolist():
        if info.filename.startswith("archive/"):
            if not info.filename.endswith((".warc", ".warc.gz")):
                layer.fail(f"{info.filename}: a WARC's name must end in .warc or .warc.gz")
            if info.compress_type != zipfile.ZIP_STORED:
                layer.fail(f"{info.filename} is compressed in the zip: WACZ wants WARCs stored as they are")


def _stream_digest(bundle: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with bundle.open(name) as entry:
        while chunk := entry.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


def _check_digests(bundle: zipfile.ZipFile, package: dict[str, Any], layer: Layer) -> None:
    names = set(bundle.namelist())
    for resource in _resources(package):
        name = str(resource.get("path"))
        if name not in names:
            continue  # the structure layer named it
        try:
            digest, size = _stream_digest(bundle, name)
        except (zipfile.BadZipFile, OSError) as exc:  # a CRC error: the zip entry itself was altered
            layer.fail(f"{name} cannot be read whole: {exc}")
            continue
        if digest != resource.get("hash"):
            layer.fail(f"{name} does not hash to the digest datapackage.json gives: its bytes were changed")
        elif size != resource.get("bytes"):
            layer.fail(f"{name} is {size} bytes, datapackage.json says {resource.get('bytes')}")


def _package_hash(bundle: zipfile.ZipFile) -> str:
    return "sha256:" + hashlib.sha256(_read(bundle, "datapackage.json")).hexdigest()


# --- signature and timestamps ----------------------------------------------------------------------------------


def _check_signature(
    bundle: zipfile.ZipFile,
    package: dict[str, Any],
    digest_file: dict[str, Any],
    attestation: Any,
    trusted: set[str] | None,
    layer: Layer,
) -> str | None:
    actual = _package_hash(bundle)
    if digest_file.get("hash") != actual:
        layer.fail("datapackage-digest.json does not give datapackage.json's hash: the manifest was changed")
    if not isinstance(attestation, dict) or not isinstance(attestation.get("ed25519"), dict):
        layer.status = "missing"
        layer.notes.append(f"datapackage-digest.json carries no {ATTESTATION}: the bundle is not signed")
        return None
    signed = attestation["ed25519"]
    key, signature = str(signed.get("publicKey", "")), str(signed.get("signature", ""))
    if attestation.get("hash") != actual:
        layer.fail("the signature is over another hash than datapackage.json's")
    elif not signature_is_valid(key, actual.encode("ascii"), signature):
        layer.fail("the Ed25519 signature over the bundle's hash does not verify")
    claimed = (package.get("cchc") or {}).get("collector_public_key")
    if claimed != key:
        layer.fail("the signing key is not the collector key datapackage.json names")
    try:
        shipped = _pem_key_hex(_read(bundle, "ledger/collector.pem"))
        if shipped != key:
            layer.fail("ledger/collector.pem is not the key that signed the bundle")
    except (KeyError, ValueError) as exc:
        layer.fail(f"ledger/collector.pem cannot be read: {exc}")
    if trusted is None:
        layer.doubt(
            f"signed by {key[:16]}…; no trusted key was given (--trust-key), so only consistency is shown"
        )
    elif key not in trusted:
        layer.fail(f"signed by {key[:16]}…, which is not a key you trust")
    return signature


def _pem_key_hex(pem: bytes) -> str:
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _authority_certificates(
    bundle: zipfile.ZipFile, name: str, pinned: dict[str, bytes], layer: Layer
) -> tuple[bytes | None, bool]:
    """The certificates to check an authority's token with, and whether the checker itself pinned them."""
    if name in pinned:
        return pinned[name], True
    try:
        return _read(bundle, f"timestamps/{name}.pem"), False
    except (KeyError, ValueError):
        layer.fail(f"no certificates for authority {name!r}, neither pinned nor in the bundle")
        return None, False


def _check_token(
    bundle: zipfile.ZipFile, reply: bytes, message: bytes, authority: str, what: str, pinned: dict[str, bytes],
    layer: Layer,
) -> datetime | None:  # fmt: skip
    certificates, trusted = _authority_certificates(bundle, authority, pinned, layer)
    if certificates is None:
        return None
    try:
        moment = verify_timestamp(reply, message, certificates, who=f"{what} ({authority})")
    except TimestampError as exc:
        layer.fail(str(exc) if trusted else f"{exc} (checked against the certificates the bundle carries)")
        return None
    if not trusted:
        layer.doubt(f"{what}: {authority} is not an authority you pinned; its token is only consistent")
    return moment


def _check_bundle_timestamps(
    bundle: zipfile.ZipFile, attestation: Any, signature: str | None, pinned: dict[str, bytes], layer: Layer
) -> None:
    stamps = attestation.get("rfc3161") if isinstance(attestation, dict) else None
    if not stamps or signature is None:
        layer.status = "missing"
        layer.notes.append("no RFC 3161 token over the bundle: its time rests on the collector's clock alone")
        return
    created = _parse_time(str(attestation.get("created", "")))
    for stamp in stamps:
        name = str(stamp.get("authority", "?"))
        try:
            reply = base64.b64decode(str(stamp.get("reply", "")), validate=True)
        except ValueError:
            layer.fail(f"the token of {name} is not base64")
            continue
        moment = _check_token(bundle, reply, signature.encode("ascii"), name, "bundle token", pinned, layer)
        if (
            moment is not None
            and created is not None
            and not created - TIMESTAMP_SLACK <= moment <= created + TIMESTAMP_SLACK
        ):
            layer.fail(
                f"{name} stamped the bundle at {moment:%Y-%m-%d %H:%M:%S}Z, far from its creation {created:%Y-%m-%d %H:%M:%S}Z"
            )
        elif moment is not None:
            layer.notes.append(f"{name}: {moment:%Y-%m-%d %H:%M:%S} UTC")


def _check_checkpoint_timestamps(bundle: zipfile.ZipFile, pinned: dict[str, bytes], layer: Layer) -> None:
    try:
        checkpoints = {int(c["id"]): c for c in _jsonl(_read(bundle, "ledger/checkpoints.jsonl"))}
    except (KeyError, ValueError):
        layer.status = "missing"
        return
    tokens = [n for n in bundle.namelist() if n.startswith("timestamps/checkpoint-") and n.endswith(".tsr")]
    if not tokens:
        layer.status = "missing"
        layer.notes.append("no RFC 3161 token over the checkpoints in this bundle")
        return
    for name in tokens:
        stem = name.removeprefix("timestamps/checkpoint-").removesuffix(".tsr")
        number, _, authority = stem.partition("-")
        checkpoint = checkpoints.get(int(number)) if number.isdigit() else None
        if checkpoint is None:
            layer.fail(f"{name} stamps no checkpoint of the bundle")
            continue
        moment = _check_token(bundle, _read(bundle, name), str(checkpoint["signature"]).encode("ascii"), authority,
                              f"checkpoint {number}", pinned, layer)  # fmt: skip
        if moment is not None:
            layer.notes.append(f"checkpoint {number}, {authority}: {moment:%Y-%m-%d %H:%M:%S} UTC")


# --- the WARC and its index ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarcRecord:
    snapshot: int
    part: str
    record_hash: str
    digest: str  # the payload's SHA-256, hex
    url: str


def _warc_names(bundle: zipfile.ZipFile) -> list[str]:
    return [n for n in bundle.namelist() if n.startswith("archive/") and n.endswith((".warc", ".warc.gz"))]


def _check_index(bundle: zipfile.ZipFile, layer: Layer) -> list[WarcRecord]:
    """Walk every WARC (each record's payload digest recomputed), then hold every CDXJ line against it."""
    at: dict[tuple[str, int], tuple[int, str, str, str]] = {}  # (file, offset) → (length, uri, stamp, digest)
    records: list[WarcRecord] = []
    for name in _warc_names(bundle):
        try:
            with bundle.open(name) as entry:
                iterator = ArchiveIterator(entry)
                for record in iterator:
                    headers = record.rec_headers
                    payload = record.content_stream().read(MAX_RECORD_BYTES + 1)
                    if len(payload) > MAX_RECORD_BYTES:
                        layer.fail(
                            f"{name}: a record larger than {MAX_RECORD_BYTES} bytes; not checked further"
                        )
                        break
                    offset, length = iterator.get_record_offset(), iterator.get_record_length()
                    computed = hashlib.sha256(payload).hexdigest()
                    declared = headers.get_header("WARC-Payload-Digest")
                    uri = headers.get_header("WARC-Target-URI")
                    if declared and payload and declared != _b32(computed):
                        layer.fail(f"{name}@{offset}: the payload of {uri} does not match its WARC-Payload-Digest: "
                                   "its bytes were changed")  # fmt: skip
                    if record.rec_type in ("response", "resource", "revisit"):
                        stamp = "".join(ch for ch in headers.get_header("WARC-Date") or "" if ch.isdigit())[
                            :14
                        ]
                        at[(name.rsplit("/", 1)[-1], offset)] = (length, uri, stamp, declared or "")
                    snapshot = headers.get_header("WARC-Cchc-Snapshot-Id") or ""
                    if snapshot.isdigit():
                        records.append(WarcRecord(int(snapshot), headers.get_header("WARC-Cchc-Part") or "",
                                                  headers.get_header("WARC-Cchc-Record-Hash") or "",
                                                  computed if payload else "", uri))  # fmt: skip
        except Exception as exc:
            layer.fail(f"{name} cannot be read as WARC: {type(exc).__name__}: {exc}")
    indexed: set[tuple[str, int]] = set()
    for index_name in [n for n in bundle.namelist() if n.startswith("indexes/")]:
        if not index_name.endswith((".cdx", ".cdxj")):
            layer.notes.append(f"{index_name}: not a plain CDXJ index, not checked")
            continue
        for number, line in enumerate(_read(bundle, index_name).decode("utf-8", "replace").splitlines(), 1):
            try:
                _, stamp, text = line.split(" ", 2)
                entry = json.loads(text)
                key = (str(entry["filename"]), int(entry["offset"]))
            except (ValueError, KeyError, TypeError):
                layer.fail(f"{index_name} line {number} is not a CDXJ line")
                continue
            found = at.get(key)
            if found is None:
                layer.fail(f"{index_name} line {number}: no record at {key[0]} offset {key[1]} (a record was removed "
                           "or moved)")  # fmt: skip
                continue
            indexed.add(key)
            length, uri, record_stamp, digest = found
            if int(entry.get("length", -1)) != length or entry.get("url") != uri:
                layer.fail(
                    f"{index_name} line {number}: {entry.get('url')} does not match the record at that offset"
                )
            elif stamp[:14] != record_stamp or (entry.get("digest") and entry.get("digest") != digest):
                layer.fail(f"{index_name} line {number}: date or digest differ from the record's")
    for key in sorted(set(at) - indexed):
        layer.fail(f"the record at {key[0]} offset {key[1]} is not in the index")
    return records


def _b32(hex_digest: str) -> str:
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


# --- the ledger ------------------------------------------------------------------------------------------------


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in data.splitlines() if line.strip()]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("a line is not a JSON object")
    return rows


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _check_ledger(
    bundle: zipfile.ZipFile,
    package: dict[str, Any],
    warc_records: list[WarcRecord],
    trusted: set[str] | None,
    layer: Layer,
) -> dict[int, dict[str, Any]]:
    """Recompute the segment's chain; return its records by snapshot id (those the bundle carries)."""
    try:
        rows = _jsonl(_read(bundle, "ledger/segment.jsonl"))
        checkpoints = _jsonl(_read(bundle, "ledger/checkpoints.jsonl"))
    except (KeyError, ValueError) as exc:
        layer.fail(f"the ledger segment cannot be read: {exc}")
        return {}
    bundled: dict[int, dict[str, Any]] = {}
    hashes: dict[int, str] = {}
    previous: tuple[int, str] | None = None
    for row in rows:
        payload = row.get("payload") or {}
        seq = int(payload.get("seq", -1))
        name = f"snapshot {row.get('id')} (seq {seq})"
        own = hashlib.sha256(canonical_json(payload)).hexdigest()
        if own != row.get("record_hash"):
            layer.fail(f"{name}: its record does not hash to its record hash: the ledger row was edited")
        if previous is not None:
            if seq != previous[0] + 1:
                layer.fail(f"{name}: follows seq {previous[0]}: records are missing from the segment")
            if payload.get("prev_hash") != previous[1]:
                layer.fail(
                    f"{name}: its previous hash is not the record hash of seq {previous[0]}: the chain is broken"
                )
        elif seq == 1 and payload.get("prev_hash") != GENESIS:
            layer.fail(f"{name}: the first record of the ledger does not start from the genesis hash")
        previous = (seq, own)
        hashes[seq] = own
        if row.get("in_bundle"):
            bundled[int(row.get("id", 0))] = payload | {"record_hash": own}
    collector = (package.get("cchc") or {}).get("collector_public_key")
    covering = [c for c in checkpoints if previous is not None and int(c.get("seq", -1)) == previous[0]]
    if previous is None:
        layer.fail("the ledger segment is empty")
    elif not covering:
        layer.fail(f"no checkpoint in the bundle signs the segment's last record (seq {previous[0]})")
    for checkpoint in checkpoints:
        name = f"checkpoint {checkpoint.get('id')} (seq {checkpoint.get('seq')})"
        created = _parse_time(str(checkpoint.get("created_at", "")))
        if created is None:
            layer.fail(f"{name}: its time cannot be read")
            continue
        message = checkpoint_signed_message(
            Checkpoint(
                run_id=checkpoint.get("run_id"),
                seq=int(checkpoint["seq"]),
                head_hash=str(checkpoint["head_hash"]),
                created_at=created,
                reason=str(checkpoint.get("reason", "")),
                public_key=str(checkpoint.get("public_key")),
                signature=str(checkpoint.get("signature")),
                format=int(checkpoint.get("format") or 1),
                store_id=checkpoint.get("store_id"),
                event_seq=checkpoint.get("event_seq"),
                event_head=checkpoint.get("event_head"),
            )
        )
        if not signature_is_valid(
            str(checkpoint.get("public_key")), message, str(checkpoint.get("signature"))
        ):
            layer.fail(f"{name}: its signature does not verify")
        if hashes.get(int(checkpoint["seq"])) != checkpoint.get("head_hash"):
            layer.fail(f"{name}: the head it signed is not the segment's record at seq {checkpoint['seq']}")
        key = str(checkpoint.get("public_key"))
        if key != collector:
            layer.fail(f"{name}: signed by {key[:16]}…, not by the bundle's collector key")
        elif trusted is not None and key not in trusted:
            layer.fail(f"{name}: signed by {key[:16]}…, which is not a key you trust")
    if trusted is None and checkpoints:
        layer.doubt("the checkpoints verify with the bundle's own key; give --trust-key to authenticate them")
    for record in warc_records:
        entry = bundled.get(record.snapshot)
        if entry is None:
            layer.fail(f"the WARC holds snapshot {record.snapshot}, which the ledger segment does not carry")
            continue
        if record.record_hash != entry["record_hash"]:
            layer.fail(f"the WARC's record of snapshot {record.snapshot} names another ledger record hash")
        blobs = {str(b[2]) for b in entry.get("blobs", [])}
        if record.digest and record.digest not in blobs:
            layer.fail(f"snapshot {record.snapshot} ({record.part} {record.url}): the WARC payload is not a blob its "
                       "ledger record names: the captured bytes were replaced")  # fmt: skip
    return bundled


# --- figures ---------------------------------------------------------------------------------------------------


def _check_figures(
    bundle: zipfile.ZipFile, segment: dict[int, dict[str, Any]], warc_records: list[WarcRecord], layer: Layer
) -> None:
    names = [n for n in bundle.namelist() if n.startswith("figures/") and n.endswith(".jsonl")]
    if not names:
        layer.status = "missing"
        layer.notes.append("the bundle names no figures")
        return
    in_warc: dict[int, set[str]] = defaultdict(set)
    for record in warc_records:
        in_warc[record.snapshot].add(record.part)
    for name in names:
        try:
            figures = _jsonl(_read(bundle, name))
        except ValueError as exc:
            layer.fail(f"{name} cannot be read: {exc}")
            continue
        for figure in figures:
            label = " ".join(str(figure.get(k)) for k in ("unit", "indicator", "period") if figure.get(k))
            for snapshot in figure.get("snapshots") or []:
                entry = segment.get(int(snapshot))
                if entry is None:
                    layer.fail(f"{label}: snapshot {snapshot} behind it is not in the bundle")
                elif entry.get("status_code") is not None and snapshot not in in_warc:
                    layer.fail(
                        f"{label}: snapshot {snapshot} is in the ledger but its records are not in the WARC"
                    )


def report_as_json(report: BundleReport) -> dict[str, Any]:
    return {
        "bundle": str(report.path),
        "failed": report.failed,
        "layers": {
            key: {"status": layer.status, "problems": layer.problems, "notes": layer.notes}
            for key, layer in report.layers.items()
        },
    }
