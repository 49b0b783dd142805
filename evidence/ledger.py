"""The ledger: each snapshot record carries the previous record's hash and its own hash over its canonical
fields and blob digests. Changing, removing or reordering any record breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from evidence.models import Snapshot, SnapshotBlob

GENESIS = "0" * 64
# The fields of a snapshot that its record hash covers (everything but the database's own id).
HASHED_FIELDS = (
    "seq", "run_id", "probe", "unit", "target_key", "label", "render", "method", "url", "final_url",
    "request_headers", "outcome", "valid", "status_code", "reason", "http_version", "response_headers",
    "redirects", "fetched_at", "elapsed_ms", "attempts", "peer", "tls", "detail", "not_modified_of", "prev_hash",
)  # fmt: skip
# Fields added after records were first written (revision 0012): hashed when set, so that older records, which
# have none, keep their hashes, and a value set or cleared later breaks the record's hash all the same.
HASHED_WHEN_SET = ("response_ms", "queue_ms")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode
    ).encode()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise TypeError(f"cannot put {type(value).__name__} in a ledger record")


def blob_entries(blobs: Iterable[SnapshotBlob]) -> list[list[Any]]:
    return sorted([b.role, b.url or "", b.sha256, b.info] for b in blobs)


def record_payload(snapshot: Snapshot, blobs: Sequence[SnapshotBlob]) -> dict[str, Any]:
    payload = {name: getattr(snapshot, name) for name in HASHED_FIELDS}
    payload.update({n: getattr(snapshot, n) for n in HASHED_WHEN_SET if getattr(snapshot, n) is not None})
    payload["blobs"] = blob_entries(blobs)
    return payload


def record_hash(snapshot: Snapshot, blobs: Sequence[SnapshotBlob]) -> str:
    return hashlib.sha256(canonical_json(record_payload(snapshot, blobs))).hexdigest()


def checkpoint_message(
    seq: int, head_hash: str, created_at: datetime, run_id: int | None, reason: str
) -> bytes:
    return canonical_json(
        {"seq": seq, "head_hash": head_hash, "created_at": created_at, "run_id": run_id, "reason": reason}
    )
