"""The witness: the collector's public key and every checkpoint it signs, copied to a file outside the database
as they are made (appended, fsynced). Whoever holds a copy can tell a truncated or rewritten ledger from the
one the collector signed, without trusting the database; the file is plain JSON lines, checkable offline.

Lines (keys sorted, one JSON object each; `signature` is Ed25519 by `public_key` over the canonical JSON of
the line without those two fields, see evidence.ledger.signed_message):
  {"type": "key", "store": <id>, "published_at": <ISO time>, "public_key": <hex>, "signature": <hex>}
  {"type": "checkpoint", "format": 2, "store": <id>, "seq": n, "head_hash": <hex>, "event_seq": n,
   "event_head": <hex>, "created_at": <ISO time>, "run_id": n | null, "reason": "run-end" | "recovery",
   "public_key": <hex>, "signature": <hex>}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.appendfile import AppendOnlyFile
from evidence.ledger import signed_message
from evidence.signing import CollectorKey, signature_is_valid


@dataclass
class WitnessEntry:
    line: int
    value: dict[str, Any]

    @property
    def signature_valid(self) -> bool:
        key, signature = self.value.get("public_key"), self.value.get("signature")
        if not isinstance(key, str) or not isinstance(signature, str):
            return False
        return signature_is_valid(key, signed_message(self.value), signature)


@dataclass
class WitnessView:
    """What a witness file says about one store."""

    path: Path
    exists: bool
    keys: list[WitnessEntry] = field(default_factory=list)
    checkpoints: list[WitnessEntry] = field(default_factory=list)
    unreadable: list[tuple[int | None, str]] = field(default_factory=list)
    other_stores: set[str] = field(default_factory=set)

    @property
    def published_keys(self) -> set[str]:
        return {str(e.value["public_key"]) for e in self.keys if e.signature_valid}


class Witness:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.file = AppendOnlyFile(path, durable=durable)

    @property
    def path(self) -> Path:
        return self.file.path

    def publish_key(self, store_id: str, key: CollectorKey) -> bool:
        """Publish the key for this store unless the witness already has it; True when a line was added."""
        if key.public_hex in self.read(store_id).published_keys:
            return False
        statement = {"type": "key", "store": store_id, "published_at": datetime.now(UTC).isoformat()}
        self.file.append(key.signed(statement))
        return True

    def publish(self, signed_statement: dict[str, Any]) -> None:
        self.file.append(signed_statement)

    def size(self) -> int:
        return self.file.size()

    def close(self) -> None:
        self.file.close()

    def read(self, store_id: str, end: int | None = None) -> WitnessView:
        """What the witness says of a store (up to byte `end`: the witness as it was then)."""
        view = WitnessView(self.path, self.path.exists())
        for line in self.file.lines(end):
            number = line.number or 0
            if line.value is None:
                view.unreadable.append((number, line.problem))
                continue
            store = line.value.get("store")
            if store != store_id:
                if isinstance(store, str):
                    view.other_stores.add(store)
                continue
            kind = line.value.get("type")
            if kind == "key" and isinstance(line.value.get("public_key"), str):
                view.keys.append(WitnessEntry(number, line.value))
            elif kind == "checkpoint":
                view.checkpoints.append(WitnessEntry(number, line.value))
            else:
                view.unreadable.append((number, f"unknown line type {kind!r}"))
        return view
