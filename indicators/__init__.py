"""Indicators for analysts: per-unit tables for scoring, every figure with the observations and snapshots
behind it. Reads observations only, never pages.

    >>> import indicators
    >>> frame = indicators.table()                                # the inspection's period (printed in its column)
    >>> frame = indicators.table("2023-Q3")                       # every inspected unit, from the configured store
    >>> frame = indicators.table("2023-09", units=["phuong-3"])   # one unit, one month
    >>> monthly = indicators.trend("phuong-3", "2023-01..2023-09")

Columns of `table()`: period, unit, unit_name, kind, tier (phong | phuong_xa), family (766 | PAR), group,
indicator, name_vi, numerator, denominator, rate, points, max_points, status (ok | na | missing | reported |
provided_by_unit), reason, band, rank (within the tier, over the
period's whole comparison group whatever `units` shows), published_rank (the unit's place in the dashboard's
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
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from cchc.settings import Settings, Unit, load_settings
from indicators.definitions import Definitions, load_definitions
from indicators.observed import DOSSIER_METRICS, SCORE_METRICS, load_observations, raw_figures
from indicators.reconcile import DepartmentCheck, GroupCheck, reconcile_stored
from indicators.reconcile import reconcile as reconcile_months
from indicators.scorecard import Period, compute, parse_period

AS_OF_METRICS = frozenset(DOSSIER_METRICS) | frozenset(SCORE_METRICS)

__all__ = [
    "Definitions",
    "DepartmentCheck",
    "GroupCheck",
    "Period",
    "comparison_group",
    "compute",
    "figures",
    "inspection_period",
    "load_definitions",
    "monthly",
    "parse_period",
    "period_before",
    "previous_period",
    "reconcile",
    "reconcile_months",
    "reconcile_v1",
    "table",
    "trend",
    "within_rule_set",
]


def _context(settings: Settings | None, units: Sequence[str] | None) -> tuple[Settings, list[Unit]]:
    chosen = settings or load_settings()
    if units is None:
        return chosen, chosen.units_in_inspection()
    return chosen, [chosen.unit_by_id(u) for u in units]


def comparison_group(settings: Settings, period: Period) -> list[Unit]:
    """The units a rank compares: every configured unit that existed during the period (its tier decides whom it
    is ranked among). A filter on units only hides rows; it never changes who is compared."""
    return [
        u
        for u in settings.unit
        if u.valid_from <= period.end and (u.valid_to is None or u.valid_to >= period.start)
    ]


def period_before(visit: date) -> str:
    """January of the visit's year up to the last complete month before it (a visit in January: last year)."""
    if visit.month == 1:
        return str(visit.year - 1)
    return f"{visit.year}-01..{visit.year}-{visit.month - 1:02d}"


def inspection_period(settings: Settings, data: pd.DataFrame | None = None) -> str:
    """The period an inspection scores by default, never the computer's clock: with a visit calendar, the
    period before the first visit (every unit is ranked on the same months); else the inspection year up to
    the last month the data reach (its as-of date), or the whole year when no month of it is observed."""
    inspected = {u.id for u in settings.units_in_inspection()}
    visits = sorted(v.date for v in settings.visit if v.unit in inspected)
    if visits:
        return period_before(visits[0])
    year = settings.inspection.year
    last = 12
    if data is not None and len(data):
        # The as-of month: the last one the monthly reports answer for (a news walk counts months to come as 0).
        reported = data[data["metric"].isin(AS_OF_METRICS) & (data["status"] == "ok")]
        months = reported["period"].astype(str)
        seen = months[months.str.fullmatch(rf"{year}-(0[1-9]|1[0-2])")]
        if len(seen):
            last = int(str(seen.max())[5:])
    return str(year) if last == 12 else f"{year}-01..{year}-{last:02d}"


def within_rule_set(period: Period, definitions: Definitions) -> None:
    """A period the rule set does not cover is refused in one line naming both (a 2021 quarter scored under
    the 2023 rules once read as a 'Tốt' unit)."""
    rule = definitions.rule_set
    if period.start < rule.valid_from or (rule.valid_to is not None and period.end > rule.valid_to):
        valid = f"{_day(rule.valid_from)}–{_day(rule.valid_to) if rule.valid_to else '…'}"
        raise ValueError(
            f"kỳ {period.key} ({_day(period.start)}–{_day(period.end)}) nằm ngoài hiệu lực của bộ quy tắc "
            f"{rule.id} ({valid}): chọn kỳ trong thời gian đó, hoặc dùng bộ quy tắc khác"
        )


def _day(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


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
    period: str | None = None,
    *,
    settings: Settings | None = None,
    units: Sequence[str] | None = None,
    engine: Engine | None = None,
    raw: pd.DataFrame | None = None,
    compare: bool = False,
) -> pd.DataFrame:
    """The indicator table of one period (see the module docstring for its columns); no period is the
    inspection's (`inspection_period`). Ranks are over the period's whole comparison group: `units` only
    chooses which rows come back."""
    chosen = settings or load_settings()
    definitions = load_definitions(chosen.indicators.file)
    data: pd.DataFrame | None = raw
    if period is None:
        data = data if data is not None else figures(chosen, engine)
        period = inspection_period(chosen, data)
    wanted = parse_period(period, max_months=chosen.indicators.max_period_months)  # refused before any work
    within_rule_set(wanted, definitions)
    group = comparison_group(chosen, wanted)
    requested = group if units is None else [chosen.unit_by_id(u) for u in units]
    known = {u.id for u in group}
    everyone = group + [u for u in requested if u.id not in known]
    data = data if data is not None else figures(chosen, engine)
    frame = compute(data, everyone, definitions, wanted, ranked=known)
    if units is not None:
        wanted_ids = [u.id for u in requested]
        frame = frame[frame["unit"].isin(wanted_ids)].reset_index(drop=True)
    if compare:
        frame = with_previous(frame, data, requested, definitions, wanted)
    return frame


def reconcile(
    period: str | None = None,
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
    chosen_period = period if period is not None else inspection_period(chosen, data)
    return reconcile_months(data, unit_list, definitions, parse_period(chosen_period).months)


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


def previous_period(period: Period) -> str:
    """The period of the same length that ends the month before this one starts: 2023-Q3 → 2023-04..2023-06
    (2023-09 → 2023-08): the change since the previous period."""
    count = len(period.months)
    year, month = map(int, period.months[0].split("-"))
    start = year * 12 + month - 1 - count
    end = start + count - 1
    first, last = f"{start // 12:04d}-{start % 12 + 1:02d}", f"{end // 12:04d}-{end % 12 + 1:02d}"
    return first if count == 1 else f"{first}..{last}"


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
    value: str = "points",
) -> pd.DataFrame:
    """One unit's indicators month by month over a range ('2023-01..2023-09'): indicator × month → points
    (or another column of the table: `value="rate"`, `"numerator"`)."""
    return monthly(unit, months, settings=settings, engine=engine, raw=raw).pivot_table(
        index="indicator", columns="period", values=value, aggfunc="first", dropna=False
    )


def monthly(
    unit: str,
    months: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    raw: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One unit's table for each month of a range, one under the other (pivot it for points, rates, counts)."""
    chosen, unit_list = _context(settings, [unit])
    span = parse_period(months, max_months=chosen.indicators.max_period_months)
    definitions = load_definitions(chosen.indicators.file)
    data = raw if raw is not None else figures(chosen, engine)
    frames = [compute(data, unit_list, definitions, parse_period(m), with_sources=False) for m in span.months]
    return pd.concat(frames, ignore_index=True)
