"""A crawl that runs until killed: the subject of the crash test (tests/test_evidence_crash.py).

Usage: python _crash_worker.py DATABASE_URL BLOB_DIR KEY_FILE TARGETS_JSON [--once] [--witness FILE]
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from crawler import FetchPolicy, HttpFetcher, Target, host_key
from evidence import EvidenceStore


async def crawl(store: EvidenceStore, urls: list[str], once: bool) -> None:
    policy = FetchPolicy(
        user_agent="cchc-watch/crash-test",
        robots_agent="cchc-watch",
        allowed_hosts=frozenset(host_key(u) for u in urls),
        min_delay_s=0.0,
        latency_factor=0.0,
    )
    async with HttpFetcher(policy) as fetcher:
        while True:
            run = store.begin_run("test", ["news"])
            assert run.id is not None

            async def keep(url: str, run_id: int) -> None:
                capture = await fetcher.fetch(Target(url=url, probe="news", unit="crash"))
                await store.keep(run_id, capture)

            # All at once, as a crawl does: captures of different hosts share a group commit, so a kill lands
            # in the middle of batches too.
            await asyncio.gather(*(keep(url, run.id) for url in urls))
            store.finish_run(run.id)
            if once:
                return


def main() -> None:
    database_url, blob_dir, key_file, targets = sys.argv[1:5]
    witness = Path(sys.argv[sys.argv.index("--witness") + 1]) if "--witness" in sys.argv else None
    store = EvidenceStore.open(database_url, Path(blob_dir), Path(key_file), witness_file=witness)
    print("open", flush=True)  # the test's random moments to kill begin now, not during imports
    asyncio.run(crawl(store, json.loads(Path(targets).read_text()), once="--once" in sys.argv))
    print("finished")


if __name__ == "__main__":
    main()
