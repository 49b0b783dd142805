"""Our HTTP capture against Scrapy, on the same simulated pages, in one run, taking turns.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/compare_scrapy.py --urls 2000 --rounds 3

One simulation (its own process) serves every contender. Each round runs, in turn and each in a fresh process
(Twisted's reactor cannot start twice): our crawler (fetch with politeness delays off but still one request in
flight per host, then keep: hash, zstd, blob write with fsync, the writer's journal, the ledger), Scrapy with
the same limit of one request in flight per host (its download slot set to host:port, since the simulated
sites share one IP), and Scrapy without that limit. Scrapy keeps each body as a file named by its SHA-256,
fsynced, which is what a Scrapy user would do to keep pages; it signs nothing, chains nothing and compresses
nothing. Everyone obeys robots.txt and reads the same URL list in the same order.

Reports pages per second (from the first request to the last page kept, imports and start-up excluded) and CPU
per page of the crawler's process, per round and as the median, and the ratios of our median to Scrapy's.
The machine's load average is printed before and after each run: on a shared machine the ratios of runs
taken in turn mean more than any single rate.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
CONTENDERS = ("ours", "scrapy-per-host", "scrapy-free")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- our crawler -------------------------------------------------------------------------------------------------


def run_ours(config: Path, urls: list[str], folder: Path, concurrency: int) -> dict[str, Any]:
    from cchc.settings import load_settings
    from cli.wiring import fetch_policy
    from crawler import HttpFetcher, Target
    from evidence import EvidenceStore

    settings = load_settings(config, environ={})
    policy = replace(fetch_policy(settings), min_delay_s=0.0, latency_factor=0.0)
    store = EvidenceStore.open(f"sqlite:///{folder}/ours.sqlite3", folder / "blobs", folder / "k.pem")
    run = store.begin_run("bench")
    assert run.id is not None
    run_id = run.id

    async def crawl() -> tuple[int, float, float]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls:
            queue.put_nowait(url)
        kept = 0

        async def worker(fetcher: HttpFetcher) -> None:
            nonlocal kept
            while not queue.empty():
                capture = await fetcher.fetch(Target(url=queue.get_nowait(), probe="bench"))
                await store.keep(run_id, capture)
                kept += 1

        async with HttpFetcher(policy) as fetcher:
            cpu, started = _cpu_seconds(), time.monotonic()
            await asyncio.gather(*(worker(fetcher) for _ in range(concurrency)))
            return kept, time.monotonic() - started, _cpu_seconds() - cpu

    kept, wall, cpu = asyncio.run(crawl())
    store.finish_run(run_id)
    store.close()
    return {"pages": kept, "wall": wall, "cpu": cpu}


# --- Scrapy ------------------------------------------------------------------------------------------------------


def run_scrapy(urls: list[str], folder: Path, per_host: bool, concurrency: int) -> dict[str, Any]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    bodies = folder / "bodies"
    bodies.mkdir()
    clock: dict[str, float] = {}
    kept = [0]

    class KeepBySha256:
        """Each body in a file named by its SHA-256, fsynced: the durable minimum of keeping a page."""

        def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
            body: bytes = item["body"]
            path = bodies / hashlib.sha256(body).hexdigest()
            if not path.exists():
                with path.open("wb") as handle:
                    handle.write(body)
                    handle.flush()
                    os.fsync(handle.fileno())
            kept[0] += 1
            clock["last"] = time.monotonic()
            return {"url": item["url"]}

    class Pages(scrapy.Spider):
        name = "pages"

        async def start(self) -> Any:
            clock.setdefault("first", time.monotonic())
            clock.setdefault("cpu", _cpu_seconds())
            for url in urls:
                host = url.split("/")[2]
                # The simulated sites share 127.0.0.1: without its own slot per host:port, Scrapy would hold
                # every site to one request at a time together.
                meta = {"download_slot": host} if per_host else {}
                yield scrapy.Request(url, meta=meta, dont_filter=True)

        def parse(self, response: Any) -> Any:
            yield {"url": response.url, "body": response.body}

    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "ERROR",
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1 if per_host else concurrency,
            "DOWNLOAD_DELAY": 0,
            "RANDOMIZE_DOWNLOAD_DELAY": False,
            "AUTOTHROTTLE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "ITEM_PIPELINES": {KeepBySha256: 100},
            "HTTPERROR_ALLOW_ALL": True,
            "USER_AGENT": "cchc-watch-bench (Scrapy)",
        }
    )
    process.crawl(Pages)
    process.start()
    wall = clock["last"] - clock["first"]
    return {"pages": kept[0], "wall": wall, "cpu": _cpu_seconds() - clock["cpu"]}


# --- the rounds --------------------------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_run(contender: str, config: Path, url_file: Path, concurrency: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", contender, "--config", str(config), "--url-file",
               str(url_file), "--concurrency", str(concurrency)]  # fmt: skip
    before = load_average()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(contender=contender, load_before=before, load_after=load_average())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--worker", choices=CONTENDERS)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--url-file", type=Path)
    args = parser.parse_args()
    if args.worker:
        urls = json.loads(args.url_file.read_text())
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
            if args.worker == "ours":
                result = run_ours(args.config, urls, Path(folder), args.concurrency)
            else:
                result = run_scrapy(urls, Path(folder), args.worker == "scrapy-per-host", args.concurrency)
        print(json.dumps(result))
        return

    from bench._simproc import simulation_config
    from bench.http_bench import targets
    from cchc.settings import load_settings

    results: list[dict[str, Any]] = []
    with simulation_config() as config, tempfile.TemporaryDirectory() as folder:
        urls = [t.url for t in targets(load_settings(config, environ={}), args.urls)]
        hosts = len({u.split("/")[2] for u in urls})
        url_file = Path(folder) / "urls.json"
        url_file.write_text(json.dumps(urls))
        print(f"{len(urls)} URLs over {hosts} hosts, concurrency {args.concurrency}, {os.cpu_count()} CPUs")
        for round_ in range(1, args.rounds + 1):
            # Who goes first changes every round, so that a slow patch of the machine does not fall on one.
            order = CONTENDERS[round_ % 3 :] + CONTENDERS[: round_ % 3]
            for contender in order:
                result = one_run(contender, config, url_file, args.concurrency)
                result["round"] = round_
                results.append(result)
                print(
                    f"round {round_}  {contender:16} {result['pages']:5} pages  {result['pages'] / result['wall']:7.1f} pages/s"
                    f"  {1000 * result['cpu'] / result['pages']:5.2f} CPU-ms/page  load {result['load_before']} -> {result['load_after']}",
                    flush=True,
                )
    rates = {c: [r["pages"] / r["wall"] for r in results if r["contender"] == c] for c in CONTENDERS}
    cpus = {c: [1000 * r["cpu"] / r["pages"] for r in results if r["contender"] == c] for c in CONTENDERS}
    print()
    print("| contender | pages/s, each round | median | CPU-ms/page (median) |")
    print("|---|---|---|---|")
    for c in CONTENDERS:
        each = ", ".join(f"{r:.0f}" for r in rates[c])
        print(f"| {c} | {each} | **{statistics.median(rates[c]):.0f}** | {statistics.median(cpus[c]):.2f} |")
    ours = statistics.median(rates["ours"])
    for other in CONTENDERS[1:]:
        paired = [o / s for o, s in zip(rates["ours"], rates[other], strict=True)]
        print(
            f"ours / {other}: {ours / statistics.median(rates[other]):.2f} (per round: "
            + ", ".join(f"{p:.2f}" for p in paired)
            + ")"
        )
    for other in CONTENDERS[1:]:
        print(
            f"CPU per page, {other} / ours: "
            f"{statistics.median(cpus[other]) / statistics.median(cpus['ours']):.2f}"
        )
    print(
        f"command: .venv/bin/python bench/compare_scrapy.py --urls {args.urls} --rounds {args.rounds} --concurrency {args.concurrency}"
    )


if __name__ == "__main__":
    main()
