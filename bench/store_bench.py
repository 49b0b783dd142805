"""The evidence store's hot path alone: keep N captures (no network), one snapshot per capture, durable.

    .venv/bin/python bench/store_bench.py --captures 1000

Each capture has a distinct 20 KB HTML body, as a portal page has; keeping it is what a crawl does per capture:
hash, compress, the atomic blob write with fsync of file and folder, the journal line (signed, fsynced) and the
ledger append (one SQLite transaction, synchronous=FULL, WAL). Reports wall and CPU milliseconds per capture,
and their median over the captures, so that a busy machine's outliers show apart.
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
from evidence import EvidenceStore


def page(n: int) -> bytes:
    row = f"<tr><td>Thủ tục {n}</td><td>{n * 7919 % 100003}</td></tr>"
    return (f"<html><body><table>{row * (20_000 // len(row.encode()))}</table></body></html>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captures", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        store = EvidenceStore.open(
            f"sqlite:///{folder}/bench.sqlite3", Path(folder) / "blobs", Path(folder) / "k.pem"
        )
        run = store.begin_run("bench")
        assert run.id is not None
        walls, cpus = [], []
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
            store.store(run.id, capture)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        store.finish_run(run.id)
        store.close()
    print(f"captures                 {args.captures}")
    print(
        f"wall ms per capture      {1000 * sum(walls) / len(walls):.2f} (median {1000 * statistics.median(walls):.2f})"
    )
    print(
        f"CPU ms per capture       {1000 * sum(cpus) / len(cpus):.2f} (median {1000 * statistics.median(cpus):.2f})"
    )
    print(f"command                  .venv/bin/python bench/store_bench.py --captures {args.captures}")


if __name__ == "__main__":
    main()
