"""`cchc evidence verify`: recompute every blob digest, every record hash and the chain, check the signed
checkpoints, and report every problem with its record id (a checker that collects, after warcio's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.blobs import BlobStore
from evidence.errors import BlobCorrupt, BlobMissing
from evidence.ledger import GENESIS, checkpoint_message, record_hash
from evidence.models import Blob, Checkpoint, Snapshot, SnapshotBlob
from evidence.signing import signature_is_valid

BATCH = 2000


@dataclass(frozen=True)
class Problem:
    record: str  # "snapshot 17 (seq 17)", "blob 3f2a…", "checkpoint 4"
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.message}"


@dataclass
class VerifyReport:
    snapshots: int = 0
    blobs: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    unsigned_after_last_checkpoint: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def verify(engine: Engine, blobs: BlobStore, trusted_public_keys: set[str] | None = None) -> VerifyReport:
    report = VerifyReport()
    with Session(engine) as session:
        users = _blob_users(session)
        _verify_blobs(session, blobs, users, report)
        hashes = _verify_chain(session, report)
        _verify_checkpoints(session, hashes, trusted_public_keys, report)
    return report


def _blob_users(session: Session) -> dict[str, list[int]]:
    users: dict[str, list[int]] = defaultdict(list)
    for sha, snapshot_id in session.exec(select(SnapshotBlob.sha256, SnapshotBlob.snapshot_id)).all():
        users[sha].append(snapshot_id)
    return users


def _verify_blobs(
    session: Session, blobs: BlobStore, users: dict[str, list[int]], report: VerifyReport
) -> None:
    known: set[str] = set()
    for blob in session.exec(select(Blob)).all():
        report.blobs += 1
        known.add(blob.sha256)
        who = _who(users.get(blob.sha256, []))
        try:
            data = blobs.get(blob.sha256)
        except BlobMissing:
            report.problems.append(Problem(f"blob {blob.sha256}", f"missing from the blob store{who}"))
            continue
        except BlobCorrupt as exc:
            report.problems.append(Problem(f"blob {blob.sha256}", f"{exc.args[0].split(': ', 1)[1]}{who}"))
            continue
        if len(data) != blob.size:
            report.problems.append(
                Problem(f"blob {blob.sha256}", f"size {len(data)} differs from the recorded {blob.size}{who}")
            )
    for sha, snapshot_ids in users.items():
        if sha not in known:
            report.problems.append(
                Problem(f"blob {sha}", f"named by the ledger but has no blob record{_who(snapshot_ids)}")
            )


def _who(snapshot_ids: list[int]) -> str:
    if not snapshot_ids:
        return ""
    shown = ", ".join(str(i) for i in sorted(snapshot_ids)[:5])
    more = f" and {len(snapshot_ids) - 5} more" if len(snapshot_ids) > 5 else ""
    return f" (used by snapshot {shown}{more})"


def _snapshots_in_order(session: Session) -> Iterator[tuple[Snapshot, list[SnapshotBlob]]]:
    last_seq = -(2**31)  # below any seq, within a 32-bit integer column
    while True:
        batch = session.exec(
            select(Snapshot).where(Snapshot.seq > last_seq).order_by(col(Snapshot.seq)).limit(BATCH)
        ).all()
        if not batch:
            return
        ids = [s.id for s in batch]
        links: dict[int, list[SnapshotBlob]] = defaultdict(list)
        for link in session.exec(select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(ids))).all():
            links[link.snapshot_id].append(link)
        for snapshot in batch:
            assert snapshot.id is not None
            yield snapshot, links[snapshot.id]
        last_seq = batch[-1].seq
        session.expunge_all()


def _verify_chain(session: Session, report: VerifyReport) -> dict[int, str]:
    """Recompute each record's hash and its link to the previous record; returns stored hash by seq."""
    hashes: dict[int, str] = {}
    previous: Snapshot | None = None
    for snapshot, links in _snapshots_in_order(session):
        report.snapshots += 1
        name = f"snapshot {snapshot.id} (seq {snapshot.seq})"
        if record_hash(snapshot, links) != snapshot.record_hash:
            report.problems.append(
                Problem(name, "record hash mismatch: its fields or blob links were changed")
            )
        expected_seq = previous.seq + 1 if previous else 1
        if snapshot.seq != expected_seq:
            gap = (
                f"seq {expected_seq}"
                if snapshot.seq == expected_seq + 1
                else f"seq {expected_seq}–{snapshot.seq - 1}"
            )
            report.problems.append(Problem(name, f"chain gap: {gap} missing (records deleted)"))
        expected_prev = previous.record_hash if previous else GENESIS
        if snapshot.prev_hash != expected_prev:
            before = f"snapshot {previous.id} (seq {previous.seq})" if previous else "the genesis"
            report.problems.append(
                Problem(name, f"chain broken: prev_hash does not match the record hash of {before}")
            )
        hashes[snapshot.seq] = snapshot.record_hash
        previous = snapshot
    if previous is not None:
        report.head_seq, report.head_hash = previous.seq, previous.record_hash
    return hashes


def _verify_checkpoints(
    session: Session, hashes: dict[int, str], trusted: set[str] | None, report: VerifyReport
) -> None:
    last_signed = 0
    for checkpoint in session.exec(select(Checkpoint).order_by(col(Checkpoint.id))).all():
        report.checkpoints += 1
        name = f"checkpoint {checkpoint.id} (seq {checkpoint.seq})"
        message = checkpoint_message(
            checkpoint.seq, checkpoint.head_hash, checkpoint.created_at, checkpoint.run_id, checkpoint.reason
        )
        if trusted is not None and checkpoint.public_key not in trusted:
            report.problems.append(Problem(name, f"signed by an unknown key {checkpoint.public_key[:16]}…"))
        if not signature_is_valid(checkpoint.public_key, message, checkpoint.signature):
            report.problems.append(Problem(name, "signature does not verify: the checkpoint was altered"))
        stored = hashes.get(checkpoint.seq)
        if stored is None:
            report.problems.append(
                Problem(name, f"signed a chain head at seq {checkpoint.seq} that no longer exists")
            )
        elif stored != checkpoint.head_hash:
            report.problems.append(
                Problem(
                    name,
                    f"signed head hash differs from the record at seq {checkpoint.seq}: history was rewritten",
                )
            )
        last_signed = max(last_signed, checkpoint.seq)
    report.unsigned_after_last_checkpoint = max(0, report.head_seq - last_signed)
