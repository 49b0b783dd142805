"""How big the evidence has grown: snapshots in the ledger, blobs in the store and their bytes (raw and as
stored), counted in the database so that `cchc status` and `/metrics` tell the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, func, select

from evidence.models import Blob, Snapshot


@dataclass(frozen=True)
class EvidenceSize:
    snapshots: int
    blobs: int
    raw_bytes: int
    stored_bytes: int


def evidence_size(session: Session) -> EvidenceSize:
    snapshots = session.exec(select(func.count()).select_from(Snapshot)).one()
    blobs, raw, stored = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Blob.size), 0),
            func.coalesce(func.sum(Blob.stored_size), 0),
        )
    ).one()
    return EvidenceSize(int(snapshots), int(blobs), int(raw), int(stored))
