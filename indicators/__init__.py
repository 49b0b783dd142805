"""Indicators for analysts: per-unit tables for scoring, every figure with the observations and snapshots
behind it. Reads observations only, never pages.

    >>> import indicators
    >>> frame = indicators.table("2023-Q3")                       # every inspected unit, from the configured store
    >>> frame = indicators.table("2023-09", units=["phuong-3"])   # one unit, one month
    >>> monthly = indicators.trend("phuong-3", "2023-01..2023-09")

Columns of `table()`: period, unit, unit_name, kind, tier (phong | phuong_xa), family (766 | PAR), group,
indicator, name_vi, numerator, denominator, rate, points, max_points, status (ok | na | missing | reported |
provided_by_unit), reason, band, rank (within the tier), published_rank (the unit's place in the dashboard's
own report), coverage, flag, confidence, scoring, threshold, reported_value (the dashboard's own score),
rule_set, observation_ids, snapshot_ids; with compare=True also previous_period, previous_points and change
(the same period a year earlier). The totals: TOTAL_766, the index the dashboard publishes (banded and ranked
as published); CHECK_766, the points our evidence earns of those it can compute (never banded or ranked);
TOTAL_PAR, the web-evidence PAR index.

    >>> checks = indicators.reconcile("2023-01..2023-08")   # published group scores against the public counts
    >>> checks = indicators.reconcile_v1("2026-08")         # api/v1: every department against its own counts
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy.engine import Engine

from cchc.settings import Settings, Unit, load_settings
from indicators.definitions import Definitions, load_definitions
from indicators.observed import load_observations, raw_figures
from indicators.reconcile import DepartmentCheck, GroupCheck, reconcile_stored
from indicators.reconcile import reconcile as reconcile_months
from indicators.scorecard import Period, compute, parse_period

__all__ = [
    "Definitions",
    "DepartmentCheck",
    "GroupCheck",
    "Period",
    "compute",
    "figures",
    "load_definitions",
    "parse_period",
    "reconcile",
    "reconcile_months",
    "reconcile_v1",
    "table",
    "trend",
]


def _context(settings: Settings | None, units: Sequence[str] | None) -> tuple[Settings, list[Unit]]:
    chosen = settings or load_settings()
    if units is None:
        return chosen, chosen.units_in_inspection()
    return chosen, [chosen.unit_by_id(u) for u in units]


def figures(settings: Settings | None = None, engine: Engine | None = None) -> pd.DataFrame:
    """Raw figures per unit × metric × period, from the evidence database."""
    from evidence.db import open_database

    chosen = settings or load_settings()
    own = engine is None
    db = engine or open_database(chosen.storage.database_url)
    try:
        return raw_figures(db, chosen)
    finally:
        if own:
            db.dispose()


def table(
    period: str = "ytd",
    *,
    settings: Settings | None = None,
    units: Sequence[str] | None = None,
    engine: Engine | None = None,
    raw: pd.DataFrame | None = None,
    compare: bool = False,
) -> pd.DataFrame:
    """The indicator table of one period (see the module docstring for its columns)."""
    chosen, unit_list = _context(settings, units)
    wanted = parse_period(period, max_months=chosen.indicators.max_period_months)  # refused before any work
    definitions = load_definitions(chosen.indicators.file)
    data = raw if raw is not None else figures(chosen, engine)
    frame = compute(data, unit_list, definitions, wanted)
    if compare:
        frame = with_previous(frame, data, unit_list, definitions, wanted)
    return frame


def reconcile(
    period: str = "ytd",
    *,
    settings: Settings | None = None,
    units: Sequence[str] | None = None,
    engine: Engine | None = None,
    raw: pd.DataFrame | None = None,
) -> list[GroupCheck]:
    """Each month of the period: every 766 group's published score against what the public counts allow;
    `[c for c in checks if c.finding]` are "Điểm công bố lệch so với số liệu công khai"."""
    chosen, unit_list = _context(settings, units)
    definitions = load_definitions(chosen.indicators.file)
    data = raw if raw is not None else figures(chosen, engine)
    return reconcile_months(data, unit_list, definitions, parse_period(period).months)


def reconcile_v1(
    period: str = "ytd", *, settings: Settings | None = None, engine: Engine | None = None
) -> list[DepartmentCheck]:
    """Each department of every stored api/v1 answer of the period's months, quarters and year: its published group
    score against what its own published counts give by the dashboard's formulas (rule set dvcqg-v1)."""
    chosen = settings or load_settings()
    definitions = load_definitions(chosen.indicators.file)
    wanted = parse_period(period, max_months=chosen.indicators.max_period_months)
    from evidence.db import open_database

    # The months of the period, and the quarters and years it holds whole (api/v1 answers those too).
    months = set(wanted.months)
    keys = set(months)
    for year in {m[:4] for m in months}:
        quarters = {q: {f"{year}-{3 * q - k:02d}" for k in range(3)} for q in range(1, 5)}
        keys |= {f"{year}-Q{q}" for q, inside in quarters.items() if inside <= months}
        if all(f"{year}-{m:02d}" in months for m in range(1, 13)):
            keys.add(year)
    own = engine is None
    db = engine or open_database(chosen.storage.database_url)
    try:
        return reconcile_stored(
            load_observations(db, ["report_row", "report_parent"]), definitions, sorted(keys)
        )
    finally:
        if own:
            db.dispose()


def with_previous(frame: pd.DataFrame, data: pd.DataFrame, units: Sequence[Unit], definitions: Definitions,
                  period: Period) -> pd.DataFrame:  # fmt: skip
    """The same period a year earlier beside this one: for re-inspections, the change since the last visit."""
    earlier = parse_period(_year_before(period.key), max_months=len(period.months))
    before = compute(data, units, definitions, earlier, with_sources=False)[["unit", "indicator", "points"]]
    merged = frame.merge(
        before.rename(columns={"points": "previous_points"}), on=["unit", "indicator"], how="left"
    )
    merged["previous_period"] = earlier.key
    merged["change"] = merged["points"] - merged["previous_points"]
    return merged


def _year_before(key: str) -> str:
    if ".." in key:
        first, last = key.split("..")
        return f"{int(first[:4]) - 1}{first[4:]}..{int(last[:4]) - 1}{last[4:]}"
    return f"{int(key[:4]) - 1}{key[4:]}"


def trend(
    unit: str,
    months: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    raw: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One unit's indicators month by month over a range ('2023-01..2023-09'): indicator × month → points."""
    chosen, unit_list = _context(settings, [unit])
    span = parse_period(months, max_months=chosen.indicators.max_period_months)
    definitions = load_definitions(chosen.indicators.file)
    data = raw if raw is not None else figures(chosen, engine)
    frames = [compute(data, unit_list, definitions, parse_period(m), with_sources=False) for m in span.months]
    long = pd.concat(frames, ignore_index=True)
    return long.pivot_table(
        index="indicator", columns="period", values="points", aggfunc="first", dropna=False
    )
