"""HTTP capture throughput: fetch, hash, compress and store N captures of the simulated portals.

    .venv/bin/python bench/http_bench.py --captures 3000

The simulation runs in its own process; politeness is off (no delay; still one request in flight per host).
Reports captures per second (wall) and CPU milliseconds per capture of the crawler's process, split into
fetching and keeping (hash, compress, blob write, ledger append).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._simproc import simulation_process
from cchc.settings import Settings
from cli.wiring import fetch_policy
from crawler import HttpFetcher, Outcome, Target
from evidence import EvidenceStore


def targets(settings: Settings, count: int) -> list[Target]:
    """Category pages, RSS feeds and articles of every portal, and DVC API calls: a realistic mix."""
    per_site: list[list[Target]] = []
    for portal in settings.portal:
        base = portal.base_url + portal.news_path
        pages = [
            f"{base}{cat}/page-{n}/" if n > 1 else f"{base}{cat}/"
            for cat in portal.categories
            for n in (1, 2, 3)
        ]
        pages += [portal.base_url + portal.rss_path]
        per_site.append([Target(url=u, probe="bench", unit=portal.id) for u in pages])
    api = settings.sources.dvc_tinh.base_url + "/api/dvc/LoadCBoLinhVuc?DonViID="
    per_site.append([Target(url=f"{api}{n}", probe="bench") for n in range(350, 364)])
    # Round-robin over sites, so every host has work at any moment.
    mixed = [t for group in itertools.zip_longest(*per_site) for t in group if t]
    return list(itertools.islice(itertools.cycle(mixed), count))


async def crawl(
    settings: Settings, store: EvidenceStore, work: list[Target], concurrency: int
) -> dict[str, float]:
    policy = replace(fetch_policy(settings), min_delay_s=0.0, latency_factor=0.0)
    queue: asyncio.Queue[Target] = asyncio.Queue()
    for target in work:
        queue.put_nowait(target)
    run = store.begin_run("bench")
    assert run.id is not None
    keep_cpu = 0.0
    outcomes: dict[str, int] = {}

    async def worker(fetcher: HttpFetcher) -> None:
        nonlocal keep_cpu
        while not queue.empty():
            target = queue.get_nowait()
            capture = await fetcher.fetch(target)
            started = time.process_time()
            store.store(run.id or 0, capture)
            keep_cpu += time.process_time() - started
            outcomes[capture.outcome] = outcomes.get(capture.outcome, 0) + 1

    async with HttpFetcher(policy) as fetcher:
        await asyncio.gather(*(worker(fetcher) for _ in range(concurrency)))
    store.finish_run(run.id)
    return {"keep_cpu": keep_cpu, "ok": outcomes.get(Outcome.OK, 0), "all": sum(outcomes.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captures", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with simulation_process() as settings, tempfile.TemporaryDirectory() as folder:
        store = EvidenceStore.open(
            f"sqlite:///{folder}/bench.sqlite3", Path(folder) / "blobs", Path(folder) / "k.pem"
        )
        work = targets(settings, args.captures)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        result = asyncio.run(crawl(settings, store, work, args.concurrency))
        wall = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        store.close()
    n = result["all"]
    print(f"captures            {n} ({result['ok']:.0f} ok)")
    print(f"wall                {wall:.2f} s")
    print(f"captures per second {n / wall:.0f}")
    print(
        f"CPU ms per capture  {1000 * cpu / n:.2f} (fetch {1000 * (cpu - result['keep_cpu']) / n:.2f}, keep {1000 * result['keep_cpu'] / n:.2f})"
    )
    print(
        f"command             .venv/bin/python bench/http_bench.py --captures {args.captures} --concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
