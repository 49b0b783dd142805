"""Where a suite run's CPU went: per module (tests.jsonl) and per kind of process (processes.jsonl).

.venv/bin/python bench/suite_cpu/report.py DIR [--top N]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

LIGHT_S = 2.5  # a CLI process under this much CPU did little besides starting


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _kind(argv: list[str]) -> str:
    if "-m" in argv:
        rest = argv[argv.index("-m") + 1 :]
        words = [a for a in rest[1:] if not a.startswith(("-", "/"))]
        return f"-m {rest[0]} {words[0] if words else ''}".strip()
    if any("xdist" in a or "exec(eval(" in a for a in argv):
        return "pytest worker"
    return Path(argv[1]).name if len(argv) > 1 else argv[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    tests = _rows(args.folder / "tests.jsonl")
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in tests:
        entry = modules[row["test"].split("::")[0]]
        entry[0] += row["cpu_s"]
        entry[1] += row["wall_s"]
        entry[2] += 1
    print(f"{len(tests)} tests, {sum(r['cpu_s'] for r in tests):.0f} CPU-s noted by the tests' processes")
    print(f"{'module':50} {'CPU s':>8} {'wall s':>8} {'tests':>6}")
    for name, (cpu, wall, count) in sorted(modules.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{name:50} {cpu:8.1f} {wall:8.1f} {count:6.0f}")
    processes = _rows(args.folder / "processes.jsonl")
    kinds: dict[str, list[float]] = defaultdict(list)
    for row in processes:
        kinds[_kind(row["argv"])].append(row["cpu_s"])
    print(f"\n{len(processes)} Python processes, {sum(r['cpu_s'] for r in processes):.0f} CPU-s of their own")
    print(f"{'kind':40} {'CPU s':>8} {'count':>6} {'median s':>9}")
    for kind, cpus in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))[: args.top]:
        print(f"{kind:40} {sum(cpus):8.1f} {len(cpus):6d} {statistics.median(cpus):9.2f}")
    cli = [c for kind, cpus in kinds.items() if kind.startswith("-m cli") for c in cpus]
    light = [c for c in cli if c < LIGHT_S]
    if cli:
        print(f"\nCLI processes: {len(cli)}, {sum(cli):.0f} CPU-s; {len(light)} under {LIGHT_S} s each "
              f"({sum(light):.0f} CPU-s, median {statistics.median(light) if light else 0:.2f} s)")  # fmt: skip

    _sampled(args.folder, tests, args.top)


def _sampled(folder: Path, tests: list[dict[str, Any]], top: int) -> None:
    """From sampler.py's samples: the machine's CPU per command name, and per module counting every process
    under the worker that ran it (Chromium, the forkserver's runs, the daemon's jobs), by the second."""
    samples = _rows(folder / "samples.jsonl")
    if not samples:
        return
    names: dict[str, float] = defaultdict(float)
    for row in samples:
        names[row["comm"]] += row["cpu_s"]
    print(f"\nthe machine, sampled: {sum(names.values()):.0f} CPU-s")
    print(f"{'command name':40} {'CPU s':>8}")
    for name, cpu in sorted(names.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{name:40} {cpu:8.1f}")
    running: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for row in tests:
        if "start" in row:
            running[row["worker"]].append(
                (row["start"], row["start"] + row["wall_s"], row["test"].split("::")[0])
            )
    modules: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in samples:
        # a sample covers the second before it: the test running then on that worker, else the worker's gaps
        module = next((m for start, end, m in running.get(row["worker"], []) if start - 1 <= row["second"] <= end + 1),
                      f"(no test: {row['worker']})")  # fmt: skip
        modules[module][row["comm"]] += row["cpu_s"]
    print(f"\n{'module (every process under its worker)':50} {'CPU s':>8} {'of it chromium':>15}")
    for module, by_name in sorted(modules.items(), key=lambda kv: -sum(kv[1].values()))[:top]:
        print(f"{module:50} {sum(by_name.values()):8.1f} {by_name.get('chromium', 0.0):15.1f}")


if __name__ == "__main__":
    main()
