"""What a writer checks before it signs: the records no accepted checkpoint covers yet (the unsigned tail).

A record of the tail is vouched for when its hash matches its fields and blob links, it links to the record
before it, its blobs are there (read whole and hashed at a recovery), and the writer's journal holds a line,
signed by an accepted key, with its position and hash. Anything else is a doubt: the checkpoint flags it in the
event chain instead of vouching for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.blobs import BlobStore
from evidence.errors import BlobCorrupt, BlobMissing
from evidence.journal import EVENT_CHAIN, SNAPSHOT_CHAIN, JournalView
from evidence.ledger import FLAGGED, GENESIS, checkpoint_signed_message, event_hash, record_hash
from evidence.models import Checkpoint, Event, Snapshot, SnapshotBlob
from evidence.signing import signature_is_valid

BATCH = 1000


@dataclass(frozen=True)
class Baseline:
    """Where the last checkpoint by an accepted key stands: what it vouched for ends there."""

    seq: int
    event_seq: int

    @property
    def positions(self) -> dict[str, int]:
        return {SNAPSHOT_CHAIN: self.seq, EVENT_CHAIN: self.event_seq}


@dataclass(frozen=True)
class Doubt:
    """A record of the unsigned tail that does not check, and why."""

    reason: str
    record_hash: str
    snapshot_id: int | None = None
    snapshot_seq: int | None = None
    event_seq: int | None = None


def upgrade_prefix(session: Session) -> int:
    """The events the upgrade to 0013 linked (a prefix of the event chain): no journal line stands for them."""
    return (
        session.exec(
            select(Event.seq).where(col(Event.by_upgrade).is_(True)).order_by(col(Event.seq).desc())
        ).first()
        or 0
    )


def accepted_checkpoint(session: Session, store_id: str, keys: set[str]) -> Baseline:
    """The newest checkpoint of this store whose signature an accepted key makes valid."""
    for checkpoint in session.exec(select(Checkpoint).order_by(col(Checkpoint.id).desc())).all():
        if checkpoint.public_key not in keys:
            continue
        if checkpoint.format >= 2 and checkpoint.store_id != store_id:
            continue
        if not signature_is_valid(
            checkpoint.public_key, checkpoint_signed_message(checkpoint), checkpoint.signature
        ):
            continue
        if checkpoint.format >= 2 and checkpoint.event_seq is not None:
            return Baseline(checkpoint.seq, checkpoint.event_seq)
        return Baseline(checkpoint.seq, upgrade_prefix(session))  # format 1 signed no event head
    return Baseline(0, upgrade_prefix(session))


def tail_snapshots(
    session: Session, after: int, upto: int | None = None
) -> Iterator[tuple[Snapshot, list[SnapshotBlob]]]:
    last = after
    while True:
        query = select(Snapshot).where(Snapshot.seq > last)
        if upto is not None:
            query = query.where(Snapshot.seq <= upto)
        batch = session.exec(query.order_by(col(Snapshot.seq)).limit(BATCH)).all()
        if not batch:
            return
        links: dict[int, list[SnapshotBlob]] = defaultdict(list)
        for link in session.exec(
            select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_([s.id for s in batch]))
        ):
            links[link.snapshot_id].append(link)
        for snapshot in batch:
            yield snapshot, links[snapshot.id or 0]
        last = batch[-1].seq


def blob_doubts(engine: Engine, blobs: BlobStore, store_id: str, keys: set[str]) -> dict[int, str]:
    """Blobs of the unsigned tail read whole and hashed; by snapshot id, what is wrong with them. Done before the
    chains are locked, so that other writers do not wait while a long tail is read."""
    found: dict[int, str] = {}
    with Session(engine) as session:
        base = accepted_checkpoint(session, store_id, keys)
        for snapshot, links in tail_snapshots(session, base.seq):
            for link in links:
                try:
                    blobs.get(link.sha256)
                except (BlobMissing, BlobCorrupt) as exc:
                    found[snapshot.id or 0] = f"its {link.role} {exc}"
                    break
    return found


def find_doubts(
    session: Session,
    blobs: BlobStore,
    base: Baseline,
    head_seq: int,
    journal: JournalView | None,
    unreadable: dict[int, str],
) -> list[Doubt]:
    flagged_snapshots, flagged_events = set(), set()
    for snapshot_id, event_seq in session.exec(
        select(Event.snapshot_id, Event.flagged_event_seq).where(Event.kind == FLAGGED)
    ).all():
        flagged_snapshots.add(snapshot_id)
        flagged_events.add(event_seq)
    doubts = [d for d in _snapshot_doubts(session, blobs, base, head_seq, journal, unreadable)
              if d.snapshot_id not in flagged_snapshots]  # fmt: skip
    doubts += [d for d in _event_doubts(session, base, journal) if d.event_seq not in flagged_events]
    return doubts


def _journal_says(journal: JournalView | None, chain: str, seq: int, hash_: str) -> str:
    if journal is None or journal.vouches(chain, seq, hash_):
        return ""
    if not journal.exists:
        return "the writer's journal is missing"
    if journal.hashes.get((chain, seq)):
        return "it differs from what the writer journaled (rewritten after it was written)"
    return "the writer's journal has no signed line for it"


def _snapshot_doubts(
    session: Session, blobs: BlobStore, base: Baseline, head_seq: int, journal: JournalView | None,
    unreadable: dict[int, str],
) -> Iterator[Doubt]:  # fmt: skip
    previous = session.exec(select(Snapshot.record_hash).where(Snapshot.seq == base.seq)).first()
    previous = GENESIS if base.seq == 0 else previous
    for snapshot, links in tail_snapshots(session, base.seq, head_seq):
        reasons = []
        if record_hash(snapshot, links) != snapshot.record_hash:
            reasons.append("its record hash does not match its fields and blob links")
        if previous is not None and snapshot.prev_hash != previous:
            reasons.append("its link to the record before it is broken")
        if said := _journal_says(journal, SNAPSHOT_CHAIN, snapshot.seq, snapshot.record_hash):
            reasons.append(said)
        if snapshot.id in unreadable:
            reasons.append(unreadable[snapshot.id or 0])
        elif missing := [link for link in links if not blobs.has(link.sha256)]:
            reasons.append(f"its {missing[0].role} blob {missing[0].sha256} is missing")
        if reasons:
            yield Doubt(
                "; ".join(reasons), snapshot.record_hash, snapshot_id=snapshot.id, snapshot_seq=snapshot.seq
            )
        previous = snapshot.record_hash


def _event_doubts(session: Session, base: Baseline, journal: JournalView | None) -> Iterator[Doubt]:
    previous = session.exec(select(Event.record_hash).where(Event.seq == base.event_seq)).first()
    previous = GENESIS if base.event_seq == 0 else previous
    last = base.event_seq
    while True:
        batch = session.exec(
            select(Event).where(Event.seq > last).order_by(col(Event.seq)).limit(BATCH)
        ).all()
        if not batch:
            return
        for event in batch:
            reasons = []
            if event_hash(event) != event.record_hash:
                reasons.append("its record hash does not match its fields")
            if previous is not None and event.prev_hash != previous:
                reasons.append("its link to the event before it is broken")
            if event.by_upgrade:
                reasons.append("marked as linked by the upgrade, after events the collector wrote")
            elif said := _journal_says(journal, EVENT_CHAIN, event.seq, event.record_hash):
                reasons.append(said)
            if reasons:
                yield Doubt("; ".join(reasons), event.record_hash, event_seq=event.seq)
            previous = event.record_hash
        last = batch[-1].seq
