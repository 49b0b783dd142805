"""The simulation's two front ends at scale: start-up, threads and memory of `cchc sim --portals N`, then a burst
of keep-alive requests over every portal.

    .venv/bin/python bench/sim_serve.py --portals 2000 --front-end event-loop threads --per-portal 3

For each front end, `cchc sim --portals N --front-end F` runs in its own process; start-up is the time from
its spawn until it has written the config pointing at its portals (imports and generating the world included).
Its thread count and RSS are read from /proc then, and again after the burst. The burst: one walk per portal
(robots.txt, then its categories' first pages, `--per-portal` requests in all, one keep-alive connection),
at most `--concurrency` walks at once, from one httpx.AsyncClient in this process. Reported: every status
(or error) counted, the burst's wall time, and the simulation's CPU seconds during it. `--loop-workers W`
runs the event loop's site code in a pool of W threads instead of inline (the comparison behind
EventLoopServer's choice); `--client raw` sends the walks from a bare asyncio client, which costs far less CPU
per request than httpx, so that the simulation is what bounds the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
PATHS = ("/robots.txt", "/vi/news/tin-tuc-su-kien/", "/vi/news/cai-cach-hanh-chinh/",
         "/vi/news/van-hoa-xa-hoi/", "/vi/news/thong-bao/")  # fmt: skip


def proc_facts(pid: int) -> dict[str, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "threads": int(status["Threads"]),
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "cpu_s": (int(stat[11]) + int(stat[12])) / ticks,  # utime + stime
    }


async def raw_burst(origins: list[str], per_portal: int, concurrency: int) -> tuple[Counter[str], float]:
    """The same walks from a bare asyncio client (a request written, its answer read by Content-Length): far
    less client CPU per request than httpx, so that the simulation, not the client, is what is measured."""
    outcomes: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def walk(origin: str) -> None:
        host, port = origin.removeprefix("http://").split(":")
        async with gate:
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError as exc:
                outcomes[type(exc).__name__] += per_portal
                return
            try:
                for path in PATHS[:per_portal]:
                    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    await reader.readexactly(length)
                    outcomes[head.split(b" ")[1].decode()] += 1
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                outcomes[type(exc).__name__] += 1
            finally:
                writer.close()

    started = time.monotonic()
    await asyncio.gather(*(walk(origin) for origin in origins))
    return outcomes, time.monotonic() - started


async def burst(origins: list[str], per_portal: int, concurrency: int) -> tuple[Counter[str], float]:
    outcomes: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def walk(origin: str) -> None:
            async with gate:
                for path in PATHS[:per_portal]:
                    try:
                        response = await client.get(origin + path)
                        outcomes[str(response.status_code)] += 1
                    except httpx.HTTPError as exc:
                        outcomes[type(exc).__name__] += 1

        started = time.monotonic()
        await asyncio.gather(*(walk(origin) for origin in origins))
        return outcomes, time.monotonic() - started


def measure(
    portals: int, front_end: str, per_portal: int, concurrency: int, workers: int, client: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        pointed = Path(folder) / "sim.toml"
        command = [sys.executable, str(Path(__file__)), "--child", str(workers), "--config",
                   str(REPO / "config.toml"), "sim", "--portals", str(portals), "--front-end", front_end,
                   "--port-base", "0", "--write-config", str(pointed)]  # fmt: skip
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while not pointed.exists():
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
                time.sleep(0.05)
            # The file is written whole once the portals already serve (cli.simlink.write_pointed_config).
            start_s = time.monotonic() - started
            time.sleep(1)
            at_start = proc_facts(process.pid)
            config = tomllib.loads(pointed.read_text(encoding="utf-8"))
            origins = [p["base_url"] for p in config["portal"]]
            walks = raw_burst if client == "raw" else burst
            outcomes, burst_s = asyncio.run(walks(origins, per_portal, concurrency))
            after = proc_facts(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=120)
    return {"portals": portals, "front_end": front_end, "loop_workers": workers, "client": client,
            "start_s": round(start_s, 1),
            "threads": at_start["threads"], "rss_mb": round(at_start["rss_mb"]),
            "requests": sum(outcomes.values()), "outcomes": dict(outcomes), "burst_s": round(burst_s, 2),
            "sim_cpu_s": round(after["cpu_s"] - at_start["cpu_s"], 2), "threads_after": after["threads"],
            "rss_after_mb": round(after["rss_mb"]), "load": Path("/proc/loadavg").read_text().split()[:3]}  # fmt: skip


def child(workers: int, argv: list[str]) -> None:
    """`cchc sim …` with the event loop's site code in a pool of `workers` threads (0: inline)."""
    sys.path.insert(0, str(REPO))
    import sim.runner
    import sim.serveloop
    from cli.main import main

    if workers:
        pooled = functools.partial(sim.serveloop.EventLoopServer, workers=workers)
        vars(sim.runner).update(EventLoopServer=pooled)  # what Simulation.start() builds
    sys.argv = ["cchc", *argv]
    main()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--portals", type=int, default=2000)
    parser.add_argument("--front-end", nargs="+", default=["event-loop", "threads"])
    parser.add_argument("--per-portal", type=int, default=3, choices=range(1, len(PATHS) + 1))
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--loop-workers", type=int, default=0)
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx")
    args = parser.parse_args()
    for front_end in args.front_end:
        facts = measure(
            args.portals, front_end, args.per_portal, args.concurrency, args.loop_workers, args.client
        )
        print(facts, flush=True)


if __name__ == "__main__":
    main()
