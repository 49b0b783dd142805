"""Group commit: captures kept from the event loop at the same moment share a transaction and a journal write,
and every guarantee of a capture kept alone holds: the chain verifies, each record has its signed journal line,
a caller cancelled while it waits still gets its capture kept whole, and the journal still names a cut tail;
the lines of a batch that never committed are not taken for one. SQLite and PostgreSQL, real files.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from test_evidence_store import tamper

from crawler import Capture, Outcome, Target
from evidence import EvidenceStore, Observation, ParseFailure, Snapshot
from evidence.journal import EVENT_CHAIN, SNAPSHOT_CHAIN
from evidence.models import Event
from evidence.verify import verify


def page(n: int) -> Capture:
    body = f"<html><body><p>Trang {n}: thủ tục hành chính</p></body></html>".encode()
    return Capture(Target(url=f"https://xa-{n % 5}.example.invalid/vi/news/page-{n}/", probe="news", unit="xa"),
                   Outcome.OK, datetime.now(UTC), status=200, response_headers=(("content-type", "text/html"),),
                   body=body)  # fmt: skip


def journal_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def problems(store: EvidenceStore, journal: Path) -> list[str]:
    report = verify(store.engine, store.blobs, {store.signing_key().public_hex}, journal_file=journal)
    return [str(p) for p in report.problems]


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[EvidenceStore]:
    opened = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "key.pem")
    yield opened
    opened.close()


async def keep_all(store: EvidenceStore, run_id: int, captures: list[Capture]) -> list[Snapshot]:
    return list(await asyncio.gather(*(store.keep(run_id, c) for c in captures)))


def test_captures_kept_together_form_one_chain_each_record_journaled(
    store: EvidenceStore, tmp_path: Path
) -> None:
    run = store.begin_run("test")
    assert run.id is not None
    kept = asyncio.run(keep_all(store, run.id, [page(n) for n in range(60)]))
    store.finish_run(run.id)
    assert sorted(s.seq for s in kept) == list(range(1, 61))
    assert [s.url for s in sorted(kept, key=lambda s: s.seq)] == [page(n).target.url for n in range(60)]
    lines = [line for line in journal_lines(tmp_path / "journal.jsonl") if line["chain"] == SNAPSHOT_CHAIN]
    assert sorted(int(str(line["seq"])) for line in lines) == list(range(1, 61))
    # They went in batches: at least one line names a batch of more than one record.
    assert any("batch" in line for line in lines)
    assert problems(store, tmp_path / "journal.jsonl") == []
    assert all(store.body(s.id or 0) == page(n).body for n, s in enumerate(kept))


def test_a_cancelled_caller_still_gets_its_capture_kept_whole(store: EvidenceStore, tmp_path: Path) -> None:
    run = store.begin_run("test")
    assert run.id is not None
    run_id = run.id

    async def cancel_while_keeping() -> None:
        waiting = [asyncio.ensure_future(store.keep(run_id, page(n))) for n in range(10)]
        await asyncio.sleep(0)  # they are handed in
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    asyncio.run(cancel_while_keeping())
    store.finish_run(run_id)  # waits for the writer: the run's counts include every capture handed in
    with Session(store.engine) as session:
        urls = session.exec(select(Snapshot.url).where(Snapshot.run_id == run_id)).all()
    assert sorted(urls) == sorted(page(n).target.url for n in range(10))
    assert problems(store, tmp_path / "journal.jsonl") == []


def test_a_batch_that_never_committed_is_not_a_cut(store: EvidenceStore, tmp_path: Path) -> None:
    """A writer killed between its batch's journal write and its commit leaves the batch's lines ahead."""
    run = store.begin_run("test")
    assert run.id is not None
    kept = asyncio.run(keep_all(store, run.id, [page(n) for n in range(5)]))
    head = max(s.seq for s in kept)
    assert store.journal is not None
    store.journal.append_many(SNAPSHOT_CHAIN, [(head + n, f"{n:064x}") for n in range(1, 9)])
    assert problems(store, tmp_path / "journal.jsonl") == []


def test_a_batch_cut_after_it_committed_is_named(store: EvidenceStore, tmp_path: Path) -> None:
    run = store.begin_run("test")
    assert run.id is not None
    kept = asyncio.run(keep_all(store, run.id, [page(n) for n in range(40)]))
    lines = [line for line in journal_lines(tmp_path / "journal.jsonl") if "batch" in line]
    assert lines, "no batch of more than one record: nothing to cut inside one"
    batch = lines[-1]["batch"]
    assert isinstance(batch, list)
    first, last = int(batch[0]), int(batch[1])
    assert max(s.seq for s in kept) >= last > first
    keep_up_to = first  # the batch's first record stays; the rest of its records go
    tamper(store, f"DELETE FROM snapshot_blob WHERE snapshot_id IN (SELECT id FROM snapshot WHERE seq > {keep_up_to})",
           f"DELETE FROM snapshot WHERE seq > {keep_up_to}")  # fmt: skip
    found = problems(store, tmp_path / "journal.jsonl")
    assert any("its tail was cut off" in p for p in found), found


def test_parses_kept_together_share_the_event_chain_batch_each_event_journaled(
    store: EvidenceStore, tmp_path: Path
) -> None:
    """A crawl's parse results go through the same writer: one transaction and one journal write for the parses
    handed in together, one `parse` event per snapshot, each with its signed line, its rows linked to it."""
    run = store.begin_run("test")
    assert run.id is not None
    kept = asyncio.run(keep_all(store, run.id, [page(n) for n in range(30)]))
    now = datetime.now(UTC)

    def found(snapshot: Snapshot) -> list[Observation]:
        assert snapshot.id is not None
        return [Observation(snapshot_id=snapshot.id, probe="news", metric="news_post", period="2023-09", value=1,
                            parser="news", parser_version="2", derived_at=now) for _ in range(3)]  # fmt: skip

    async def keep_parses() -> None:
        failed = kept[0]
        assert failed.id is not None
        await asyncio.gather(
            *(store.keep_parse(found(s), []) for s in kept[1:]),
            store.keep_parse([], [ParseFailure(snapshot_id=failed.id, probe="news", parser="news/nukeviet-category",
                                               parser_version="2", reason="no list", created_at=now)]),
            store.keep_parse([], []),  # a parse that found nothing keeps nothing, as add_observations does
        )  # fmt: skip

    asyncio.run(keep_parses())
    store.finish_run(run.id)
    with Session(store.engine) as session:
        events = session.exec(select(Event).where(Event.kind == "parse").order_by(col(Event.seq))).all()
        observations = session.exec(select(Observation)).all()
        failures = session.exec(select(ParseFailure)).all()
    assert sorted(e.snapshot_id or 0 for e in events) == sorted(s.id or 0 for s in kept)
    by_snapshot = {s.id: s.record_hash for s in kept}
    assert all(e.snapshot_hash == by_snapshot[e.snapshot_id] for e in events)
    assert len(observations) == 3 * 29 and len(failures) == 1
    event_of = {e.id: e.snapshot_id for e in events}
    assert all(event_of[o.event_id] == o.snapshot_id for o in observations)
    assert event_of[failures[0].event_id] == failures[0].snapshot_id
    lines = [line for line in journal_lines(tmp_path / "journal.jsonl") if line["chain"] == EVENT_CHAIN]
    assert {int(str(line["seq"])) for line in lines} >= {e.seq for e in events}
    # They went in batches: at least one line names a batch of more than one parse event.
    assert any("batch" in line for line in lines)
    assert problems(store, tmp_path / "journal.jsonl") == []
