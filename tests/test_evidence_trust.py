"""Tampering that recomputes every hash, cuts the tail or rewrites what a crash left unsigned: on SQLite and
PostgreSQL, with real files (key, journal, witness) and real crawls of the simulation, `verify` names each one
given the trusted key and the witness.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from probe_helpers import pointed, run_probes
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from cchc.settings import Settings
from cli_process import Forked, start_module
from conftest import REPO
from evidence import EvidenceStore, Observation, Snapshot, SnapshotBlob
from evidence.blobs import LocalBlobStore
from evidence.db import create_engine, open_database
from evidence.ledger import GENESIS, checkpoint_statement, event_hash, record_hash
from evidence.models import Checkpoint, Event
from evidence.signing import CollectorKey
from evidence.verify import VerifyReport, verify
from probes import PROBES
from probes._recheck import recheck
from probes.news import VERSION as NEWS_PARSER_VERSION
from sim import Simulation


@dataclass
class Collected:
    """A store a collector filled, and the files beside it: the key, the journal and the witness."""

    url: str
    folder: Path

    @property
    def blobs(self) -> Path:
        return self.folder / "blobs"

    @property
    def key(self) -> Path:
        return self.folder / "home" / "config" / "collector.ed25519"

    @property
    def journal(self) -> Path:
        return self.folder / "journal.jsonl"

    @property
    def witness(self) -> Path:
        return self.folder / "home" / "data" / "witness.jsonl"

    def open(self) -> EvidenceStore:
        return EvidenceStore.open(
            self.url, self.blobs, self.key, journal_file=self.journal, witness_file=self.witness
        )

    @property
    def public_key(self) -> str:
        return CollectorKey.load(self.key).public_hex

    def verify(
        self, trusted: set[str] | None = None, *, witness: bool = True, journal: bool = True
    ) -> VerifyReport:
        engine = open_database(self.url)
        try:
            return verify(
                engine,
                LocalBlobStore(self.blobs, durable=False),
                trusted,
                witness_file=self.witness if witness else None,
                journal_file=self.journal if journal else None,
            )
        finally:
            engine.dispose()


def problems(report: VerifyReport) -> list[str]:
    return [str(p) for p in report.problems]


@pytest.fixture
def collected(database_url: str, tmp_path: Path, settings: Settings, simulation: Simulation) -> Collected:
    """Two runs of real probes over one ward's portal: news, then availability; each run signed and witnessed."""
    filled = Collected(database_url, tmp_path)
    store = filled.open()
    try:
        aimed = pointed(settings, simulation)
        run_probes(aimed, store, ["news"], ["phuong-1"])
        run_probes(aimed, store, ["availability"], ["phuong-1"])
    finally:
        store.close()
    assert filled.verify({filled.public_key}).clean
    return filled


def lift_guards(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for name in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='trigger'"
        ).scalars():
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
    else:
        connection.exec_driver_sql("SET session_replication_role = replica")  # no user trigger fires
    connection.commit()


@pytest.fixture
def attacker(collected: Collected) -> Iterator[Connection]:
    """Someone with write access to the database: a connection with the append-only guards lifted; what it
    changes counts once it commits."""
    engine = create_engine(collected.url)
    with engine.connect() as connection:
        lift_guards(connection)
        yield connection
    engine.dispose()


def rechain(connection: Connection, key: CollectorKey | None = None) -> None:
    """Recompute every snapshot and event hash after an edit, so both chains are consistent again, and re-sign
    every checkpoint with `key` when given: a full rewrite."""
    with Session(bind=connection) as session:
        previous, new_hash = GENESIS, {}
        for snapshot in session.exec(select(Snapshot).order_by(col(Snapshot.seq))).all():
            links = session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot.id)).all()
            snapshot.prev_hash = previous
            snapshot.record_hash = previous = record_hash(snapshot, list(links))
            new_hash[snapshot.id] = snapshot.record_hash
            session.add(snapshot)
        previous = GENESIS
        for event in session.exec(select(Event).order_by(col(Event.seq))).all():
            if event.snapshot_id is not None and event.kind == "parse":
                event.snapshot_hash = new_hash[event.snapshot_id]
            event.prev_hash = previous
            event.record_hash = previous = event_hash(event)
            session.add(event)
        session.flush()
        if key is not None:
            for checkpoint in session.exec(select(Checkpoint)).all():
                checkpoint.head_hash = session.exec(
                    select(Snapshot.record_hash).where(Snapshot.seq == checkpoint.seq)
                ).one()
                checkpoint.event_head = session.exec(
                    select(Event.record_hash).where(Event.seq == checkpoint.event_seq)
                ).one()
                signed = key.signed(
                    checkpoint_statement(
                        store=checkpoint.store_id or "", seq=checkpoint.seq, head_hash=checkpoint.head_hash,
                        event_seq=checkpoint.event_seq or 0, event_head=checkpoint.event_head,
                        created_at=checkpoint.created_at, run_id=checkpoint.run_id, reason=checkpoint.reason,
                    )
                )  # fmt: skip
                checkpoint.public_key, checkpoint.signature = signed["public_key"], signed["signature"]
                session.add(checkpoint)
        session.commit()


def test_a_full_rewrite_resigned_with_a_new_key_and_the_key_file_replaced_is_named(
    collected: Collected, attacker: Connection
) -> None:
    published = collected.public_key
    attacker.exec_driver_sql("UPDATE snapshot SET detail = 'rewritten' WHERE seq = 2")
    forger = CollectorKey.load_or_create(collected.folder / "forger.pem")
    rechain(attacker, forger)
    attacker.commit()
    collected.key.write_bytes((collected.folder / "forger.pem").read_bytes())  # the key file replaced
    assert collected.verify(witness=False, journal=False).clean  # consistent with itself: why a key is needed

    found = problems(collected.verify({published}))
    assert any(p.startswith("checkpoint 1 (seq ") and "signed by an untrusted key" in p for p in found)
    assert any(p.startswith("checkpoint 2 (seq ") and "signed by an untrusted key" in p for p in found)
    assert any(
        p.startswith("checkpoints: signed by key") and "which the witness never published" in p for p in found
    )
    assert any("differs from the witnessed head: history was rewritten" in p for p in found)
    assert any("is missing from the database (deleted)" in p for p in found)

    collected.open().close()  # the next crawl with the replaced key publishes it to the witness
    found = problems(collected.verify({published}))
    assert any("publishes key" in p and "not trusted: the signing key was replaced" in p for p in found)

    # Without the trusted key, the witness alone still sees the rewrite.
    alone = problems(collected.verify(None))
    assert any("differs from the witnessed head: history was rewritten" in p for p in alone)


def last_run_id(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.exec_driver_sql("SELECT max(id) FROM run").scalar_one()
    engine.dispose()
    return int(value)


def cut_is_one_last_batch(collected: Collected, first: int, last: int) -> bool:
    """Whether the cut snapshots [first, last] were journaled as one batch (committed whole or not at all)."""
    for line in collected.journal.read_text(encoding="utf-8").splitlines():
        value = json.loads(line)
        if value.get("seq") == first and value.get("chain") == "snapshot":
            batch = value.get("batch")
            return bool(batch) and batch[0] == first and batch[1] >= last
    return False


def cut_last_run(connection: Connection, run_id: int) -> None:
    """Delete a run and everything it left: its snapshots, their blob links, its events and derived rows, and
    its checkpoint. The chains stay consistent: the cut is at the end."""
    snapshots = f"SELECT id FROM snapshot WHERE run_id = {run_id}"
    parses = f"SELECT id FROM event WHERE snapshot_id IN ({snapshots})"
    for statement in (
        f"DELETE FROM observation WHERE event_id IN ({parses})",
        f"DELETE FROM parse_failure WHERE event_id IN ({parses})",
        f"DELETE FROM checkpoint WHERE run_id = {run_id}",
        f"DELETE FROM event WHERE id IN ({parses}) OR run_id = {run_id}",
        f"DELETE FROM snapshot_blob WHERE snapshot_id IN ({snapshots})",
        f"DELETE FROM snapshot WHERE run_id = {run_id}",
        f"DELETE FROM run WHERE id = {run_id}",
    ):
        connection.exec_driver_sql(statement)


def test_a_cut_off_tail_is_named_by_the_witness_and_the_journal(
    collected: Collected, attacker: Connection
) -> None:
    before = collected.verify({collected.public_key})
    cut_last_run(attacker, last_run_id(collected.url))
    attacker.commit()
    after = collected.verify({collected.public_key})
    assert after.head_seq < before.head_seq
    found = problems(after)
    assert any(
        f"the witness saw the snapshot chain reach seq {before.head_seq}; it now ends at seq {after.head_seq}: truncated"
        in p
        for p in found
    ), found
    assert any("is missing from the database (deleted)" in p for p in found)
    # The journal names the cut too, unless the run was kept in one group commit: a cut of exactly the last batch
    # is the witness's to see (docs/evidence.md, "Group commit"), and the witness named it above.
    journaled = [p for p in found if p.startswith("snapshot chain: the writer journaled records up to seq")]
    assert journaled or cut_is_one_last_batch(collected, after.head_seq + 1, before.head_seq), found
    # Nothing inside the database remembers the cut: without the witness and the journal it verifies.
    assert collected.verify({collected.public_key}, witness=False, journal=False).clean


GUARDED = ("snapshot", "snapshot_blob", "blob", "checkpoint", "event", "store_identity", "observation",
           "parse_failure", "run")  # fmt: skip


def test_emptying_any_evidence_table_is_refused(collected: Collected) -> None:
    """PostgreSQL's TRUNCATE fires no row trigger: a statement trigger refuses it. SQLite has no TRUNCATE; its
    DELETE without WHERE (the truncate optimisation) fires the row triggers."""
    engine = create_engine(collected.url)
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        counts = {t: connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in GUARDED}
    for table in GUARDED:
        if not postgresql and not counts[table]:
            continue  # no row, no row trigger, nothing deleted
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {table} CASCADE" if postgresql else f"DELETE FROM {table}")
    with engine.connect() as connection:
        assert {
            t: connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in GUARDED
        } == counts
    engine.dispose()
    assert collected.verify({collected.public_key}).clean


def test_truncate_with_the_guards_lifted_is_named(collected: Collected, attacker: Connection) -> None:
    before = collected.verify({collected.public_key})
    if attacker.dialect.name == "postgresql":
        attacker.exec_driver_sql(f"TRUNCATE {', '.join(t for t in GUARDED if t != 'store_identity')} CASCADE")
    else:
        for table in (
            "observation",
            "parse_failure",
            "checkpoint",
            "event",
            "snapshot_blob",
            "snapshot",
            "blob",
            "run",
        ):
            attacker.exec_driver_sql(f"DELETE FROM {table}")
    attacker.commit()
    found = problems(collected.verify({collected.public_key}))
    assert (
        f"the witness saw the snapshot chain reach seq {before.head_seq}; it now ends at seq 0: truncated"
        in " ".join(found)
    )
    assert (
        f"the witness saw the event chain reach seq {before.event_seq}; it now ends at seq 0: truncated"
        in " ".join(found)
    )


def test_an_edited_observation_is_named(collected: Collected, attacker: Connection) -> None:
    observation = attacker.exec_driver_sql("SELECT id, event_id FROM observation ORDER BY id LIMIT 1").one()
    attacker.exec_driver_sql(f"UPDATE observation SET value = 0 WHERE id = {observation.id}")
    attacker.commit()
    found = collected.verify({collected.public_key}).problems
    assert len(found) == 1 and found[0].record.startswith(f"event {observation.event_id} (parse of snapshot ")
    assert "its rows differ from what the parser found" in found[0].message
    assert f"observation {observation.id}" in found[0].message


def test_a_run_relabelled_as_a_surprise_visit_is_named(collected: Collected, attacker: Connection) -> None:
    attacker.exec_driver_sql("UPDATE run SET surprise = true, \"trigger\" = 'surprise' WHERE id = 1")
    attacker.commit()
    found = collected.verify({collected.public_key}).problems
    assert [(p.record, "surprise flag" in p.message) for p in found] == [("run 1", True)]


def test_an_observation_rewritten_with_its_event_and_both_chains_is_still_named(
    collected: Collected, attacker: Connection, settings: Settings, simulation: Simulation
) -> None:
    """The attacker rewrites the observation, its parse event's digest and both chains: the signed event head
    no longer matches, and `verify --deep` (today's parser reading the stored page again) names the snapshot."""
    from evidence.ledger import parse_digest

    row = attacker.exec_driver_sql(
        "SELECT id, event_id, snapshot_id FROM observation ORDER BY id LIMIT 1"
    ).one()
    attacker.exec_driver_sql(f"UPDATE observation SET value = 0 WHERE id = {row.id}")
    with Session(bind=attacker) as session:
        event = session.exec(select(Event).where(Event.id == row.event_id)).one()
        event.content_hash = parse_digest(
            session.exec(select(Observation).where(Observation.event_id == event.id)).all(), []
        )
        session.add(event)
        session.commit()
    rechain(attacker)
    attacker.commit()
    found = problems(collected.verify({collected.public_key}))
    assert any("signed event head hash differs" in p for p in found)

    store = EvidenceStore.reader(collected.url, collected.blobs)
    try:
        deep = recheck(pointed(settings, simulation), store, list(PROBES.values()))
    finally:
        store.close()
    assert deep.compared > 0
    assert [record for record, _ in deep.differences] == [
        f"snapshot {row.snapshot_id} (news parser {NEWS_PARSER_VERSION})"
    ]
    assert "stored but not found again" in deep.differences[0][1]


def test_deep_verify_is_clean_on_an_untouched_crawl(
    collected: Collected, settings: Settings, simulation: Simulation
) -> None:
    store = EvidenceStore.reader(collected.url, collected.blobs)
    try:
        deep = recheck(pointed(settings, simulation), store, list(PROBES.values()))
    finally:
        store.close()
    assert deep.compared > 10 and deep.differences == []


# --- what a crash leaves unsigned -----------------------------------------------------------------------------


def unsigned_tail(url: str) -> list[tuple[int, int]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        signed = connection.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM checkpoint").scalar_one()
        rows = connection.exec_driver_sql(
            f"SELECT id, seq FROM snapshot WHERE seq > {signed} ORDER BY seq"
        ).all()
    engine.dispose()
    return [(i, s) for i, s in rows]


def crawling(url: str, folder: Path, simulation: Simulation, *extra: str) -> Forked:
    """A real crawl process that runs crawls of 40 captures, one after the other, until it is killed; returned
    once its store is open."""
    urls = [simulation.url(site) + f"/vi/news/tin-tuc-su-kien/page-{n}/" for n in range(1, 9)
            for site in ("phuong-1", "phuong-2", "phuong-3", "phuong-4", "xa-tan-binh")]  # fmt: skip
    (folder / "targets.json").write_text(json.dumps(urls))
    files = [str(folder / "blobs"), str(folder / "key.pem"), str(folder / "targets.json")]
    # Forked warm (tests/cli_process.py); it prints "open" once its store is open.
    return start_module("_crash_worker", [url, *files, *extra], cwd=REPO, ready="open\n")


def killed_with_an_unsigned_tail(url: str, folder: Path, simulation: Simulation) -> None:
    """A real crawl process killed with SIGKILL once a run is signed and the next has stored a few captures (a
    run has 40: the kill lands well inside one, after its third capture and before its checkpoint). The store's
    group commit is fast enough for a run to be signed between the check and the kill: then the crawl goes on in
    a new process and is killed again, until the kill lands where this test needs it: inside an open run."""
    for _ in range(5):
        # Killed (SIGKILL) as the block ends, however it ends.
        with crawling(url, folder, simulation) as worker:
            deadline = time.monotonic() + 120
            while not (has_checkpoint(url) and len(unsigned_tail(url)) >= 3 and last_run_open(url)):
                assert worker.poll() is None, worker.stderr()
                assert time.monotonic() < deadline, "the worker never left three unsigned captures"
                time.sleep(0.05)
        if len(unsigned_tail(url)) >= 3 and last_run_open(url):
            return
        # The next start closes what the kill left open.
        store = EvidenceStore.open(url, folder / "blobs", folder / "key.pem")
        try:
            store.recover_interrupted()
        finally:
            store.close()
    raise AssertionError("five crawls in a row signed or closed their run before the kill landed")


def last_run_open(url: str) -> bool:
    """Whether the kill left the last run open: it can also land after a run is closed and before its checkpoint
    is signed (two transactions), which leaves an unsigned tail and nothing for the recovery to close."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            status = connection.exec_driver_sql("SELECT status FROM run ORDER BY id DESC LIMIT 1").scalar()
    finally:
        engine.dispose()
    return status == "running"


def has_checkpoint(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.exec_driver_sql("SELECT count(*) FROM checkpoint").scalar_one())
    except sa.exc.DBAPIError:
        return False  # the schema is still being made
    finally:
        engine.dispose()


def test_a_rewritten_unsigned_tail_is_named_before_recovery_and_flagged_not_signed_by_it(
    database_url: str, tmp_path: Path, simulation: Simulation
) -> None:
    killed_with_an_unsigned_tail(database_url, tmp_path, simulation)
    tail = unsigned_tail(database_url)
    assert len(tail) >= 3, tail
    victim_id, victim_seq = tail[1]
    engine = create_engine(database_url)
    with engine.connect() as connection:
        lift_guards(connection)
        connection.exec_driver_sql(f"UPDATE snapshot SET status_code = 404 WHERE id = {victim_id}")
        rechain(connection)  # consistent again: only the journal knows what the writer wrote
        connection.commit()
    engine.dispose()
    rewritten = {i for i, s in tail if s >= victim_seq}

    def report() -> VerifyReport:
        engine = open_database(database_url)
        try:
            return verify(engine, LocalBlobStore(tmp_path / "blobs", durable=False), {CollectorKey.load(tmp_path / "key.pem").public_hex},
                          journal_file=tmp_path / "journal.jsonl")  # fmt: skip
        finally:
            engine.dispose()

    before = problems(report())
    assert sorted(before) == sorted(
        f"snapshot {i} (seq {s}): unsigned, and differs from what the writer journaled: written or rewritten outside "
        "the collector"
        for i, s in tail
        if i in rewritten
    )

    store = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "key.pem")  # the next start
    try:
        recovered = store.recover_interrupted()
        assert [r.status for r in recovered] == ["interrupted"]
        with Session(store.engine) as session:
            flags = session.exec(select(Event).where(Event.kind == "flag")).all()
            recovery = session.exec(select(Checkpoint).order_by(col(Checkpoint.id).desc())).first()
    finally:
        store.close()
    assert {f.snapshot_id for f in flags} == rewritten
    assert recovery is not None and recovery.reason == "recovery"
    assert recovery.event_seq is not None and recovery.event_seq >= max(
        f.seq for f in flags
    )  # the flags are signed

    after = report().problems
    assert {p.record for p in after} == {f"snapshot {i}" for i in rewritten}
    assert all(
        "not vouched for by the collector: it differs from what the writer journaled" in p.message
        for p in after
    )


def test_verify_while_a_crawl_writes_sees_no_cut_and_no_stranger(
    database_url: str, tmp_path: Path, simulation: Simulation
) -> None:
    """The journal and the witness grow while verify reads the database: what they hold beyond the moment verify
    began is not taken for a cut tail, and every record verify reads has its journal line."""
    witness = tmp_path / "witness.jsonl"
    reports: list[VerifyReport] = []
    # Killed (SIGKILL) as the block ends.
    with crawling(database_url, tmp_path, simulation, "--witness", str(witness)) as worker:
        while len(reports) < 8:
            assert worker.poll() is None, worker.stderr()
            if not has_checkpoint(database_url):
                time.sleep(0.05)
                continue
            engine = open_database(database_url)
            key = CollectorKey.load(tmp_path / "key.pem").public_hex
            reports.append(verify(engine, LocalBlobStore(tmp_path / "blobs", durable=False), {key},
                                  witness_file=witness, journal_file=tmp_path / "journal.jsonl"))  # fmt: skip
            engine.dispose()
    assert [problems(r) for r in reports] == [[]] * len(reports)
    assert reports[-1].head_seq > reports[0].head_seq  # the crawl went on while verify read


def test_recovery_signs_an_honest_unsigned_tail(
    database_url: str, tmp_path: Path, simulation: Simulation
) -> None:
    killed_with_an_unsigned_tail(database_url, tmp_path, simulation)
    store = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "key.pem")
    try:
        assert store.recover_interrupted()
        key = CollectorKey.load(tmp_path / "key.pem").public_hex
        report = verify(store.engine, store.blobs, {key}, journal_file=tmp_path / "journal.jsonl")
    finally:
        store.close()
    assert report.clean, report.problems
    assert report.unsigned_after_last_checkpoint == 0 and report.flagged == 0


# --- the key's home, the witness's format -------------------------------------------------------------------


def test_the_witness_is_checkable_offline_with_the_public_key_alone(collected: Collected) -> None:
    """Each line's signature covers the canonical JSON of the line without `signature` and `public_key`."""
    lines = [json.loads(line) for line in collected.witness.read_text(encoding="utf-8").splitlines()]
    assert [line["type"] for line in lines] == ["key", "checkpoint", "checkpoint"]
    for line in lines:
        message = {k: v for k, v in line.items() if k not in ("signature", "public_key")}
        canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(collected.public_key)).verify(
            bytes.fromhex(line["signature"]), canonical
        )
    head = collected.verify({collected.public_key})
    assert (lines[-1]["seq"], lines[-1]["head_hash"]) == (head.head_seq, head.head_hash)
    assert (lines[-1]["event_seq"], lines[-1]["event_head"]) == (head.event_seq, head.event_head)


def test_the_key_is_made_outside_the_evidence_folder_with_mode_0600(
    settings: Settings, tmp_path: Path
) -> None:
    from probe_helpers import stored_in

    from cli.wiring import open_store

    home = Path(os.environ["XDG_CONFIG_HOME"]) / "cchc"
    assert settings.collector.key_file == home / "collector.ed25519"
    assert settings.trust_warnings() == []
    aimed = stored_in(settings, tmp_path).model_copy(
        update={
            "collector": settings.collector.model_copy(
                update={"key_file": tmp_path / "own" / "collector.ed25519"}
            )
        }
    )
    open_store(aimed).close()
    key = tmp_path / "own" / "collector.ed25519"
    assert key.stat().st_mode & 0o777 == 0o600 and key.parent.stat().st_mode & 0o777 == 0o700


def test_a_key_left_in_data_is_still_used_with_a_warning_that_says_how_to_move_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cchc.settings import load_settings
    from cli.wiring import open_store
    from conftest import CONFIG

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "new-home"))  # no key in its new home yet
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    old = tmp_path / "data" / "collector.ed25519"
    public = CollectorKey.load_or_create(old).public_hex
    settings = load_settings(config, environ={})
    assert settings.collector.key_file == old
    [warning] = settings.trust_warnings()
    assert f"the signing key {old} is inside the evidence folder" in warning and f"mv {old} " in warning
    with caplog.at_level("WARNING"):
        store = open_store(settings)
    assert store.key is not None and store.key.public_hex == public
    store.close()
    assert warning in caplog.text
