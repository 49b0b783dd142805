"""Every process's CPU on the machine, sampled from /proc while a suite runs: what the plugin cannot see.

The plugin (suite_cpu_plugin.py) notes a test's own process and the children it waited for. The forkserver's CLI
runs (tests/cli_process.py), Chromium under Playwright's driver, PostgreSQL's server and the machine's other
services escape it. This reads every process's CPU time every 0.25 s and keeps each second's increase per command
name and per pytest worker (the worker a process descends from: the plugin writes each worker's pid to
workers.jsonl). report.py joins the samples with the tests' start and end times.

  .venv/bin/python bench/suite_cpu/sampler.py /tmp/x --seconds 1800 &
  SUITE_CPU_DIR=/tmp/x PYTHONPATH=$PWD/bench/suite_cpu .venv/bin/pytest -p suite_cpu_plugin -n 2 --dist loadscope
  .venv/bin/python bench/suite_cpu/report.py /tmp/x

A process that starts and ends between two reads is missed (at most 0.25 s of CPU each); one first seen already
running counts the CPU it had used before (its whole life, if it started within the last quarter second).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections import defaultdict
from pathlib import Path
from types import FrameType

PERIOD_S = 0.25
SAVE_EVERY_S = 10.0
TICKS = os.sysconf("SC_CLK_TCK")
NO_WORKER = "-"


def read_processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, parent pid, CPU ticks used: user + system)."""
    found: dict[int, tuple[str, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # it ended meanwhile
        name_end = text.rindex(")")
        fields = text[name_end + 2 :].split()
        found[int(entry.name)] = (
            text[text.index("(") + 1 : name_end],
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
        )
    return found


def read_workers(folder: Path) -> dict[int, str]:
    path = folder / "workers.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {int(row["pid"]): str(row["worker"]) for row in rows}


def worker_of(pid: int, processes: dict[int, tuple[str, int, int]], workers: dict[int, str]) -> str:
    for _ in range(64):  # a bound on the walk up: a pid reused mid-walk cannot loop it
        if pid in workers:
            return workers[pid]
        if pid not in processes:
            return NO_WORKER
        pid = processes[pid][1]
    return NO_WORKER


def save(folder: Path, used: dict[tuple[str, str, int], float]) -> None:
    lines = [
        json.dumps({"comm": c, "worker": w, "second": s, "cpu_s": round(v, 3)})
        for (c, w, s), v in used.items()
    ]
    temporary = folder / "samples.jsonl.part"
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(folder / "samples.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="the run's SUITE_CPU_DIR")
    parser.add_argument("--seconds", type=float, default=3600.0, help="stop after this long (or at SIGTERM)")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    baseline = read_processes()  # what ran before the suite is not the suite's
    last = {pid: ticks for pid, (_, _, ticks) in baseline.items()}
    used: defaultdict[tuple[str, str, int], float] = defaultdict(float)
    end, saved = time.monotonic() + args.seconds, time.monotonic()
    while not stopping and time.monotonic() < end:
        time.sleep(PERIOD_S)
        processes, workers, second = read_processes(), read_workers(args.folder), int(time.time())
        for pid, (name, _, ticks) in processes.items():
            # by pid, not by name: a kernel worker renames itself for each queue it serves, and exec keeps the
            # times (chromium was node's fork a moment before)
            grown = ticks - last.get(pid, 0)
            last[pid] = ticks
            if grown > 0:
                used[(name, worker_of(pid, processes, workers), second)] += grown / TICKS
        if time.monotonic() - saved > SAVE_EVERY_S:
            save(args.folder, used)
            saved = time.monotonic()
    save(args.folder, used)


if __name__ == "__main__":
    main()
