"""`cchc evidence verify`: recompute every blob digest, every record hash and both chains, check that every run,
observation and parse failure is what its event says, check the signed checkpoints against the trusted keys, the
unsigned tail against the writer's journal and the chains against the witness; report every problem with its
record id (a checker that collects, after warcio's).

What it proves depends on what it is given (docs/evidence.md): without a trusted key, only that the store is
consistent with itself; with one, that the signed part is the collector's; with the witness, also that nothing
it saw signed was cut off or rewritten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.appendfile import AppendOnlyFile
from evidence.blobs import BlobStore
from evidence.errors import BlobCorrupt, BlobMissing
from evidence.journal import EVENT_CHAIN, SNAPSHOT_CHAIN, read_journal
from evidence.ledger import (
    FLAGGED,
    GENESIS,
    PARSED,
    RUN_BEGUN,
    RUN_ENDED,
    checkpoint_signed_message,
    event_hash,
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
from evidence.signing import signature_is_valid
from evidence.witness import Witness, WitnessView

BATCH = 2000
NAMED = 5  # records named in one problem line before "and N more"


@dataclass(frozen=True)
class Problem:
    record: str  # "snapshot 17 (seq 17)", "blob 3f2a…", "checkpoint 4", "observation 9", "witness line 3"
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.message}"


@dataclass
class VerifyReport:
    snapshots: int = 0
    blobs: int = 0
    checkpoints: int = 0
    events: int = 0
    runs: int = 0
    observations: int = 0
    parse_failures: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    event_seq: int = 0
    event_head: str = GENESIS
    store_id: str = ""
    unsigned_after_last_checkpoint: int = 0
    unsigned_events_after_last_checkpoint: int = 0
    trusted_keys: frozenset[str] | None = None  # None: consistency only
    signing_keys: set[str] = field(default_factory=set)  # keys that signed the checkpoints
    journal: str = ""  # what was checked against the writer's journal, for the summary
    witness: str = ""  # what was checked against the witness, for the summary
    flagged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def add(self, record: str, message: str) -> None:
        self.problems.append(Problem(record, message))


def verify(
    engine: Engine,
    blobs: BlobStore,
    trusted_public_keys: set[str] | None = None,
    *,
    witness_file: Path | None = None,
    journal_file: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Check everything; `on_step` is told each of the VERIFY_STEPS checks as it ends (the caller's progress)."""
    step = on_step or (lambda _: None)
    report = VerifyReport(
        trusted_keys=frozenset(trusted_public_keys) if trusted_public_keys is not None else None
    )
    # The files as they are before the database is read: a writer appends to them while verify runs, and a
    # journal line or a witnessed checkpoint newer than what verify reads of the database is not a cut.
    witness = Witness(witness_file) if witness_file is not None else None
    witness_end = witness.size() if witness is not None else None
    journal_end = AppendOnlyFile(journal_file).size() if journal_file is not None else None
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":  # one snapshot of the database for every query (SQLite: WAL)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report.store_id = session.exec(select(StoreIdentity.id)).first() or ""
        if not report.store_id:
            report.add(
                "store", "its identity row is missing (deleted, or the store was not made by its migrations)"
            )
        users = _blob_users(session)
        _verify_blobs(session, blobs, users, report)
        step("blobs")
        hashes = _verify_chain(session, report)
        step("snapshot chain")
        events = _verify_events(session, hashes, report)
        step("event chain")
        _verify_runs(session, events, report)
        _verify_parses(session, events, report)
        _verify_flags(events, report)
        step("runs, parses and flags")
        last = _verify_checkpoints(session, hashes, events, report)
        step("checkpoints")
        seen = witness.read(report.store_id, witness_end) if witness is not None else None
        if seen is not None:
            _verify_against_witness(session, seen, hashes, events, report)
        step("witness")
        if journal_file is not None:
            keys = set(report.trusted_keys) if report.trusted_keys is not None else set(report.signing_keys)
            if seen is not None and report.trusted_keys is None:
                keys |= seen.published_keys
            _verify_tail_against_journal(journal_file, journal_end, keys, last, hashes, events, report)
        step("journal")
    return report


VERIFY_STEPS = 7


# --- blobs and the snapshot chain -------------------------------------------------------------------------------


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
        who = _who("snapshot", users.get(blob.sha256, []))
        try:
            data = blobs.get(blob.sha256)
        except BlobMissing:
            report.add(f"blob {blob.sha256}", f"missing from the blob store{who}")
            continue
        except BlobCorrupt as exc:
            report.add(f"blob {blob.sha256}", f"{exc.args[0].split(': ', 1)[1]}{who}")
            continue
        if len(data) != blob.size:
            report.add(f"blob {blob.sha256}", f"size {len(data)} differs from the recorded {blob.size}{who}")
    for sha, snapshot_ids in users.items():
        if sha not in known:
            report.add(
                f"blob {sha}", f"named by the ledger but has no blob record{_who('snapshot', snapshot_ids)}"
            )


def _who(kind: str, ids: list[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in sorted(ids)[:NAMED])
    more = f" and {len(ids) - NAMED} more" if len(ids) > NAMED else ""
    return f" (used by {kind} {shown}{more})"


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


@dataclass
class ChainState:
    """What a chain holds, as verify found it: record hash by position, and (for snapshots) id by position."""

    hashes: dict[int, str] = field(default_factory=dict)
    ids: dict[int, int] = field(default_factory=dict)
    seq_of: dict[int, int] = field(default_factory=dict)  # id → position


def _chain_gap(name: str, seq: int, expected: int, report: VerifyReport) -> None:
    if seq != expected:
        gap = f"seq {expected}" if seq == expected + 1 else f"seq {expected}–{seq - 1}"
        report.add(name, f"chain gap: {gap} missing (records deleted)")


def _verify_chain(session: Session, report: VerifyReport) -> ChainState:
    """Recompute each record's hash and its link to the previous record."""
    state = ChainState()
    previous: Snapshot | None = None
    for snapshot, links in _snapshots_in_order(session):
        report.snapshots += 1
        name = f"snapshot {snapshot.id} (seq {snapshot.seq})"
        if record_hash(snapshot, links) != snapshot.record_hash:
            report.add(name, "record hash mismatch: its fields or blob links were changed")
        _chain_gap(name, snapshot.seq, previous.seq + 1 if previous else 1, report)
        expected_prev = previous.record_hash if previous else GENESIS
        if snapshot.prev_hash != expected_prev:
            before = f"snapshot {previous.id} (seq {previous.seq})" if previous else "the genesis"
            report.add(name, f"chain broken: prev_hash does not match the record hash of {before}")
        state.hashes[snapshot.seq] = snapshot.record_hash
        state.ids[snapshot.seq] = snapshot.id or 0
        state.seq_of[snapshot.id or 0] = snapshot.seq
        previous = snapshot
    if previous is not None:
        report.head_seq, report.head_hash = previous.seq, previous.record_hash
    return state


# --- the event chain and what its events vouch for ------------------------------------------------------------


@dataclass
class EventState:
    hashes: dict[int, str] = field(default_factory=dict)  # by position
    parses: dict[int, Event] = field(default_factory=dict)  # by id
    run_begun: dict[int, Event] = field(default_factory=dict)  # by run id
    run_ended: dict[int, Event] = field(default_factory=dict)  # by run id, the latest
    flags: list[Event] = field(default_factory=list)
    by_upgrade: set[int] = field(default_factory=set)  # positions


def _verify_events(session: Session, snapshots: ChainState, report: VerifyReport) -> EventState:
    state = EventState()
    previous: Event | None = None
    collector_wrote = False  # an event the collector wrote was seen: upgrade-linked ones must come before
    last = -(2**31)
    while batch := session.exec(
        select(Event).where(Event.seq > last).order_by(col(Event.seq)).limit(BATCH)
    ).all():
        for event in batch:
            report.events += 1
            name = f"event {event.id} (seq {event.seq}, {event.kind})"
            if event_hash(event) != event.record_hash:
                report.add(name, "record hash mismatch: the event was changed")
            _chain_gap(name, event.seq, previous.seq + 1 if previous else 1, report)
            if event.prev_hash != (previous.record_hash if previous else GENESIS):
                report.add(
                    name, "chain broken: prev_hash does not match the record hash of the event before it"
                )
            if event.by_upgrade:
                state.by_upgrade.add(event.seq)
                if collector_wrote:
                    report.add(
                        name, "marked as linked by the upgrade, yet it follows events the collector wrote"
                    )
            else:
                collector_wrote = True
            _file_event(event, name, snapshots, state, report)
            state.hashes[event.seq] = event.record_hash
            previous = event
        last = batch[-1].seq
    if previous is not None:
        report.event_seq, report.event_head = previous.seq, previous.record_hash
    return state


def _file_event(
    event: Event, name: str, snapshots: ChainState, state: EventState, report: VerifyReport
) -> None:
    if event.kind == PARSED:
        state.parses[event.id or 0] = event
    elif event.kind == RUN_BEGUN and event.run_id is not None:
        state.run_begun[event.run_id] = event
    elif event.kind == RUN_ENDED and event.run_id is not None:
        state.run_ended[event.run_id] = event
    elif event.kind == FLAGGED:
        state.flags.append(event)
    else:
        report.add(name, f"unknown kind of event {event.kind!r}")
    if event.snapshot_id is not None and event.snapshot_hash is not None and event.kind == PARSED:
        seq = snapshots.seq_of.get(event.snapshot_id)
        if seq is None:
            report.add(name, f"names snapshot {event.snapshot_id}, which is not in the ledger (deleted)")
        elif snapshots.hashes[seq] != event.snapshot_hash:
            report.add(name, f"was linked to another record hash of snapshot {event.snapshot_id} (seq {seq})")


def _verify_runs(session: Session, events: EventState, report: VerifyReport) -> None:
    seen: set[int] = set()
    for run in session.exec(select(Run).order_by(col(Run.id))).all():
        report.runs += 1
        run_id = run.id or 0
        seen.add(run_id)
        name = f"run {run_id}"
        begun = events.run_begun.get(run_id)
        if begun is None:
            report.add(name, "is in no event: it was added outside the collector")
            continue
        if run_begin_digest(run) != begun.content_hash:
            report.add(
                name,
                f"differs from how it began (event {begun.id}): its trigger, surprise flag, probes, units, start, "
                "host or pid were changed",
            )
        ended = events.run_ended.get(run_id)
        if ended is None:
            if run.status != "running" or run.finished_at is not None or run.counts:
                report.add(name, f"says {run.status}, but its end was never recorded: changed")
        elif run_end_digest(run) != ended.content_hash:
            report.add(
                name,
                f"differs from how it ended (event {ended.id}): its status, finish, counts or note were changed",
            )
    for run_id in sorted((set(events.run_begun) | set(events.run_ended)) - seen):
        report.add(f"run {run_id}", "is named by the event chain but no longer exists (deleted)")


def _verify_parses(session: Session, events: EventState, report: VerifyReport) -> None:
    """Every observation and parse failure belongs to one parse event, and each event's rows are what it says."""
    for table, kind in (("observation", "observation"), ("parse_failure", "parse failure")):
        orphans = (
            session.execute(
                sa.text(
                    f"SELECT id FROM {table} WHERE event_id IS NULL "
                    f"OR event_id NOT IN (SELECT id FROM event WHERE kind = '{PARSED}') ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
        if orphans:
            report.add(
                f"{kind} {_ids(list(orphans))}",
                "in no parse event: added outside the collector, or its event deleted",
            )
    ids = sorted(events.parses)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        found: dict[int, list[Observation]] = defaultdict(list)
        failed: dict[int, list[ParseFailure]] = defaultdict(list)
        for observation in session.exec(
            select(Observation).where(col(Observation.event_id).in_(chunk))
        ).all():
            report.observations += 1
            found[observation.event_id or 0].append(observation)
        for failure in session.exec(select(ParseFailure).where(col(ParseFailure.event_id).in_(chunk))).all():
            report.parse_failures += 1
            failed[failure.event_id or 0].append(failure)
        for event_id in chunk:
            event = events.parses[event_id]
            if parse_digest(found[event_id], failed[event_id]) != event.content_hash:
                rows = [f"observation {i}" for i in sorted(o.id or 0 for o in found[event_id])]
                rows += [f"parse failure {i}" for i in sorted(f.id or 0 for f in failed[event_id])]
                what = ", ".join(rows[:NAMED]) + (
                    f" and {len(rows) - NAMED} more" if len(rows) > NAMED else ""
                )
                report.add(
                    f"event {event_id} (parse of snapshot {event.snapshot_id} by {event.parser} {event.parser_version})",
                    f"its rows differ from what the parser found: a value, period, unit or text was changed, or a row "
                    f"added or deleted ({what or 'no rows left'})",
                )
        session.expunge_all()


def _ids(ids: list[int] | list[int | None]) -> str:
    shown = ", ".join(str(i) for i in sorted(i for i in ids if i is not None)[:NAMED])
    return shown + (f" and {len(ids) - NAMED} more" if len(ids) > NAMED else "")


def _verify_flags(events: EventState, report: VerifyReport) -> None:
    for flag in events.flags:
        report.flagged += 1
        if flag.snapshot_id is not None:
            record = f"snapshot {flag.snapshot_id}"
        else:
            record = f"event seq {flag.flagged_event_seq}"
        report.add(
            record,
            f"flagged when {flag.created_at:%Y-%m-%d %H:%M} UTC, not vouched for by the collector: {flag.detail}",
        )


# --- signatures ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """Where the newest checkpoint that verifies stands (the unsigned tail begins after it)."""

    seq: int = 0
    event_seq: int = 0


def _verify_checkpoints(
    session: Session, snapshots: ChainState, events: EventState, report: VerifyReport
) -> Signed:
    last = Signed(0, max(events.by_upgrade, default=0))
    trusted = report.trusted_keys
    for checkpoint in session.exec(select(Checkpoint).order_by(col(Checkpoint.id))).all():
        report.checkpoints += 1
        name = f"checkpoint {checkpoint.id} (seq {checkpoint.seq})"
        report.signing_keys.add(checkpoint.public_key)
        good = True
        if trusted is not None and checkpoint.public_key not in trusted:
            report.add(name, f"signed by an untrusted key {checkpoint.public_key[:16]}…")
            good = False
        if not signature_is_valid(
            checkpoint.public_key, checkpoint_signed_message(checkpoint), checkpoint.signature
        ):
            report.add(name, "signature does not verify: the checkpoint was altered")
            good = False
        if checkpoint.format >= 2 and checkpoint.store_id != report.store_id:
            report.add(name, f"signed for another store ({checkpoint.store_id}): copied from elsewhere")
            good = False
        good = (
            _head_matches(name, "snapshot", checkpoint.seq, checkpoint.head_hash, snapshots.hashes, report)
            and good
        )
        if checkpoint.format >= 2 and checkpoint.event_seq is not None:
            good = (
                _head_matches(
                    name, "event", checkpoint.event_seq, checkpoint.event_head or "", events.hashes, report
                )
                and good
            )
            if good and checkpoint.seq >= last.seq:
                last = Signed(checkpoint.seq, max(checkpoint.event_seq, last.event_seq))
        elif good and checkpoint.seq >= last.seq:
            last = Signed(checkpoint.seq, last.event_seq)
    report.unsigned_after_last_checkpoint = max(0, report.head_seq - last.seq)
    report.unsigned_events_after_last_checkpoint = max(0, report.event_seq - last.event_seq)
    return last


def _head_matches(
    name: str, chain: str, seq: int, head: str, hashes: dict[int, str], report: VerifyReport
) -> bool:
    if seq == 0:
        if head == GENESIS:
            return True
        report.add(name, f"signed a {chain} head at seq 0 that is not the genesis")
        return False
    stored = hashes.get(seq)
    if stored is None:
        report.add(name, f"signed a {chain} chain head at seq {seq} that no longer exists (truncated)")
        return False
    if stored != head:
        report.add(
            name, f"signed {chain} head hash differs from the record at seq {seq}: history was rewritten"
        )
        return False
    return True


# --- the witness and the journal --------------------------------------------------------------------------------


def _verify_against_witness(
    session: Session, witness: WitnessView, snapshots: ChainState, events: EventState, report: VerifyReport
) -> None:
    for number, problem in witness.unreadable:
        report.add(f"witness {witness.path} line {number}", problem)
    if not witness.exists:
        report.witness = f"no witness at {witness.path}: a cut-off tail or a rewrite re-signed with another key cannot be seen"
        return
    if not witness.keys and not witness.checkpoints:
        others = f" (it holds {len(witness.other_stores)} other stores)" if witness.other_stores else ""
        report.witness = (
            f"the witness {witness.path} has nothing of store {report.store_id}{others}: not checked"
        )
        return
    trusted = report.trusted_keys
    for entry in witness.keys:
        key = str(entry.value["public_key"])
        where = f"witness line {entry.line}"
        if not entry.signature_valid:
            report.add(where, "a published key whose signature does not verify")
        elif trusted is not None and key not in trusted:
            report.add(
                where,
                f"publishes key {key[:16]}… for this store, which is not trusted: the signing key was replaced",
            )
    published = witness.published_keys
    for key in sorted(report.signing_keys - published):
        report.add(
            "checkpoints",
            f"signed by key {key[:16]}…, which the witness never published: re-signed with another key",
        )
    stored = {row.signature: row for row in session.exec(select(Checkpoint))}
    last_seq = last_event_seq = 0
    for entry in witness.checkpoints:
        value = entry.value
        where = f"witness line {entry.line}"
        seq, event_seq = value.get("seq"), value.get("event_seq")
        if not entry.signature_valid or not isinstance(seq, int) or not isinstance(event_seq, int):
            report.add(where, "a witnessed checkpoint whose signature does not verify")
            continue
        if trusted is not None and value["public_key"] not in trusted:
            report.add(
                where, f"a witnessed checkpoint signed by an untrusted key {str(value['public_key'])[:16]}…"
            )
        if value["signature"] not in stored:
            report.add(
                where,
                f"the checkpoint witnessed at seq {seq} ({value.get('created_at')}) is missing from the database (deleted)",
            )
        _witnessed_head(
            where, "snapshot", seq, value.get("head_hash"), snapshots.hashes, report.head_seq, report
        )
        _witnessed_head(
            where, "event", event_seq, value.get("event_head"), events.hashes, report.event_seq, report
        )
        last_seq, last_event_seq = max(last_seq, seq), max(last_event_seq, event_seq)
    newer = sum(1 for row in stored.values() if row.store_id == report.store_id) - len(witness.checkpoints)
    report.witness = (
        f"witness {witness.path}: {len(witness.checkpoints)} checkpoints, the last at seq {last_seq} "
        f"(events {last_event_seq})" + (f"; {newer} checkpoints not in it" if newer > 0 else "")
    )


def _witnessed_head(
    where: str,
    chain: str,
    seq: int,
    head: object,
    hashes: dict[int, str],
    chain_head: int,
    report: VerifyReport,
) -> None:
    if seq == 0:
        return
    stored = hashes.get(seq)
    if stored is None and seq > chain_head:
        report.add(
            where,
            f"the witness saw the {chain} chain reach seq {seq}; it now ends at seq {chain_head}: truncated",
        )
    elif stored is None:
        report.add(where, f"the {chain} record at witnessed seq {seq} is gone (deleted)")
    elif stored != head:
        report.add(
            where,
            f"the {chain} record at witnessed seq {seq} differs from the witnessed head: history was rewritten",
        )


def _verify_tail_against_journal(
    path: Path,
    end: int | None,
    keys: set[str],
    last: Signed,
    snapshots: ChainState,
    events: EventState,
    report: VerifyReport,
) -> None:
    if not path.exists():
        report.journal = f"no journal at {path}: the unsigned tail was not checked against it"
        return
    if not keys:
        report.journal = "no key to check the journal's signatures with: the unsigned tail was not checked"
        return
    since = {SNAPSHOT_CHAIN: last.seq, EVENT_CHAIN: last.event_seq}
    journal = read_journal(
        path, report.store_id, keys, since=since
    )  # every line: a record just committed too
    before = read_journal(path, report.store_id, keys, since=since, end=end)  # as it was when verify began
    checked = 0
    for chain, hashes, after in (
        (SNAPSHOT_CHAIN, snapshots.hashes, last.seq),
        (EVENT_CHAIN, events.hashes, last.event_seq),
    ):
        head = report.head_seq if chain == SNAPSHOT_CHAIN else report.event_seq
        for seq in range(after + 1, head + 1):
            if seq not in hashes or (chain == EVENT_CHAIN and seq in events.by_upgrade):
                continue
            checked += 1
            if not journal.vouches(chain, seq, hashes[seq]):
                record = (
                    f"snapshot {snapshots.ids[seq]} (seq {seq})"
                    if chain == SNAPSHOT_CHAIN
                    else f"event seq {seq}"
                )
                said = (
                    "differs from what the writer journaled"
                    if journal.hashes.get((chain, seq))
                    else "has no signed line in the writer's journal"
                )
                report.add(record, f"unsigned, and {said}: written or rewritten outside the collector")
        # A killed writer may leave one line, or one group commit's lines, ahead of the database (never
        # committed); more is a cut.
        highest = before.highest.get(chain, 0)
        if not before.ahead_in_flight(chain, head, hashes):
            report.add(
                f"{chain} chain",
                f"the writer journaled records up to seq {highest}; the chain ends at seq {head}: its tail was cut off",
            )
    report.journal = f"journal {path}: {checked} unsigned records checked"
    if journal.unsigned:
        report.add(
            f"journal {path}", f"{journal.unsigned} lines of the unsigned tail are not signed by a known key"
        )
