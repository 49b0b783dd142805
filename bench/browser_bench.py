"""Browser capture throughput and memory: render N pages of the simulated portals with the system Chromium,
and the same pages with a bare Playwright loop, in turns.

    .venv/bin/python bench/browser_bench.py --pages 1000
    .venv/bin/python bench/browser_bench.py --pages 200 --rounds 3 --bare   # the ratio to a bare loop

The simulation runs in its own process; politeness is off (no delay; still one page in flight per host).
The pages: the JavaScript-filled DVC procedure list (DonViID 354..363, PageNum 1..4) and the first page of
every news category of the 11 portals of 2023, round-robin over the 12 hosts. Reports browser captures per
second, CPU seconds per capture of the crawler's process tree, and the tree's RSS (python, Playwright's
driver, every Chromium process; the simulation's process left out) sampled every 10 pages, with whether it
stays flat: the mean over the last 100 pages within 10 % of the mean over pages 100-200.

With --bare, each round also runs a bare Playwright loop over the same pages: the same Chromium, viewport and
number of pages open at once, `goto` until "load", the same selector awaited, the same full-page PNG and the
DOM, and nothing else (no host guard, no politeness, no response bodies, no evidence). Rounds alternate which
goes first; the ratio of our captures per second to the bare loop's is reported per round and for the median.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._simproc import simulation_process
from cchc.settings import Settings
from cli.wiring import fetch_policy
from crawler import Outcome, Target
from crawler.browser import BrowserRenderer
from crawler.fetcher import HttpFetcher

PAGE_SIZE = 4096
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DVC_ROWS = "#tblThuTuc tbody tr.thutuc-row"


def targets(settings: Settings, count: int) -> list[Target]:
    year = settings.inspection.year
    per_host: list[list[Target]] = []
    for portal in settings.portal:
        if portal.valid_from.year > year:
            continue  # the wards formed in 2025
        base = portal.base_url + portal.news_path
        per_host.append(
            [Target(url=f"{base}{c}/", render="browser", probe="bench") for c in portal.categories]
        )
    dvc = settings.sources.dvc_tinh.base_url + settings.sources.dvc_tinh.list_page
    per_host.append(
        [
            Target(
                url=f"{dvc}?DonViID={unit}&PageNum={page}", render="browser", wait_for=DVC_ROWS, probe="bench"
            )
            for page in range(1, 5)
            for unit in range(354, 364)
        ]
    )
    # Round-robin over hosts, so that every host has work at any moment.
    cycles = [itertools.cycle(group) for group in per_host]
    return [next(cycles[n % len(cycles)]) for n in range(count)]


# --- the process tree ---------------------------------------------------------------------------------------


def _tree() -> list[int]:
    """This process and its descendants, without the simulation (the stand-in for the remote sites)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as stat:
                    parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [os.getpid()]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"\x00-m\x00cli\x00" in cmdline.read():
                    continue
        except OSError:
            continue
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _status_kb(pid: int, field_name: bytes) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(field_name):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_mb() -> tuple[float, float, int]:
    """RSS and PSS of the process tree in MB, and how many processes it has."""
    pids = _tree()
    rss = sum(_status_kb(pid, b"VmRSS:") for pid in pids)
    pss = sum(_pss_kb(pid) for pid in pids)
    return rss / 1024, pss / 1024, len(pids)


def tree_cpu_s() -> float:
    """CPU seconds of the tree, counting the helpers Chromium has already reaped (cutime, cstime)."""
    total = 0
    for pid in _tree():
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / CLOCK_TICKS


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    pages: int
    rss_mb: float
    pss_mb: float
    processes: int


@dataclass
class Result:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    samples: list[Sample] = field(default_factory=list)
    screenshot_bytes: int = 0
    details: Counter[str] = field(default_factory=Counter)


async def run(settings: Settings, work: list[Target], max_pages: int, every: int) -> Result:
    policy = replace(fetch_policy(settings), min_delay_s=0.0, latency_factor=0.0)
    result = Result()
    done = 0
    async with (
        HttpFetcher(policy) as fetcher,
        BrowserRenderer(
            fetcher,
            executable=settings.browser.executable,
            page_timeout_s=settings.browser.page_timeout_s,
            recycle_context_after=settings.browser.recycle_context_after,
            viewport=(settings.browser.viewport_width, settings.browser.viewport_height),
            max_pages=max_pages,
            timezone_id=settings.inspection.timezone,
        ) as renderer,
    ):

        async def one(target: Target) -> None:
            nonlocal done
            capture = await renderer.render(target)
            result.outcomes[capture.outcome] += 1
            result.screenshot_bytes += len(capture.screenshot or b"")
            if capture.outcome is not Outcome.OK:
                result.details[capture.detail[:120]] += 1
            del capture  # nothing of a page outlives its count: memory is the renderer's alone
            done += 1
            if done % every == 0:
                result.samples.append(Sample(done, *tree_memory_mb()))

        cpu = tree_cpu_s()
        started = time.monotonic()
        await asyncio.gather(*(one(t) for t in work))
        result.wall_s = time.monotonic() - started
        result.cpu_s = tree_cpu_s() - cpu
    return result


async def run_bare(settings: Settings, work: list[Target], max_pages: int) -> Result:
    """The bare loop: what a Playwright user writes to take the same screenshots."""
    from playwright.async_api import async_playwright

    from crawler.chromium import find_chromium

    result = Result()
    slots = asyncio.Semaphore(max_pages)
    width, height = settings.browser.viewport_width, settings.browser.viewport_height
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=find_chromium(settings.browser.executable))
        context = await browser.new_context(viewport={"width": width, "height": height})
        timeout_ms = settings.browser.page_timeout_s * 1000

        async def one(target: Target) -> None:
            async with slots:
                page = await context.new_page()
                try:
                    await page.goto(target.url, wait_until="load", timeout=timeout_ms)
                    if target.wait_for:
                        await page.wait_for_selector(target.wait_for, timeout=timeout_ms)
                    png = await page.screenshot(full_page=True, timeout=timeout_ms)
                    await page.content()
                    result.outcomes["ok"] += 1
                    result.screenshot_bytes += len(png)
                except Exception as exc:
                    result.outcomes["error"] += 1
                    result.details[str(exc)[:120]] += 1
                finally:
                    await page.close()

        cpu = tree_cpu_s()
        started = time.monotonic()
        await asyncio.gather(*(one(t) for t in work))
        result.wall_s = time.monotonic() - started
        result.cpu_s = tree_cpu_s() - cpu
        await context.close()
        await browser.close()
    return result


def compare_bare(settings: Settings, work: list[Target], max_pages: int, rounds: int, every: int) -> None:
    """Ours and the bare loop over the same pages, in turns; the ratio of their rates."""
    rates: dict[str, list[float]] = {"ours": [], "bare": []}
    for round_ in range(1, rounds + 1):
        order = ("ours", "bare") if round_ % 2 else ("bare", "ours")
        for who in order:
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            if who == "ours":
                result = asyncio.run(run(settings, work, max_pages, every))
            else:
                result = asyncio.run(run_bare(settings, work, max_pages))
            n = sum(result.outcomes.values())
            rates[who].append(result.outcomes.get("ok", 0) / result.wall_s)
            peak = f"  RSS peak {max(s.rss_mb for s in result.samples):.0f} MB" if result.samples else ""
            print(f"round {round_}  {who:4}  {n} pages ({dict(result.outcomes)})  {rates[who][-1]:.2f} ok/s  "
                  f"CPU {result.cpu_s / max(n, 1):.3f} s/page  PNG {result.screenshot_bytes / max(n, 1) / 1024:.0f} KB"
                  f"{peak}  load {load}", flush=True)  # fmt: skip
    ratios = [o / b for o, b in zip(rates["ours"], rates["bare"], strict=True)]
    print(
        f"ours / bare: {statistics.median(rates['ours']) / statistics.median(rates['bare']):.2f} of the medians"
        f" (per round: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def report(result: Result, pages: int, max_pages: int, command: str) -> None:
    samples = result.samples
    early = [s.rss_mb for s in samples if 100 <= s.pages <= 200]
    late = [s.rss_mb for s in samples if s.pages > pages - 100]
    early_pss = [s.pss_mb for s in samples if 100 <= s.pages <= 200]
    late_pss = [s.pss_mb for s in samples if s.pages > pages - 100]
    ratio = mean(late) / mean(early) if early and late else float("nan")
    flat = abs(ratio - 1) <= 0.10
    n = sum(result.outcomes.values())
    print(
        f"browser captures            {n} ({', '.join(f'{k} {v}' for k, v in result.outcomes.most_common())})"
    )
    print(f"max_pages                   {max_pages}")
    print(f"wall                        {result.wall_s:.1f} s")
    print(f"browser captures per second {n / result.wall_s:.2f}")
    print(f"CPU s per capture (tree)    {result.cpu_s / n:.3f}  (on {os.cpu_count()} cores)")
    print(f"screenshot KB per capture   {result.screenshot_bytes / n / 1024:.0f}")
    peak_rss, peak_pss = max(s.rss_mb for s in samples), max(s.pss_mb for s in samples)
    print(f"RSS peak                    {peak_rss:.0f} MB (PSS peak {peak_pss:.0f} MB)")
    print(f"RSS mean pages 100-200      {mean(early):.0f} MB (PSS {mean(early_pss):.0f} MB)")
    print(f"RSS mean last 100 pages     {mean(late):.0f} MB (PSS {mean(late_pss):.0f} MB)")
    print(f"RSS flat (within 10 %)      {'yes' if flat else 'NO'} (last 100 / pages 100-200 = {ratio:.3f})")
    print()
    print("pages   RSS MB   PSS MB   processes")
    for sample in samples:
        if sample.pages % 100 == 0:
            print(f"{sample.pages:5d}   {sample.rss_mb:6.0f}   {sample.pss_mb:6.0f}   {sample.processes:9d}")
    for detail, count in result.details.most_common(5):
        print(f"not ok ({count}): {detail}")
    print()
    print(f"command: {command}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--max-pages", type=int, default=4, choices=(1, 2, 3, 4))
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--bare", action="store_true", help="also run a bare Playwright loop, in turns")
    parser.add_argument("--rounds", type=int, default=3, help="with --bare: rounds of each")
    args = parser.parse_args()
    with simulation_process() as settings:
        work = targets(settings, args.pages)
        if args.bare:
            compare_bare(settings, work, args.max_pages, args.rounds, args.sample_every)
            print(
                f"command: .venv/bin/python bench/browser_bench.py --pages {args.pages} --max-pages "
                f"{args.max_pages} --bare --rounds {args.rounds}"
            )
            return
        result = asyncio.run(run(settings, work, args.max_pages, args.sample_every))
    command = f".venv/bin/python bench/browser_bench.py --pages {args.pages} --max-pages {args.max_pages}"
    report(result, args.pages, args.max_pages, command)


if __name__ == "__main__":
    main()
