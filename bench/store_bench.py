"""The evidence store's hot path alone: keep N captures (no network), one snapshot per capture, durable.

    .venv/bin/python bench/store_bench.py --captures 1000 [--observations 9]

Each capture has a distinct 20 KB HTML body, as a portal page has; keeping it is what a crawl does per capture:
hash, compress, the atomic blob write with fsync of file and folder, the journal line (signed, fsynced) and the
ledger append (one SQLite transaction, synchronous=FULL, WAL). Reports wall and CPU milliseconds per capture,
and their median over the captures, so that a busy machine's outliers show apart.

With --observations K, each capture's parse is then kept too: K observations (a news page gives about nine), ten
parses to a transaction (a crawl's writer takes whatever parses are pending as one group; ten is this bench's
choice), and their CPU per observation is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler import Capture, Outcome, Target
from evidence import EvidenceStore, Observation
from evidence.store import ParseResult


def page(n: int) -> bytes:
    row = f"<tr><td>Thủ tục {n}</td><td>{n * 7919 % 100003}</td></tr>"
    return (f"<html><body><table>{row * (20_000 // len(row.encode()))}</table></body></html>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captures", type=int, default=1000)
    parser.add_argument("--observations", type=int, default=0, help="observations per capture's parse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        store = EvidenceStore.open(
            f"sqlite:///{folder}/bench.sqlite3", Path(folder) / "blobs", Path(folder) / "k.pem"
        )
        run = store.begin_run("bench")
        assert run.id is not None
        walls, cpus, kept = [], [], []
        for n in range(args.captures):
            capture = Capture(
                Target(
                    url=f"https://phuong1.example.invalid/vi/news/page-{n}/", probe="bench", unit="phuong-1"
                ),
                Outcome.OK,
                datetime.now(UTC),
                status=200,
                response_headers=(("content-type", "text/html; charset=utf-8"),),
                body=page(n),
            )
            wall, cpu = time.perf_counter(), time.process_time()
            snapshot = store.store(run.id, capture)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            kept.append(snapshot.id or 0)
        parse_cpu = keep_parses(store, kept, args.observations) if args.observations else 0.0
        store.finish_run(run.id)
        store.close()
    print(f"captures                 {args.captures}")
    print(
        f"wall ms per capture      {1000 * sum(walls) / len(walls):.2f} (median {1000 * statistics.median(walls):.2f})"
    )
    print(
        f"CPU ms per capture       {1000 * sum(cpus) / len(cpus):.2f} (median {1000 * statistics.median(cpus):.2f})"
    )
    if args.observations:
        per = 1e6 * parse_cpu / (args.captures * args.observations)
        print(f"CPU µs per observation   {per:.0f} ({args.observations} a capture, ten parses a transaction)")
    more = f" --observations {args.observations}" if args.observations else ""
    print(f"command                  .venv/bin/python bench/store_bench.py --captures {args.captures}{more}")


def keep_parses(store: EvidenceStore, snapshot_ids: list[int], per_snapshot: int) -> float:
    """Keep one parse of each snapshot, ten to a transaction; the CPU seconds it took."""
    now = datetime.now(UTC)
    parses = [
        ParseResult([Observation(snapshot_id=snapshot_id, probe="bench", unit="phuong-1", metric=f"metric_{k}",
                                 period="2023-09", value=float(k), attributes={"category": "Tin tức"},
                                 parser="bench", parser_version="1", derived_at=now)
                     for k in range(per_snapshot)], [])
        for snapshot_id in snapshot_ids
    ]  # fmt: skip
    cpu = time.process_time()
    for start in range(0, len(parses), 10):
        store._keep_parses(parses[start : start + 10])  # what the crawl's writer calls with a group
    return time.process_time() - cpu


if __name__ == "__main__":
    main()
