"""Keeping captures as evidence: blobs first, then one transaction that appends the snapshot to the ledger.

Order matters for crash safety. Blobs are written (atomically) before the transaction that names them, and a
signed line naming the record goes to the writer's journal (fsynced) before it commits, so a process killed at
any moment leaves at worst an unreferenced blob or a journal line ahead of the database, never a snapshot
without its blobs; each append is one transaction, so a chain is never half-extended. Runs, parses and flags
go to the event chain the same way. A run still marked running whose process is gone is marked interrupted at
the next start; before its recovery checkpoint signs, the unsigned tail is checked against its blobs and the
journal, and what does not check is flagged (evidence.vouch).
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from crawler import Capture, Outcome
from evidence.blobs import BlobStore, LocalBlobStore, StoredBlob
from evidence.db import open_database
from evidence.errors import EvidenceError
from evidence.groupcommit import GroupCommitter
from evidence.journal import EVENT_CHAIN, SNAPSHOT_CHAIN, WriterJournal, read_journal
from evidence.ledger import (
    FLAGGED,
    GENESIS,
    PARSED,
    RUN_BEGUN,
    RUN_ENDED,
    checkpoint_statement,
    event_hash,
    flag_digest,
    parse_digest,
    record_hash,
    run_begin_digest,
    run_end_digest,
)
from evidence.models import (
    Blob,
    Checkpoint,
    Event,
    Observation,
    ParseFailure,
    Run,
    Snapshot,
    SnapshotBlob,
    StoreIdentity,
)
from evidence.signing import CollectorKey
from evidence.vouch import Doubt, accepted_checkpoint, blob_doubts, find_doubts
from evidence.witness import Witness

MAX_APPEND_ATTEMPTS = 20
JOURNAL_NAME = "journal.jsonl"
T = TypeVar("T")


OBSERVATION_TABLE: sa.Table = Observation.__table__  # type: ignore[attr-defined]
# What an observation row holds but its id (the database gives it) and its parse event (set when kept).
_OBSERVATION_COLUMNS = tuple(c.name for c in OBSERVATION_TABLE.columns if c.name not in ("id", "event_id"))


def _observation_columns(row: Observation) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _OBSERVATION_COLUMNS}


@dataclass(frozen=True)
class ParseResult:
    """What one parse of one snapshot gave: its observations, or its parse failures."""

    observations: list[Observation]
    failures: list[ParseFailure]


@dataclass(frozen=True)
class Validators:
    """What a conditional GET sends, from the last valid capture of the same target."""

    snapshot_id: int
    etag: str | None
    last_modified: str | None


def default_journal(blob_dir: Path) -> Path:
    """The writer's journal beside the blob folder (data/journal.jsonl beside data/blobs)."""
    return Path(blob_dir).parent / JOURNAL_NAME


class ReadOnlyStore(EvidenceError):
    def __init__(self) -> None:
        super().__init__("this evidence store was opened for reading: it cannot sign or append")


class EvidenceStore:
    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        key: CollectorKey | None,
        *,
        journal: WriterJournal | None = None,
        witness: Witness | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.key = key
        self.journal = journal
        self.witness = witness
        self._store_id: str | None = None
        self._committer: GroupCommitter[tuple[int, Capture] | ParseResult, Snapshot | None] | None = None

    @classmethod
    def open(
        cls,
        database_url: str,
        blob_dir: Path,
        key_file: Path,
        *,
        journal_file: Path | None = None,
        witness_file: Path | None = None,
        durable: bool = True,
    ) -> EvidenceStore:
        """A store to write to: its key (made on first use), its journal (default: beside the blob folder), and
        its witness when one is given (the key is published there on first use)."""
        blobs = LocalBlobStore(blob_dir, durable=durable)
        blobs.remove_stale_temp_files()
        engine = open_database(database_url, writer=True)
        try:
            key = CollectorKey.load_or_create(key_file)
            store = cls(engine, blobs, key)
            store.journal = WriterJournal(
                journal_file or default_journal(blob_dir), store.store_id, key, durable=durable
            )
            if witness_file is not None:
                store.witness = Witness(witness_file, durable=durable)
                store.witness.publish_key(store.store_id, key)
        except BaseException:
            engine.dispose()
            raise
        return store

    @classmethod
    def reader(cls, database_url: str, blob_dir: Path) -> EvidenceStore:
        """A store to read from (verify, reparse checks): no key is made, nothing is signed."""
        return cls(open_database(database_url), LocalBlobStore(blob_dir, durable=False), None)

    def close(self) -> None:
        if self._committer is not None:
            self._committer.stop()
            self._committer = None
        for file in (self.journal, self.witness):
            if file is not None:
                file.close()
        self.engine.dispose()

    @property
    def store_id(self) -> str:
        if self._store_id is None:
            self._store_id = read_store_id(self.engine)
        return self._store_id

    def signing_key(self) -> CollectorKey:
        """The collector's key (a reader has none: ReadOnlyStore)."""
        if self.key is None:
            raise ReadOnlyStore()
        return self.key

    def _accepted_keys(self) -> set[str]:
        """Keys whose checkpoints and journal lines this writer accepts: its own, and those the witness
        published for this store (a key used before this one)."""
        keys = {self.signing_key().public_hex}
        if self.witness is not None:
            keys |= self.witness.read(self.store_id).published_keys
        return keys

    def _in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run work in one transaction, again when another writer took a chain position first (PostgreSQL)."""
        for attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    result = work(session)
                    session.commit()
                    return result
            except IntegrityError:
                if attempt == MAX_APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _append_event(self, session: Session, event: Event) -> Event:
        """Put an event at the end of the event chain (inside the caller's transaction), journaled first."""
        self._append_events(session, [event])
        return event

    def _append_events(self, session: Session, events: list[Event]) -> None:
        """Put events at the end of the event chain, in order (inside the caller's transaction), their journal
        lines written together (one write, one fsync) before the caller commits."""
        head = session.exec(
            select(Event.seq, Event.record_hash).order_by(col(Event.seq).desc()).limit(1)
        ).first()
        seq, prev_hash = head if head else (0, GENESIS)
        for event in events:
            event.id = None
            event.seq, event.prev_hash = seq + 1, prev_hash
            event.record_hash = event_hash(event)
            seq, prev_hash = event.seq, event.record_hash
            session.add(event)
        session.flush()  # a position another writer took fails here, before the journal lines
        if self.journal is not None:
            self.journal.append_many(EVENT_CHAIN, [(event.seq, event.record_hash) for event in events])

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

        def begin(session: Session) -> Run:
            run.id = None
            session.add(run)
            session.flush()
            self._append_event(
                session, Event(seq=0, kind=RUN_BEGUN, run_id=run.id, content_hash=run_begin_digest(run),
                               created_at=run.started_at, prev_hash="", record_hash="")
            )  # fmt: skip
            return run

        return self._in_transaction(begin)

    def finish_run(self, run_id: int, status: str = "completed") -> Checkpoint | None:
        """Close a run with its outcome counts, and sign a checkpoint over the chain heads."""
        self.settle()

        def finish(session: Session) -> None:
            run = session.get(Run, run_id)
            if run is None:
                raise KeyError(run_id)
            rows = session.exec(select(Snapshot.outcome).where(Snapshot.run_id == run_id)).all()
            run.counts = dict(Counter(rows))
            run.status = status
            run.finished_at = datetime.now(UTC)
            self._record_end(session, run)

        self._in_transaction(finish)
        return self.checkpoint(run_id=run_id, reason="run-end")

    def _record_end(self, session: Session, run: Run) -> None:
        session.add(run)
        session.flush()
        self._append_event(
            session, Event(seq=0, kind=RUN_ENDED, run_id=run.id, content_hash=run_end_digest(run),
                           created_at=datetime.now(UTC), prev_hash="", record_hash="")
        )  # fmt: skip

    def recover_interrupted(self) -> list[Run]:
        """Mark runs of this host whose process is gone as interrupted; sign the chain head they left."""
        host = socket.gethostname()

        def recover(session: Session) -> list[Run]:
            recovered: list[Run] = []
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
                    self._record_end(session, run)
                    recovered.append(run)
            return recovered

        recovered = self._in_transaction(recover)
        if recovered:
            self.checkpoint(run_id=recovered[-1].id, reason="recovery", read_blobs=True)
        return recovered

    def interrupt_runs_of(self, pid: int, note: str, since: datetime | None = None) -> list[int]:
        """Close the runs a stopped process left (or closed as interrupted), with the reason; sign the head."""
        self.settle()
        host = socket.gethostname()

        def interrupt(session: Session) -> list[int]:
            closed: list[int] = []
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
                self._record_end(session, run)
                closed.append(run.id or 0)
            return closed

        closed = self._in_transaction(interrupt)
        if closed:
            self.checkpoint(run_id=closed[-1], reason="recovery", read_blobs=True)
        return closed

    def checkpoint_needed(self) -> bool:
        """Whether records (captures or events) were appended after the last signed checkpoint."""
        with Session(self.engine) as session:
            head: int | None = session.exec(select(func.max(Snapshot.seq))).one()
            events: int | None = session.exec(select(func.max(Event.seq))).one()
            last = session.exec(select(Checkpoint).order_by(col(Checkpoint.id).desc()).limit(1)).first()
        if last is None:
            return head is not None or events is not None
        return (head or 0) > last.seq or (events or 0) > (last.event_seq or 0)

    def checkpoint(self, run_id: int | None, reason: str, *, read_blobs: bool = False) -> Checkpoint | None:
        """Sign both chain heads, after checking what no checkpoint vouches for yet (the unsigned tail) against
        the journal, its record hashes and its blobs (read whole when read_blobs; else only seen to exist).
        A record that does not check is flagged in the event chain, so the signature covers the flag, never
        the record as vouched evidence. The signed checkpoint then goes to the witness."""
        key = self.signing_key()
        self.settle()
        accepted = self._accepted_keys()
        unreadable = blob_doubts(self.engine, self.blobs, self.store_id, accepted) if read_blobs else {}
        with Session(self.engine, expire_on_commit=False) as session:
            self._lock_chains(session)
            base = accepted_checkpoint(session, self.store_id, accepted)
            journal = (
                read_journal(self.journal.path, self.store_id, accepted, since=base.positions)
                if self.journal is not None
                else None
            )
            head = _head(session, Snapshot)
            for doubt in find_doubts(session, self.blobs, base, head[0], journal, unreadable):
                self._append_event(session, _flag(doubt))
            event_head = _head(session, Event)
            if head[0] == 0 and event_head[0] == 0:
                return None
            created = datetime.now(UTC)
            signed = key.signed(
                checkpoint_statement(
                    store=self.store_id, seq=head[0], head_hash=head[1], event_seq=event_head[0],
                    event_head=event_head[1], created_at=created, run_id=run_id, reason=reason,
                )
            )  # fmt: skip
            checkpoint = Checkpoint(
                run_id=run_id, seq=head[0], head_hash=head[1], created_at=created, reason=reason,
                public_key=signed["public_key"], signature=signed["signature"], format=signed["format"],
                store_id=self.store_id, event_seq=event_head[0], event_head=event_head[1],
            )  # fmt: skip
            session.add(checkpoint)
            session.commit()
        if self.witness is not None:
            self.witness.publish(signed)
        return checkpoint

    def _lock_chains(self, session: Session) -> None:
        """No other writer appends while the tail is checked and signed. SQLite: the writer's transaction
        already holds the write lock (BEGIN IMMEDIATE); PostgreSQL: both chain tables are locked (reads go on).
        The event table first: a parse holds it while its foreign keys reach for the snapshot table, so the
        other order could deadlock with one."""
        if self.engine.dialect.name == "postgresql":
            session.execute(sa.text("LOCK TABLE event, snapshot IN EXCLUSIVE MODE"))
        else:
            session.execute(sa.text("SELECT 1 FROM event LIMIT 1"))  # begins the (immediate) transaction

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
        kept = self._keep_captures([(run_id, capture)])[0]
        if isinstance(kept, BaseException):
            raise kept
        return kept

    async def keep(self, run_id: int, capture: Capture) -> Snapshot:
        """store() for a crawl's event loop: returns once the capture is durable, as store() does, but the
        blobs, journal and transaction are written by the store's writer thread, and captures kept at the same
        moment share one journal write, one transaction and their fsyncs (evidence.groupcommit)."""
        kept = await self._writer().submit((run_id, capture))
        assert kept is not None
        return kept

    async def keep_parse(self, observations: list[Observation], failures: list[ParseFailure]) -> None:
        """add_observations() / add_parse_failure() for a crawl's event loop: returns once the parse is durable,
        as they do, but its event, journal line and rows are written by the store's writer thread, with those of
        the parses (and captures) handed in at the same moment."""
        if observations or failures:
            await self._writer().submit(ParseResult(observations, failures))

    def _writer(self) -> GroupCommitter[tuple[int, Capture] | ParseResult, Snapshot | None]:
        if self._committer is None:
            self._committer = GroupCommitter(self._keep_many, name="evidence-writer")
        return self._committer

    def settle(self) -> None:
        """Wait until every capture and parse handed to keep() and keep_parse() is kept: before a run is closed
        or a checkpoint signed."""
        if self._committer is not None:
            self._committer.drain()

    def _keep_many(
        self, items: list[tuple[int, Capture] | ParseResult]
    ) -> list[Snapshot | BaseException | None]:
        """A batch of the writer: its captures (one transaction), then its parses (another). A parse is handed in
        only once its snapshot is kept, so it never needs a capture of its own batch."""
        captures = [item for item in items if not isinstance(item, ParseResult)]
        parses = [item for item in items if isinstance(item, ParseResult)]
        kept = iter(self._keep_captures(captures) if captures else [])
        parsed: list[BaseException | None] = [None] * len(parses)
        if parses:
            try:
                self._keep_parses(parses)
            except Exception as exc:
                parsed = [exc] * len(parses)
        parse_results = iter(parsed)
        return [next(parse_results) if isinstance(item, ParseResult) else next(kept) for item in items]

    def _keep_captures(self, captures: list[tuple[int, Capture]]) -> list[Snapshot | BaseException]:
        """Keep captures in order: each one's blobs, then all their records in one transaction. A capture whose
        blobs cannot be written fails alone; a failed transaction fails every capture of the batch."""
        results: list[Snapshot | BaseException] = []
        records: list[tuple[Snapshot, list[tuple[StoredBlob, SnapshotBlob]]]] = []
        for run_id, capture in captures:
            try:
                record = self._record_of(run_id, capture)
            except Exception as exc:
                results.append(exc)
                continue
            records.append(record)
            results.append(record[0])
        if records:
            try:
                self._append(records)
            except Exception as exc:
                return [exc if not isinstance(r, BaseException) else r for r in results]
        return results

    def _record_of(
        self, run_id: int, capture: Capture
    ) -> tuple[Snapshot, list[tuple[StoredBlob, SnapshotBlob]]]:
        """A capture's blobs, written, and its snapshot record, not yet in the chain."""
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
        return snapshot, links

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

    def _append(self, records: list[tuple[Snapshot, list[tuple[StoredBlob, SnapshotBlob]]]]) -> None:
        """Append records to the snapshot chain in one transaction, their journal lines (one write, one fsync)
        before its commit."""
        now = datetime.now(UTC)
        blob_rows = list(
            {
                s.sha256: {
                    "sha256": s.sha256,
                    "size": s.size,
                    "stored_size": s.stored_size,
                    "created_at": now,
                }
                for _, links in records
                for s, _ in links
            }.values()
        )
        for attempt in range(MAX_APPEND_ATTEMPTS):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    if blob_rows:
                        session.execute(self._insert_ignore(blob_rows))
                    seq, prev_hash = _head(session, Snapshot)
                    for snapshot, links in records:
                        snapshot.seq, snapshot.prev_hash = seq + 1, prev_hash
                        snapshot.record_hash = record_hash(snapshot, [link for _, link in links])
                        seq, prev_hash = snapshot.seq, snapshot.record_hash
                        session.add(snapshot)
                    session.flush()  # a position another writer took fails here, before the journal lines
                    for snapshot, links in records:
                        assert snapshot.id is not None
                        for _, link in links:
                            link.snapshot_id = snapshot.id
                            session.add(link)
                    session.flush()
                    if self.journal is not None:
                        self.journal.append_many(
                            SNAPSHOT_CHAIN, [(snapshot.seq, snapshot.record_hash) for snapshot, _ in records]
                        )
                    session.commit()
                    return
            except IntegrityError:
                # Another process took a chain position first (PostgreSQL); read the new head and retry.
                for snapshot, links in records:
                    snapshot.id = None
                    for _, link in links:
                        link.id = None
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
        """Observations are derived data, re-derivable from the snapshots; each parse's rows are linked to the
        event chain by one `parse` event (their digest, the snapshot's record hash, the parser's version)."""
        if rows:
            self._keep_parse(rows, [])

    def add_parse_failure(self, failure: ParseFailure) -> None:
        self._keep_parses([ParseResult([], [failure])])

    def _keep_parse(self, observations: list[Observation], failures: list[ParseFailure]) -> None:
        self._keep_parses([ParseResult(observations, failures)])

    def _keep_parses(self, parses: list[ParseResult]) -> None:
        """Parses in one transaction: one `parse` event per snapshot, probe and parser version, appended to the
        event chain together (their journal lines one write, one fsync, before the commit), then their rows."""
        groups: dict[tuple[int, str, str], tuple[list[Observation], list[ParseFailure]]] = {}
        for parse in parses:
            for row in parse.observations:
                groups.setdefault((row.snapshot_id, row.probe, row.parser_version), ([], []))[0].append(row)
            for failure in parse.failures:
                groups.setdefault((failure.snapshot_id, failure.probe, failure.parser_version), ([], []))[
                    1
                ].append(failure)
        if not groups:
            return
        digests = {key: parse_digest(found, failed) for key, (found, failed) in groups.items()}
        snapshot_ids = sorted({snapshot_id for snapshot_id, _, _ in groups})

        def keep(session: Session) -> None:
            hashes = dict(
                session.exec(
                    select(Snapshot.id, Snapshot.record_hash).where(col(Snapshot.id).in_(snapshot_ids))
                ).all()
            )
            now = datetime.now(UTC)
            events = [
                Event(seq=0, kind=PARSED, snapshot_id=snapshot_id, snapshot_hash=hashes.get(snapshot_id),
                      parser=probe, parser_version=version, content_hash=digests[snapshot_id, probe, version],
                      created_at=now, prev_hash="", record_hash="")
                for snapshot_id, probe, version in groups
            ]  # fmt: skip
            self._append_events(session, events)
            # Observations by one executemany of the table, not the ORM's unit of work: a crawl keeps tens of
            # thousands, and the ORM's bookkeeping was a third of what keeping one cost (bench/store_bench.py).
            observations = [
                {**_observation_columns(row), "event_id": event.id}
                for event, (found, _) in zip(events, groups.values(), strict=True)
                for row in found
            ]
            if observations:
                session.execute(sa.insert(OBSERVATION_TABLE), observations)
            for event, (_, failed) in zip(events, groups.values(), strict=True):
                for failure in failed:
                    failure.id, failure.event_id = None, event.id
                    session.add(failure)

        self._in_transaction(keep)

    # --- reading --------------------------------------------------------------------------------------------

    def blob_links(self, snapshot_id: int) -> list[SnapshotBlob]:
        with Session(self.engine) as session:
            return list(
                session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot_id)).all()
            )

    def body(self, snapshot_id: int, role: str = "response_body") -> bytes | None:
        link = next((b for b in self.blob_links(snapshot_id) if b.role == role), None)
        return None if link is None else self.blobs.get(link.sha256)


def read_store_id(engine: Engine) -> str:
    with Session(engine) as session:
        identity = session.exec(select(StoreIdentity.id)).first()
    if identity is None:
        raise EvidenceError("the evidence store has no identity row: it was not made by its migrations")
    return identity


def _head(session: Session, table: type[Snapshot] | type[Event]) -> tuple[int, str]:
    head = session.exec(select(table.seq, table.record_hash).order_by(col(table.seq).desc()).limit(1)).first()
    return (head[0], head[1]) if head else (0, GENESIS)


def _flag(doubt: Doubt) -> Event:
    return Event(
        seq=0,
        kind=FLAGGED,
        snapshot_id=doubt.snapshot_id,
        snapshot_hash=doubt.record_hash if doubt.snapshot_id is not None else None,
        flagged_event_seq=doubt.event_seq,
        content_hash=flag_digest(doubt.reason),
        detail=doubt.reason,
        created_at=datetime.now(UTC),
        prev_hash="",
        record_hash="",
    )


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
