"""The ledger's two hash chains and the statements signed over them.

The snapshot chain: each snapshot record carries the previous record's hash and its own hash over its canonical
fields and blob digests. The event chain, beside it, holds everything else a figure rests on: a run began
(its trigger, the surprise flag), a run ended, a parser read a snapshot (the digest of what it found, linked to
the snapshot's record hash and the parser's version), a record was flagged. Changing, removing or reordering any
record breaks its chain at that point; a checkpoint signs both heads.

Every signed line (checkpoint, journal line, published key) is a JSON object whose message is the canonical
JSON of the object without its `signature` and `public_key` fields (`signed_message`), so anyone can check it
offline with the public key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from evidence.models import Checkpoint, Snapshot, SnapshotBlob

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
# The fields of an event that its record hash covers.
EVENT_HASHED_FIELDS = (
    "seq", "kind", "run_id", "snapshot_id", "snapshot_hash", "flagged_event_seq", "parser", "parser_version",
    "content_hash", "detail", "created_at", "by_upgrade", "prev_hash",
)  # fmt: skip
# What a run's events vouch for: its beginning (who started it and why, surprise or not) and its end.
RUN_BEGIN_FIELDS = ("id", "trigger", "surprise", "probes", "units", "started_at", "hostname", "pid")
RUN_END_FIELDS = ("id", "status", "finished_at", "counts", "note")
OBSERVATION_FIELDS = (
    "snapshot_id", "probe", "unit", "metric", "period", "value", "text", "attributes", "parser",
    "parser_version", "derived_at",
)  # fmt: skip
PARSE_FAILURE_FIELDS = ("snapshot_id", "probe", "unit", "parser", "parser_version", "reason", "created_at")

# Kinds of events.
RUN_BEGUN, RUN_ENDED, PARSED, FLAGGED = "run", "run-end", "parse", "flag"
CHECKPOINT_FORMAT = 2  # 1: cchc-watch 0.1 (snapshot head only, no store id); 2: both heads and the store id


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode
    ).encode()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise TypeError(f"cannot put {type(value).__name__} in a ledger record")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def _as_stored(value: Any) -> Any:
    """A JSON column's value as the database gives it back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value))


# --- the snapshot chain -----------------------------------------------------------------------------------------


def blob_entries(blobs: Iterable[SnapshotBlob]) -> list[list[Any]]:
    return sorted([b.role, b.url or "", b.sha256, b.info] for b in blobs)


def record_payload(snapshot: Snapshot, blobs: Sequence[SnapshotBlob]) -> dict[str, Any]:
    payload = {name: getattr(snapshot, name) for name in HASHED_FIELDS}
    payload.update({n: getattr(snapshot, n) for n in HASHED_WHEN_SET if getattr(snapshot, n) is not None})
    payload["blobs"] = blob_entries(blobs)
    return payload


def record_hash(snapshot: Snapshot, blobs: Sequence[SnapshotBlob]) -> str:
    return hashlib.sha256(canonical_json(record_payload(snapshot, blobs))).hexdigest()


# --- the event chain --------------------------------------------------------------------------------------------


def event_hash(event: Any) -> str:
    """The record hash of an event (a model or a mapping of its columns)."""
    return digest({name: _field(event, name) for name in EVENT_HASHED_FIELDS})


def run_begin_digest(run: Any) -> str:
    facts = {name: _field(run, name) for name in RUN_BEGIN_FIELDS}
    facts["probes"], facts["units"] = _as_stored(facts["probes"]), _as_stored(facts["units"])
    return digest(facts)


def run_end_digest(run: Any) -> str:
    facts = {name: _field(run, name) for name in RUN_END_FIELDS}
    facts["counts"] = _as_stored(facts["counts"])
    return digest(facts)


def observation_entry(observation: Any) -> dict[str, Any]:
    entry = {name: _field(observation, name) for name in OBSERVATION_FIELDS}
    entry["value"] = None if entry["value"] is None else float(entry["value"])  # a REAL column
    entry["attributes"] = _as_stored(entry["attributes"])
    return entry


def parse_failure_entry(failure: Any) -> dict[str, Any]:
    return {name: _field(failure, name) for name in PARSE_FAILURE_FIELDS}


def parse_digest(observations: Iterable[Any], failures: Iterable[Any]) -> str:
    """What one parse found: its observations and parse failures, in no particular order."""
    return digest(
        {
            "observations": sorted(canonical_json(observation_entry(o)).decode() for o in observations),
            "failures": sorted(canonical_json(parse_failure_entry(f)).decode() for f in failures),
        }
    )


def flag_digest(reason: str) -> str:
    return digest({"reason": reason})


# --- signed statements ------------------------------------------------------------------------------------------


def signed_message(line: Mapping[str, Any]) -> bytes:
    """The bytes a signed line's signature covers: the line without its signature and public key."""
    return canonical_json({k: v for k, v in line.items() if k not in ("signature", "public_key")})


def checkpoint_message(
    seq: int, head_hash: str, created_at: datetime, run_id: int | None, reason: str
) -> bytes:
    """What a format-1 checkpoint (cchc-watch 0.1) signed: the snapshot head alone."""
    return canonical_json(
        {"seq": seq, "head_hash": head_hash, "created_at": created_at, "run_id": run_id, "reason": reason}
    )


def checkpoint_statement(
    *,
    store: str,
    seq: int,
    head_hash: str,
    event_seq: int,
    event_head: str,
    created_at: datetime,
    run_id: int | None,
    reason: str,
) -> dict[str, Any]:
    """A format-2 checkpoint as a JSON object (without its signature): what the witness file holds."""
    return {
        "type": "checkpoint",
        "format": CHECKPOINT_FORMAT,
        "store": store,
        "seq": seq,
        "head_hash": head_hash,
        "event_seq": event_seq,
        "event_head": event_head,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "run_id": run_id,
        "reason": reason,
    }


def checkpoint_signed_message(checkpoint: Checkpoint) -> bytes:
    """The bytes a stored checkpoint's signature covers, by its format."""
    if checkpoint.format < CHECKPOINT_FORMAT or checkpoint.store_id is None or checkpoint.event_seq is None:
        return checkpoint_message(
            checkpoint.seq, checkpoint.head_hash, checkpoint.created_at, checkpoint.run_id, checkpoint.reason
        )
    return signed_message(checkpoint_as_statement(checkpoint))


def checkpoint_as_statement(checkpoint: Checkpoint) -> dict[str, Any]:
    statement = checkpoint_statement(
        store=checkpoint.store_id or "",
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        event_seq=checkpoint.event_seq or 0,
        event_head=checkpoint.event_head or GENESIS,
        created_at=checkpoint.created_at,
        run_id=checkpoint.run_id,
        reason=checkpoint.reason,
    )
    statement["format"] = checkpoint.format
    return statement


def journal_statement(
    chain: str, store: str, seq: int, record_hash: str, batch: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A writer's journal line (without its signature): this record is about to be committed. A record kept in
    a group commit names its batch's first and last positions: they commit together or not at all."""
    statement: dict[str, Any] = {
        "type": "journal",
        "chain": chain,
        "store": store,
        "seq": seq,
        "hash": record_hash,
    }
    if batch is not None:
        statement["batch"] = list(batch)
    return statement
