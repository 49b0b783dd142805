"""The evidence store on SQLite and PostgreSQL: captures of the simulated portals kept as content-addressed
blobs in a hash-chained ledger, and `verify` naming every kind of tampering with its record id.
"""

from __future__ import annotations

import asyncio
import fcntl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from conftest import sim_fetch_policy
from crawler import Capture, HttpFetcher, Target
from evidence import EvidenceStore, Run, Snapshot, SnapshotBlob
from evidence.blobs import LocalBlobStore
from evidence.verify import VerifyReport, verify
from sim import Simulation


def crawl(sim: Simulation, targets: list[Target]) -> list[Capture]:
    async def run() -> list[Capture]:
        async with HttpFetcher(sim_fetch_policy(sim)) as fetcher:
            return [await fetcher.fetch(t) for t in targets]

    return asyncio.run(run())


def sample_targets(sim: Simulation) -> list[Target]:
    news = sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/"
    return [
        Target(url=news, probe="news", unit="phuong-1"),
        Target(url=news + "page-2/", probe="news", unit="phuong-1"),
        Target(url=sim.url("phuong-1") + "/vi/news/rss/", probe="news", unit="phuong-1"),
        Target(url=sim.url("phuong-2") + "/vi/news/thong-bao/", probe="news", unit="phuong-2"),
        Target(
            url=sim.url("phuong-2") + "/vi/news/thong-bao/", probe="news", unit="phuong-2"
        ),  # same bytes again
        Target(url=sim.url("dvc_tinh") + "/api/dvc/GetDataDonVi_TraCuu", probe="procedures"),
        Target(url=sim.url("dvc_tinh") + "/Account/Login", probe="availability"),  # robots-disallowed
    ]


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[EvidenceStore]:
    opened = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "collector.pem")
    yield opened
    opened.close()


@pytest.fixture
def filled(store: EvidenceStore, simulation: Simulation) -> EvidenceStore:
    run = store.begin_run("test", ["news", "procedures"], ["phuong-1", "phuong-2"])
    assert run.id is not None
    for capture in crawl(simulation, sample_targets(simulation)):
        store.store(run.id, capture)
    store.finish_run(run.id)
    return store


def problems(store: EvidenceStore) -> list[str]:
    report = verify(store.engine, store.blobs)
    return [str(p) for p in report.problems]


def tamper(store: EvidenceStore, *statements: str) -> None:
    """Act as someone with write access to the database: lift the append-only guards, then edit."""
    with store.engine.begin() as connection:
        if store.engine.dialect.name == "sqlite":
            for name in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='trigger'"
            ).scalars():
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for table in ("snapshot", "snapshot_blob", "checkpoint", "blob"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            connection.exec_driver_sql(statement)


def snapshot_ids(store: EvidenceStore) -> list[tuple[int, int]]:
    with Session(store.engine) as session:
        return [(s.id or 0, s.seq) for s in session.exec(select(Snapshot).order_by(col(Snapshot.seq))).all()]


def test_a_crawl_is_stored_and_verifies(filled: EvidenceStore) -> None:
    report: VerifyReport = verify(filled.engine, filled.blobs)
    assert report.clean, report.problems
    assert report.snapshots == 7 and report.checkpoints == 1 and report.unsigned_after_last_checkpoint == 0
    with Session(filled.engine) as session:
        snapshots = session.exec(select(Snapshot).order_by(col(Snapshot.seq))).all()
        assert [s.seq for s in snapshots] == list(range(1, 8))
        assert [s.outcome for s in snapshots][-1] == "robots-disallowed" and not snapshots[-1].valid
        assert all(s.valid for s in snapshots[:-1])
        run = session.exec(select(Run)).one()
        assert run.status == "completed" and run.counts == {"ok": 6, "robots-disallowed": 1}


def test_identical_content_is_stored_once(filled: EvidenceStore) -> None:
    with Session(filled.engine) as session:
        links = session.exec(select(SnapshotBlob).where(SnapshotBlob.role == "response_body")).all()
    digests = [link.sha256 for link in links]
    assert len(digests) == 6 and len(set(digests)) == 5  # the page fetched twice shares one blob
    on_disk = list(filled.blobs.digests())
    assert len(on_disk) == len(set(on_disk)) == 5


def test_the_database_refuses_edits_and_deletes(filled: EvidenceStore) -> None:
    for statement in (
        "UPDATE snapshot SET outcome = 'ok' WHERE seq = 7",
        "DELETE FROM snapshot_blob WHERE id = 1",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), filled.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    assert problems(filled) == []


def test_a_flipped_byte_in_a_blob_is_named(filled: EvidenceStore) -> None:
    with Session(filled.engine) as session:
        link = session.exec(select(SnapshotBlob).where(SnapshotBlob.role == "response_body")).first()
        assert link is not None
    path = filled.blobs.path(link.sha256)  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    found = problems(filled)
    assert len(found) == 1 and found[0].startswith(f"blob {link.sha256}: ")
    assert f"snapshot {link.snapshot_id}" in found[0]


def test_an_edited_snapshot_row_is_named(filled: EvidenceStore) -> None:
    (first_id, _), *_ = snapshot_ids(filled)
    tamper(filled, f"UPDATE snapshot SET status_code = 404 WHERE id = {first_id}")
    assert problems(filled) == [
        f"snapshot {first_id} (seq 1): record hash mismatch: its fields or blob links were changed"
    ]


def test_a_deleted_row_in_the_middle_is_named(filled: EvidenceStore) -> None:
    ids = snapshot_ids(filled)
    gone, after = ids[3], ids[4]
    tamper(
        filled,
        f"DELETE FROM snapshot_blob WHERE snapshot_id = {gone[0]}",
        f"DELETE FROM snapshot WHERE id = {gone[0]}",
    )
    found = problems(filled)
    assert (
        f"snapshot {after[0]} (seq {after[1]}): chain gap: seq {gone[1]} missing (records deleted)" in found
    )
    assert any(p.startswith(f"snapshot {after[0]} (seq {after[1]}): chain broken") for p in found)
    assert len(found) == 2


def test_two_swapped_rows_are_named(filled: EvidenceStore) -> None:
    ids = snapshot_ids(filled)
    (a, seq_a), (b, seq_b) = ids[1], ids[2]
    tamper(
        filled,
        f"UPDATE snapshot SET seq = -1 WHERE id = {a}",
        f"UPDATE snapshot SET seq = {seq_a} WHERE id = {b}",
        f"UPDATE snapshot SET seq = {seq_b} WHERE id = {a}",
    )
    found = problems(filled)
    assert any(p.startswith(f"snapshot {a} (seq {seq_b}): record hash mismatch") for p in found)
    assert any(p.startswith(f"snapshot {b} (seq {seq_a}): record hash mismatch") for p in found)


def test_every_problem_is_reported_not_only_the_first(filled: EvidenceStore) -> None:
    ids = snapshot_ids(filled)
    tamper(
        filled,
        f"UPDATE snapshot SET detail = 'edited' WHERE id = {ids[0][0]}",
        f"DELETE FROM snapshot_blob WHERE snapshot_id = {ids[4][0]}",
        f"DELETE FROM snapshot WHERE id = {ids[4][0]}",
    )
    some_blob = next(iter(filled.blobs.digests()))
    filled.blobs.path(some_blob).write_bytes(b"not zstd")  # type: ignore[attr-defined]
    found = problems(filled)
    assert any(p.startswith(f"snapshot {ids[0][0]} (seq 1): record hash mismatch") for p in found)
    assert any("chain gap" in p for p in found)
    assert any(p.startswith(f"blob {some_blob}: cannot decompress") for p in found)


def test_a_rewritten_history_is_caught_by_the_signed_checkpoint(filled: EvidenceStore) -> None:
    """Someone edits a record and recomputes every hash after it: the chain is consistent again, but the
    head no longer matches what the collector signed at the end of the run."""
    from evidence.ledger import record_hash

    tamper(filled)  # lift the guards
    with Session(filled.engine) as session:
        snapshots = session.exec(select(Snapshot).order_by(col(Snapshot.seq))).all()
        links = {
            s.id: session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == s.id)).all()
            for s in snapshots
        }
        previous = "0" * 64
        snapshots[2].detail = "rewritten"
        for snapshot in snapshots:
            snapshot.prev_hash = previous
            snapshot.record_hash = record_hash(snapshot, list(links[snapshot.id]))
            previous = snapshot.record_hash
            session.add(snapshot)
        session.commit()
    found = problems(filled)
    assert len(found) == 1 and "history was rewritten" in found[0] and found[0].startswith("checkpoint ")


def test_an_altered_checkpoint_is_named(filled: EvidenceStore) -> None:
    tamper(filled, "UPDATE checkpoint SET reason = 'forged'")
    found = problems(filled)
    assert len(found) == 1 and "signature does not verify" in found[0]


def test_a_checkpoint_by_an_unknown_key_is_named(filled: EvidenceStore) -> None:
    report = verify(filled.engine, filled.blobs, trusted_public_keys={"00" * 32})
    assert [p.message.startswith("signed by an untrusted key") for p in report.problems] == [True]


def test_not_modified_links_the_earlier_content(store: EvidenceStore, simulation: Simulation) -> None:
    target = Target(
        url=simulation.url("phuong-3") + "/vi/news/rss/", probe="news", unit="phuong-3", conditional=True
    )
    run = store.begin_run("test")
    assert run.id is not None

    async def twice() -> tuple[Capture, Capture]:
        async with HttpFetcher(sim_fetch_policy(simulation)) as fetcher:
            first = await fetcher.fetch(target)
            store.store(run.id or 0, first)
            validators = store.validators(target.key)
            assert validators is not None
            return first, await fetcher.fetch(target, (validators.etag, validators.last_modified))

    first, second = asyncio.run(twice())
    earlier = snapshot_ids(store)[0][0]
    later = store.store(run.id, second)
    assert second.status == 304 and later.valid and later.not_modified_of == earlier
    assert store.body(later.id or 0) == first.body
    assert problems(store) == []


def test_interrupted_run_is_marked_at_the_next_start(store: EvidenceStore) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    run = store.begin_run("test")
    with Session(store.engine) as session:
        row = session.get(Run, run.id)
        assert row is not None
        row.pid = int(dead.stdout)  # a process that has ended without closing its run
        session.add(row)
        session.commit()
    store.begin_run("test")
    with Session(store.engine) as session:
        assert session.get(Run, run.id).status == "interrupted"  # type: ignore[union-attr]


def test_concurrent_writers_keep_one_chain(database_url: str, tmp_path: Path, simulation: Simulation) -> None:
    """Two processes appending captures and parses at once, each signing a checkpoint after every run while the
    other writes: positions are never shared, no lock waits on another forever, and both chains verify."""
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys\nfrom datetime import UTC, datetime\nfrom pathlib import Path\n"
        "from crawler import Capture, Outcome, Target\nfrom evidence import EvidenceStore, Observation\n"
        "store = EvidenceStore.open(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))\n"
        "for r in range(4):\n"
        "    run = store.begin_run('test')\n"
        "    for n in range(10):\n"
        "        c = Capture(Target(url=f'http://x/{sys.argv[4]}/{r}/{n}', probe='news'), Outcome.OK, datetime.now(UTC), status=200, body=f'{sys.argv[4]}{r}{n}'.encode())\n"
        "        snapshot = store.store(run.id, c)\n"
        "        store.add_observations([Observation(snapshot_id=snapshot.id, probe='news', metric='m', period='2023-09', value=n, parser='news', parser_version='1', derived_at=datetime.now(UTC))])\n"
        "    store.finish_run(run.id)\n",
        encoding="utf-8",
    )
    EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "k.pem").close()  # schema and key first
    args = [database_url, str(tmp_path / "blobs"), str(tmp_path / "k.pem")]
    writers = [subprocess.Popen([sys.executable, str(script), *args, name]) for name in ("a", "b")]
    assert [w.wait(timeout=180) for w in writers] == [0, 0]
    store = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "k.pem")
    try:
        assert [seq for _, seq in snapshot_ids(store)] == list(range(1, 81))
        report = verify(store.engine, store.blobs, journal_file=tmp_path / "journal.jsonl")
        assert report.clean, report.problems
        assert report.observations == 80 and report.checkpoints == 8 and report.events == 80 + 2 * 8
        assert report.unsigned_after_last_checkpoint == 0
    finally:
        store.close()


def test_opening_a_store_leaves_a_live_writers_temp_file_alone(tmp_path: Path) -> None:
    """Every process cleans tmp/ when it opens the store. A writer's file must survive another's start: CI once
    lost a blob this way when the two writers above started together."""
    blobs = LocalBlobStore(tmp_path)
    live, dead = blobs.tmp / "live.part", blobs.tmp / "dead.part"
    dead.write_bytes(b"half a blob, its writer killed")
    with live.open("wb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # as a writer holds it until the rename
        assert blobs.remove_stale_temp_files() == [dead]
        assert live.exists()
    assert blobs.remove_stale_temp_files() == [live]


def test_a_temp_file_swept_before_its_writer_locked_it_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window between creating a temp file and locking it lasts microseconds; a clean-up is run inside it
    # here by wrapping flock, since no real timing can hit it reliably.
    blobs = LocalBlobStore(tmp_path)
    real_flock = fcntl.flock
    swept: list[Path] = []

    def sweep_then_lock(fd: int, operation: int) -> None:
        if not swept and operation == fcntl.LOCK_EX:
            swept.append(Path("started"))
            swept.extend(LocalBlobStore(tmp_path).remove_stale_temp_files())
        real_flock(fd, operation)

    monkeypatch.setattr("evidence.blobs.fcntl.flock", sweep_then_lock)
    stored = blobs.put(b"evidence that must not be lost")
    assert len(swept) == 2 and swept[1].suffix == ".part"  # the first attempt's file was taken
    assert blobs.get(stored.sha256) == b"evidence that must not be lost"
    assert not list(blobs.tmp.glob("*.part"))
