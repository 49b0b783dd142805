"""Keeping captures as evidence: blobs first, then one transaction that appends the snapshot to the ledger.

Order matters for crash safety. Blobs are written (atomically) before the transaction that names them, so a
process killed at any moment leaves at worst an unreferenced blob, never a snapshot without its blobs; the
ledger append is one transaction, so the chain is never half-extended. A run still marked running whose
process is gone is marked interrupted at the next start, and a recovery checkpoint signs the chain head.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from crawler import Capture, Outcome
from evidence.blobs import BlobStore, LocalBlobStore, StoredBlob
from evidence.db import open_database
from evidence.ledger import GENESIS, checkpoint_message, record_hash
from evidence.models import Blob, Checkpoint, Observation, ParseFailure, Run, Snapshot, SnapshotBlob
from evidence.signing import CollectorKey

MAX_APPEND_ATTEMPTS = 20


@dataclass(frozen=True)
class Validators:
    """What a conditional GET sends, from the last valid capture of the same target."""

    snapshot_id: int
    etag: str | None
    last_modified: str | None


class EvidenceStore:
    def __init__(self, engine: Engine, blobs: BlobStore, key: CollectorKey) -> None:
        self.engine = engine
        self.blobs = blobs
        self.key = key

    @classmethod
    def open(
        cls, database_url: str, blob_dir: Path, key_file: Path, *, durable: bool = True
    ) -> EvidenceStore:
        blobs = LocalBlobStore(blob_dir, durable=durable)
        blobs.remove_stale_temp_files()
        return cls(open_database(database_url, writer=True), blobs, CollectorKey.load_or_create(key_file))

    def close(self) -> None:
        self.engine.dispose()

    # --- runs -----------------------------------------------------------------------------------------------

    def begin_run(
        self,
        trigger: str,
        probes: Iterable[str] = (),
        units: Iterable[str] = (),
        *,
        surprise: bool = False,
        note: str = "",
    ) -> Run:
        self.recover_interrupted()
        run = Run(
            trigger=trigger,
            surprise=surprise,
            probes=list(probes),
            units=list(units),
            started_at=datetime.now(UTC),
            hostname=socket.gethostname(),
            pid=os.getpid(),
            note=note,
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(run)
            session.commit()
        return run

    def finish_run(self, run_id: int, status: str = "completed") -> Checkpoint | None:
        """Close a run with its outcome counts, and sign a checkpoint over the chain head."""
        with Session(self.engine, expire_on_commit=False) as session:
            run = session.get(Run, run_id)
            if run is None:
                raise KeyError(run_id)
            rows = session.exec(select(Snapshot.outcome).where(Snapshot.run_id == run_id)).all()
            run.counts = dict(Counter(rows))
            run.status = status
            run.finished_at = datetime.now(UTC)
            session.add(run)
            session.commit()
        return self.checkpoint(run_id=run_id, reason="run-end")

    def recover_interrupted(self) -> list[Run]:
        """Mark runs of this host whose process is gone as interrupted; sign the chain head they left."""
        host = socket.gethostname()
        recovered: list[Run] = []
        with Session(self.engine, expire_on_commit=False) as session:
            for run in session.exec(select(Run).where(Run.status == "running", Run.hostname == host)).all():
                if run.pid != os.getpid() and not _process_alive(run.pid):
                    run.status = "interrupted"
                    run.finished_at = datetime.now(UTC)
                    run.counts = dict(
                        Counter(session.exec(select(Snapshot.outcome).where(Snapshot.run_id == run.id)).all())
                    )
                    run.note = (
                        run.note + " " if run.note else ""
                    ) + f"process {run.pid} ended without closing the run"
                    session.add(run)
                    recovered.append(run)
            session.commit()
        if recovered:
            self.checkpoint(run_id=recovered[-1].id, reason="recovery")
        return recovered

    def interrupt_runs_of(self, pid: int, note: str, since: datetime | None = None) -> list[int]:
        """Close the runs a stopped process left (or closed as interrupted), with the reason; sign the head."""
        host = socket.gethostname()
        closed: list[int] = []
        with Session(self.engine) as session:
            query = select(Run).where(
                Run.pid == pid, Run.hostname == host, col(Run.status).in_(("running", "interrupted"))
            )
            if since is not None:
                query = query.where(Run.started_at >= since)
            for run in session.exec(query).all():
                if run.status == "running":
                    run.finished_at = datetime.now(UTC)
                    run.counts = dict(
                        Counter(session.exec(select(Snapshot.outcome).where(Snapshot.run_id == run.id)).all())
                    )
                run.status = "interrupted"
                run.note = (run.note + " " if run.note else "") + note
                session.add(run)
                closed.append(run.id or 0)
            session.commit()
        if closed:
            self.checkpoint(run_id=closed[-1], reason="recovery")
        return closed

    def checkpoint_needed(self) -> bool:
        """Whether records were appended after the last signed checkpoint."""
        with Session(self.engine) as session:
            head = session.exec(select(func.max(Snapshot.seq))).one()
            signed = session.exec(select(func.max(Checkpoint.seq))).one()
        return head is not None and (signed is None or head > signed)

    def checkpoint(self, run_id: int | None, reason: str) -> Checkpoint | None:
        with Session(self.engine, expire_on_commit=False) as session:
            head = session.exec(select(Snapshot).order_by(col(Snapshot.seq).desc()).limit(1)).first()
            if head is None:
                return None
            created = datetime.now(UTC)
            message = checkpoint_message(head.seq, head.record_hash, created, run_id, reason)
            checkpoint = Checkpoint(
                run_id=run_id,
                seq=head.seq,
                head_hash=head.record_hash,
                created_at=created,
                reason=reason,
                public_key=self.key.public_hex,
                signature=self.key.sign(message),
            )
            session.add(checkpoint)
            session.commit()
            return checkpoint

    # --- captures -------------------------------------------------------------------------------------------

    def validators(self, target_key: str) -> Validators | None:
        """ETag / Last-Modified of the last valid capture of a target, for a conditional GET."""
        with Session(self.engine) as session:
            last = session.exec(
                select(Snapshot)
                .where(Snapshot.target_key == target_key, Snapshot.valid == True)  # noqa: E712
                .order_by(col(Snapshot.seq).desc())
                .limit(1)
            ).first()
            if last is None or last.id is None:
                return None
            headers = {k.lower(): v for k, v in last.response_headers}
            base = last.id if last.not_modified_of is None else last.not_modified_of
            if "etag" not in headers and "last-modified" not in headers:
                return None
            return Validators(base, headers.get("etag"), headers.get("last-modified"))

    def store(self, run_id: int, capture: Capture) -> Snapshot:
        """Keep one capture: its blobs, then its ledger record, in that order."""
        links = self._put_blobs(capture)
        not_modified_of: int | None = None
        if capture.status == 304 and capture.target.conditional:
            previous = self.validators(capture.target.key)
            if previous is not None:
                not_modified_of = previous.snapshot_id
                links += self._links_of(previous.snapshot_id, roles=("response_body",))
        snapshot = Snapshot(
            seq=0,
            run_id=run_id,
            probe=capture.target.probe,
            unit=capture.target.unit,
            target_key=capture.target.key,
            label=capture.target.label,
            render=capture.target.render,
            method=capture.target.method,
            url=capture.target.url,
            final_url=capture.final_url or capture.target.url,
            request_headers=[list(h) for h in capture.request_headers],
            outcome=str(capture.outcome),
            valid=capture.outcome is Outcome.OK,
            status_code=capture.status,
            reason=capture.reason,
            http_version=capture.http_version,
            response_headers=[list(h) for h in capture.response_headers],
            redirects=[
                {"url": h.url, "status": h.status, "headers": [list(x) for x in h.headers]}
                for h in capture.redirects
            ],
            fetched_at=capture.started_at,
            elapsed_ms=capture.elapsed_ms,
            response_ms=capture.response_ms,
            queue_ms=capture.queue_ms,
            attempts=capture.attempts,
            peer=capture.peer,
            tls=capture.tls,
            detail=capture.detail,
            not_modified_of=not_modified_of,
            prev_hash=GENESIS,
            record_hash="",
        )
        return self._append(snapshot, links)

    def _put_blobs(self, capture: Capture) -> list[tuple[StoredBlob, SnapshotBlob]]:
        parts: list[tuple[bytes, str, str | None, dict[str, Any]]] = []
        if capture.target.body:
            parts.append((capture.target.body, "request_body", None, {}))
        if capture.body is not None and capture.status != 304:
            parts.append(
                (capture.body, "response_body", None, {"content_type": capture.header("content-type") or ""})
            )
        if capture.dom is not None:
            parts.append(
                (capture.dom.encode("utf-8"), "dom", None, {"content_type": "text/html; charset=utf-8"})
            )
        if capture.screenshot is not None:
            parts.append((capture.screenshot, "screenshot", None, {"content_type": "image/png"}))
        for sub in capture.subresponses:
            info = {"method": sub.method, "status": sub.status, "headers": [list(h) for h in sub.headers],
                    "resource_type": sub.resource_type}  # fmt: skip
            parts.append((sub.body, "subresponse", sub.url, info))
        links = []
        for data, role, url, info in parts:
            stored = self.blobs.put(data)
            links.append(
                (stored, SnapshotBlob(snapshot_id=0, role=role, sha256=stored.sha256, url=url, info=info))
            )
        return links

    def _links_of(self, snapshot_id: int, roles: tuple[str, ...]) -> list[tuple[StoredBlob, SnapshotBlob]]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(SnapshotBlob, Blob)
                .join(Blob, col(Blob.sha256) == col(SnapshotBlob.sha256))
                .where(SnapshotBlob.snapshot_id == snapshot_id, col(SnapshotBlob.role).in_(roles))
            ).all()
            return [
                (StoredBlob(b.sha256, b.size, b.stored_size, new=False),
                 SnapshotBlob(snapshot_id=0, role=link.role, sha256=link.sha256, url=link.url, info=dict(link.info)))
                for link, b in rows
            ]  # fmt: skip

    def _append(self, snapshot: Snapshot, links: list[tuple[StoredBlob, SnapshotBlob]]) -> Snapshot:
        now = datetime.now(UTC)
        blob_rows = [
            {"sha256": s.sha256, "size": s.size, "stored_size": s.stored_size, "created_at": now}
            for s, _ in links
        ]
        for attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    if blob_rows:
                        session.execute(self._insert_ignore(blob_rows))
                    head = session.exec(
                        select(Snapshot.seq, Snapshot.record_hash).order_by(col(Snapshot.seq).desc()).limit(1)
                    ).first()
                    snapshot.seq = head[0] + 1 if head else 1
                    snapshot.prev_hash = head[1] if head else GENESIS
                    blob_links = [link for _, link in links]
                    snapshot.record_hash = record_hash(snapshot, blob_links)
                    session.add(snapshot)
                    session.flush()
                    assert snapshot.id is not None
                    for link in blob_links:
                        link.snapshot_id = snapshot.id
                        session.add(link)
                    session.commit()
                    return snapshot
            except IntegrityError:
                # Another process took this chain position first (PostgreSQL); read the new head and retry.
                snapshot.id = None
                if attempt == MAX_APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _insert_ignore(self, rows: list[dict[str, Any]]) -> Any:
        table = Blob.__table__  # type: ignore[attr-defined]
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).values(rows).on_conflict_do_nothing(index_elements=["sha256"])
        if self.engine.dialect.name == "sqlite":
            return sqlite.insert(table).values(rows).on_conflict_do_nothing(index_elements=["sha256"])
        return sa.insert(table).values(rows)

    # --- what parsers read off the snapshots ------------------------------------------------------------

    def add_observations(self, rows: list[Observation]) -> None:
        """Observations are derived data: stored beside the ledger, re-derivable, never part of the chain."""
        if not rows:
            return
        with Session(self.engine) as session:
            session.add_all(rows)
            session.commit()

    def add_parse_failure(self, failure: ParseFailure) -> None:
        with Session(self.engine) as session:
            session.add(failure)
            session.commit()

    # --- reading --------------------------------------------------------------------------------------------

    def blob_links(self, snapshot_id: int) -> list[SnapshotBlob]:
        with Session(self.engine) as session:
            return list(
                session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot_id)).all()
            )

    def body(self, snapshot_id: int, role: str = "response_body") -> bytes | None:
        link = next((b for b in self.blob_links(snapshot_id) if b.role == role), None)
        return None if link is None else self.blobs.get(link.sha256)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
