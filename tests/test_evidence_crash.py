"""Crash safety: a crawl killed with SIGKILL at random moments leaves no half-written blob visible, no snapshot
without its blobs, and a ledger that verifies; the killed runs are marked interrupted; a new crawl completes.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from sqlmodel import Session, select

from cli_process import start_module
from conftest import REPO
from evidence import EvidenceStore, Run
from evidence.blobs import LocalBlobStore, sha256_hex
from evidence.db import open_database
from evidence.verify import verify
from sim import Simulation


def every_visible_blob_is_whole(blob_dir: Path) -> list[str]:
    store = LocalBlobStore(blob_dir, durable=False)
    broken = []
    for digest in store.digests():
        try:
            assert sha256_hex(store.get(digest)) == digest
        except Exception as exc:
            broken.append(f"{digest}: {exc}")
    return broken


def test_sigkill_at_random_moments_ten_times(
    database_url: str, tmp_path: Path, simulation: Simulation
) -> None:
    urls = [simulation.url(site) + f"/vi/news/{cat}/" for site in ("phuong-1", "phuong-2", "xa-tan-binh")
            for cat in ("tin-tuc-su-kien", "thong-bao")]  # fmt: skip
    urls += [simulation.url("phuong-1") + f"/vi/news/tin-tuc-su-kien/page-{n}/" for n in range(2, 8)]
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps(urls))
    blob_dir, key = tmp_path / "blobs", tmp_path / "collector.pem"
    args = [database_url, str(blob_dir), str(key), str(targets)]
    rng = random.Random(20230526)
    for _ in range(10):
        # Forked from the tests' warm server (tests/cli_process.py), and killed with SIGKILL as the block ends,
        # however it ends (an interrupted test left it crawling for good).
        with start_module("_crash_worker", args, cwd=REPO, ready="open\n") as worker:  # its store is open
            time.sleep(rng.uniform(0.0, 2.0))  # a random moment of its crawl
            assert worker.poll() is None, worker.stderr()
        engine = open_database(database_url)
        report = verify(engine, LocalBlobStore(blob_dir, durable=False))
        engine.dispose()
        assert report.problems == []
        assert every_visible_blob_is_whole(blob_dir) == []
    with start_module("_crash_worker", [*args, "--once"], cwd=REPO) as finished:
        assert finished.wait(timeout=300) == 0 and "finished" in finished.stdout(), finished.stderr()
    store = EvidenceStore.open(database_url, blob_dir, key)
    try:
        report = verify(store.engine, store.blobs)
        assert report.clean and report.snapshots > 10 and report.unsigned_after_last_checkpoint == 0
        with Session(store.engine) as session:
            runs = session.exec(select(Run)).all()
        assert [r.status for r in runs].count("running") == 0
        assert [r.status for r in runs][-1] == "completed"
        assert "interrupted" in {r.status for r in runs}
        assert not list((blob_dir / "tmp").glob("*.part"))  # stale temp files were cleaned at the next start
    finally:
        store.close()
