"""The scale curve as a chart: bench/scale.py's results (JSON lines) drawn against the number of portals.

    .venv/bin/python bench/scale_chart.py results.jsonl docs/benchmarks-scale.png

Left: the run's wall time, the politeness floor and the CPU floor per database; right: CPU ms per page and
peak RSS. Both axes of the left panel are logarithmic, so that 20 and 2,000 portals share one picture.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path)
    parser.add_argument("png", type=Path)
    args = parser.parse_args()
    rows = [
        json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    figure, (times, costs) = plt.subplots(1, 2, figsize=(11, 4.2))
    # A crawl stopped at --crawl-limit has no curve point; of two runs of one N and database, the later is drawn.
    latest = {(r["portals"], r["database"]): r for r in rows if r.get("complete", True)}
    whole = list(latest.values())
    for database, style in (("sqlite", "-"), ("postgresql", "--")):
        mine = sorted((r for r in whole if r["database"] == database), key=lambda r: r["portals"])
        if not mine:
            continue
        n = [r["portals"] for r in mine]
        times.plot(n, [run_seconds(r) for r in mine], "o" + style, color="C0", label=f"run wall, {database}")
        times.plot(n, [r["cpu_s"] for r in mine], "s" + style, color="C3", label=f"CPU floor, {database}")
        times.plot(n, [r["politeness_floor_s"] for r in mine], ":" if database == "sqlite" else "-.",
                   color="k", label=f"politeness floor, {database}")  # fmt: skip
        costs.plot(
            n, [r["cpu_ms_per_page"] for r in mine], "o" + style, color="C3", label=f"CPU ms/page, {database}"
        )
        costs.plot(
            n, [r["peak_rss_mb"] for r in mine], "^" + style, color="C2", label=f"peak RSS MB, {database}"
        )
    times.set(
        xscale="log", yscale="log", xlabel="portals", ylabel="seconds", title="Crawl time against its floors"
    )
    costs.set(xscale="log", xlabel="portals", title="Cost per page and memory")
    for axis in (times, costs):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.png, dpi=110)
    print(f"written {args.png}")
    print(table(rows))


def run_seconds(row: dict[str, Any]) -> float:
    """The run's own time; results of the first version of bench/scale.py have only the process's."""
    return float(row.get("run_s", row["wall_s"]))


def table(rows: list[dict[str, Any]]) -> str:
    """The results as the markdown table of docs/benchmarks.md."""
    lines = [
        "| portals | database | pages | run wall s | politeness floor s | CPU floor s | run / floor | CPU ms/page "
        "| peak RSS MB | DB MB | blobs MB | journal MB | indicators s | load during |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["portals"], r["database"] != "sqlite")):
        whole = r.get("complete", True)
        ratio = f"{run_seconds(r) / max(r['politeness_floor_s'], r['cpu_s']):.1f}" if whole else "—"
        indicators = f"{r['indicators_s']:.0f}" if r.get("indicators_s") is not None else "—"
        lines.append(
            f"| {r['portals']} | {r['database']} | {r['pages']}{'' if whole else ' †'} "
            f"| {run_seconds(r):.0f}{'' if 'run_s' in r else '*'} "
            f"| {r['politeness_floor_s']:.0f} | {r['cpu_s']:.0f} "
            f"| {ratio} | {r['cpu_ms_per_page']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {r['db_mb']:.1f} | {r['blobs_mb']:.1f} | {r['journal_mb']:.1f} | {indicators} "
            f"| {r['load_before'].split()[0]} → {r['load_after'].split()[0]} |"
        )
    if not all(r.get("complete", True) for r in rows):
        lines.append("")
        lines.append(
            "† stopped at `--crawl-limit`: the pages crawled by then; the floors are not the whole crawl's."
        )
    if any("run_s" not in r for r in rows):
        lines.append("")
        lines.append(
            "\\* the process's wall time, start-up and closing summary included (the run's own was not recorded)."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
