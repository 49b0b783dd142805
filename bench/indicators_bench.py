"""Indicator table throughput: 3,300 units × 36 months of raw figures (a province's communes over 3 years).

    .venv/bin/python bench/indicators_bench.py --units 3300 --months 36

Builds synthetic raw figures in the shape indicators/observed.py returns (each figure with its observation
and snapshot ids), then times `compute()` for a month, a quarter and a year, with and without sources.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cchc.settings import Unit
from indicators.definitions import load_definitions
from indicators.observed import COLUMNS, DOSSIER_METRICS, NEWS_METRICS, PROCEDURE_METRICS, SCORE_METRICS
from indicators.scorecard import compute, parse_period

REPO = Path(__file__).resolve().parent.parent


def synthetic(units: int, months: int, seed: int = 7) -> tuple[list[Unit], pd.DataFrame]:
    rng = random.Random(seed)
    unit_list = [
        Unit(id=f"xa-{n:04d}", kind="xa" if n % 3 else "phuong", name=f"UBND Xã {n}", portal="p",
             dvc_donvi_id=10_000 + n, national_id=str(n), ma_coquan=f"000.{n:04d}", valid_from=date(2014, 1, 1))
        for n in range(units)
    ]  # fmt: skip
    month_keys = [f"{2021 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    periods = sorted({k[:4] for k in month_keys}) + [
        f"{y}-Q{q}" for y in sorted({k[:4] for k in month_keys}) for q in range(1, 5)
    ]
    ids = iter(range(1, 10**9))
    rows: dict[str, list[object]] = {c: [] for c in COLUMNS}

    def add(unit: str, metric: str, period: str, value: float) -> None:
        n = next(ids)
        items: tuple[object, ...] = (unit, metric, period, value, "ok", "", None, [n], [n // 7], {})
        for column, item in zip(COLUMNS, items, strict=True):
            rows[column].append(item)

    for u in unit_list:
        for month in month_keys:
            received = rng.randint(50, 800)
            late = rng.randint(0, received // 10)
            values = {"hs_received": received, "hs_received_online": rng.randint(0, received), "hs_synced": received - rng.randint(0, 5),
                      "hs_processed_on_time": received - late, "hs_processed_late": late, "pakn_on_time": rng.randint(0, 3),
                      "pakn_late": rng.randint(0, 1), "news_posts": rng.randint(0, 20), "news_posts_cchc": rng.randint(0, 3)}  # fmt: skip
            for metric in (*DOSSIER_METRICS, *NEWS_METRICS):
                add(u.id, metric, month, float(values.get(metric, rng.randint(0, 10))))
        for metric in PROCEDURE_METRICS:
            add(u.id, metric, "instant", float(rng.randint(40, 140)))
        for period in periods:
            for metric in SCORE_METRICS:
                add(u.id, metric, period, round(rng.uniform(5, 20), 2))
    return unit_list, pd.DataFrame(rows, columns=COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=3300)
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args()
    definitions = load_definitions(REPO / "indicators.toml")
    started = time.monotonic()
    units, figures = synthetic(args.units, args.months)
    print(f"raw figures        {len(figures):,} rows for {args.units:,} units × {args.months} months "
          f"(built in {time.monotonic() - started:.1f} s)")  # fmt: skip
    last_year = str(2021 + (args.months - 1) // 12)
    for period, sources in (
        (f"{last_year}-06", True),
        (f"{last_year}-Q2", True),
        (last_year, True),
        (last_year, False),
    ):
        started = time.monotonic()
        table = compute(figures, units, definitions, parse_period(period), with_sources=sources)
        elapsed = time.monotonic() - started
        print(
            f"table {period:<8} {'with' if sources else 'without'} sources: {elapsed:6.2f} s, {len(table):,} rows"
        )
    print(
        f"command            .venv/bin/python bench/indicators_bench.py --units {args.units} --months {args.months}"
    )


if __name__ == "__main__":
    main()
