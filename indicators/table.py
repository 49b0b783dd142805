"""The indicator table: per unit and period, each indicator's numerator, denominator, rate, points, status,
rank and sources, and per family (766, PAR) the index, band and rank.

`compute()` is a pure function of the raw figures (indicators/observed.py), the unit list and the
definitions, so the table from a crawl and the table from the simulation's own truth come from the same
code. A cell is never silently zero: `na` (no denominator, or the indicator does not apply), `missing` (no
complete evidence, with the reason), `reported` (the dashboard's score, shown beside ours), or
`provided_by_unit` ("Do đơn vị cung cấp").
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from cchc.settings import Unit
from indicators.definitions import Band, Definitions, Indicator
from indicators.observed import DOSSIER_METRICS, NEWS_METRICS, PROCEDURE_METRICS, SCORE_METRICS

MONTHLY = frozenset(DOSSIER_METRICS) | frozenset(NEWS_METRICS)
INSTANT = frozenset(PROCEDURE_METRICS)
PERIODIC = frozenset(SCORE_METRICS)
PRODUCED = MONTHLY | INSTANT | PERIODIC  # what some probe observes; other inputs come from the unit
PER_MONTHS = {"month": 1, "quarter": 3, "year": 12}
PROVIDED = "provided_by_unit"

COLUMNS = [
    "period", "unit", "unit_name", "kind", "tier", "family", "group", "indicator", "name_vi", "numerator",
    "denominator", "rate", "points", "max_points", "status", "reason", "band", "rank", "coverage", "flag",
    "confidence", "scoring", "threshold", "reported_value", "rule_set", "observation_ids", "snapshot_ids",
]  # fmt: skip


# --- periods ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A month, quarter, half, year or a range of months; `dvcqg_key` is the national portal's own period."""

    key: str
    months: tuple[str, ...]
    dvcqg_key: str | None

    @property
    def start(self) -> date:
        return date.fromisoformat(self.months[0] + "-01")

    @property
    def end(self) -> date:
        year, month = map(int, self.months[-1].split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])

    @property
    def year(self) -> int:
        return int(self.months[0][:4])


def _months(year: int, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{year:04d}-{m:02d}" for m in range(first, last + 1))


def parse_period(text: str, today: date | None = None) -> Period:
    """'2023-09', '2023-Q3', '2023-H1', '2023', '2023-01..2023-08', or 'ytd' (January to the last complete month)."""
    value = text.strip()
    today = today or date.today()
    try:
        if value == "ytd":
            last = today.month - 1
            if last == 0:
                return Period(f"{today.year - 1}", _months(today.year - 1, 1, 12), str(today.year - 1))
            return Period(f"{today.year}-01..{today.year}-{last:02d}", _months(today.year, 1, last), None)
        if ".." in value:
            first, last_text = value.split("..")
            y1, m1 = map(int, first.split("-"))
            y2, m2 = map(int, last_text.split("-"))
            months: list[str] = []
            y, m = y1, m1
            while (y, m) <= (y2, m2):
                months.append(f"{y:04d}-{m:02d}")
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            if not months:
                raise ValueError("the range is empty")
            return Period(value, tuple(months), None)
        year = int(value[:4])
        rest = value[4:]
        if rest == "":
            return Period(value, _months(year, 1, 12), value)
        if rest.startswith("-Q") and rest[2:] in ("1", "2", "3", "4"):
            q = int(rest[2:])
            return Period(value, _months(year, 3 * q - 2, 3 * q), value)
        if rest.startswith("-H") and rest[2:] in ("1", "2"):
            h = int(rest[2:])
            return Period(value, _months(year, 6 * h - 5, 6 * h), value)
        if rest.startswith("-") and rest[1:].isdigit() and 1 <= int(rest[1:]) <= 12:
            return Period(value, (f"{year:04d}-{int(rest[1:]):02d}",), value)
    except ValueError:
        pass
    raise ValueError(
        f"not a period: {text!r}; expected 2023-09, 2023-Q3, 2023-H1, 2023, 2023-01..2023-08 or ytd"
    )


# --- rounding, bands and ranks --------------------------------------------------------------------------------


def half_up(value: float, decimals: int = 2) -> float:
    """Round half up, as the spec displays (2 decimals): bands and ranks use this displayed value."""
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def band_of(index: float, bands: Sequence[Band]) -> str:
    return next(b.name for b in bands if index >= b.min)


def shared_ranks(values: dict[str, float]) -> dict[str, int]:
    """1, 2, 2, 4: ties share a rank, the next rank skips."""
    ordered = sorted(values.values(), reverse=True)
    return {key: 1 + ordered.index(value) for key, value in values.items()}


def tier_of(unit: Unit) -> str:
    return "phong" if unit.kind == "phong" else "phuong_xa"


# --- cells: raw figures for one period ------------------------------------------------------------------------


@dataclass
class Cell:
    value: float | None
    status: str  # ok | na | missing
    reason: str = ""
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)
    observed_at: datetime | None = None


def _applies(unit: Unit, metric: str) -> str:
    """Why a produced metric cannot exist for this unit ("" when it can)."""
    if unit.kind == "phong" and metric in PERIODIC:
        return "the Decision-766 dashboard scores wards and communes, not city departments"
    if unit.kind == "phong" and not unit.dvc_linh_vuc and (metric in DOSSIER_METRICS or metric in INSTANT):
        return "no lĩnh vực is attributed to this phòng (config: dvc_linh_vuc)"
    return ""


def period_cells(
    figures: pd.DataFrame, period: Period, units: Sequence[Unit], with_sources: bool = True
) -> dict[tuple[str, str], Cell]:
    """Each unit's raw figures for a period: monthly counts summed over its months, catalogues as last seen,
    the national portal's period figures as published. A month without complete evidence makes the sum missing."""
    cells: dict[tuple[str, str], Cell] = {}
    wanted = figures[figures["unit"].isin([u.id for u in units])]
    monthly = wanted[wanted["metric"].isin(MONTHLY) & wanted["period"].isin(period.months)]
    if len(monthly):
        ok = monthly["status"] == "ok"
        grouped = monthly.assign(ok_value=monthly["value"].where(ok, 0.0), ok_count=ok.astype(int)).groupby(
            ["unit", "metric"], sort=False
        )
        sums = grouped.agg(value=("ok_value", "sum"), n_ok=("ok_count", "sum"), n=("status", "size"))
        first_bad = monthly[~ok].drop_duplicates(["unit", "metric"]).set_index(["unit", "metric"])
        sources = _sources(monthly) if with_sources else {}
        expected = len(period.months)
        for (unit, metric), row in sums.iterrows():
            obs, snaps = sources.get((unit, metric), ([], []))
            if row["n_ok"] == expected:
                cells[(unit, metric)] = Cell(float(row["value"]), "ok", "", obs, snaps)
            elif (unit, metric) in first_bad.index:
                bad = first_bad.loc[(unit, metric)]
                cells[(unit, metric)] = Cell(
                    None, str(bad["status"]), f"{bad['period']}: {bad['reason']}", obs, snaps
                )
            else:
                seen = set(monthly[(monthly["unit"] == unit) & (monthly["metric"] == metric)]["period"])
                gap = next(m for m in period.months if m not in seen)
                cells[(unit, metric)] = Cell(None, "missing", f"no figures for {gap}", obs, snaps)
    for _kind, rows in (("instant", wanted[wanted["metric"].isin(INSTANT)]),
                       ("periodic", wanted[wanted["metric"].isin(PERIODIC) & (wanted["period"] == period.dvcqg_key)])):  # fmt: skip
        for row in rows.itertuples():
            cells[(row.unit, row.metric)] = Cell(
                None if row.status != "ok" else float(row.value), row.status, row.reason or "",
                list(row.observation_ids) if with_sources else [], list(row.snapshot_ids) if with_sources else [],
                row.observed_at if isinstance(row.observed_at, datetime) else None,
            )  # fmt: skip
    return cells


def _sources(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[list[int], list[int]]]:
    out: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for unit, metric, obs, snaps in zip(
        frame["unit"], frame["metric"], frame["observation_ids"], frame["snapshot_ids"], strict=True
    ):
        entry = out.setdefault((unit, metric), ([], []))
        entry[0].extend(obs)
        entry[1].extend(snaps)
    return out


# --- indicators ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    numerator: float | None
    denominator: float | None
    rate: float | None
    status: str
    reason: str = ""
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)


def _signed(metrics: Iterable[str]) -> list[tuple[str, float]]:
    return [(m.removeprefix("-"), -1.0 if m.startswith("-") else 1.0) for m in metrics]


def _inputs(ind: Indicator, definitions: Definitions) -> Indicator:
    return definitions.scored(ind.same_as) if ind.same_as else ind


def evaluate(
    ind: Indicator, unit: Unit, cells: dict[tuple[str, str], Cell], definitions: Definitions,
    prior: dict[tuple[str, str], Cell], period: Period,
) -> Outcome:  # fmt: skip
    """Numerator, denominator, rate and status of one indicator for one unit (points come after)."""
    source = _inputs(ind, definitions)
    terms = {"numerator": _signed(source.numerator), "denominator": _signed(source.denominator)}
    metrics = [m for side in terms.values() for m, _ in side]
    not_observed = [m for m in metrics if m not in PRODUCED]
    if not_observed:
        return Outcome(
            None, None, None, PROVIDED, f"Do đơn vị cung cấp: {', '.join(dict.fromkeys(not_observed))}"
        )
    for metric in metrics:
        why = _applies(unit, metric)
        if why:
            return Outcome(None, None, None, "na", why)
    obs: list[int] = []
    snaps: list[int] = []
    totals: dict[str, float | None] = {}
    for side, signed in terms.items():
        total = 0.0
        for metric, sign in signed:
            cell = cells.get((unit.id, metric))
            if cell is None:
                return Outcome(None, None, None, "missing", f"no evidence of {metric}")
            if cell.status != "ok" or cell.value is None:
                return Outcome(None, None, None, cell.status if cell.status in ("na", "missing") else "missing",
                               f"{metric}: {cell.reason}")  # fmt: skip
            total += sign * cell.value
            obs += cell.observation_ids
            snaps += cell.snapshot_ids
        totals[side] = total if signed else None
    numerator, denominator = totals["numerator"], totals["denominator"]
    rate: float | None = None
    if denominator is not None:
        if denominator == 0 and source.when_no_denominator == "prior_year":
            received = prior.get((unit.id, source.denominator[0].removeprefix("-")))
            yearly = (
                received.value if received is not None and received.status == "ok" and received.value else 0.0
            )
            denominator = (
                yearly * len(period.months) / 12
            )  # official: ÷ 12 a month, ÷ 4 a quarter, in full a year
            rate = 0.0 if not denominator else (numerator or 0.0) / denominator
        elif denominator == 0:
            return Outcome(numerator, denominator, None, "na", "no denominator in the period (0)", obs, snaps)
        else:
            rate = (numerator or 0.0) / denominator
    if source.multiply_by is not None and rate is not None:
        other = evaluate(definitions.scored(source.multiply_by), unit, cells, definitions, prior, period)
        if other.status != "ok" or other.rate is None:
            return Outcome(
                numerator,
                denominator,
                None,
                other.status,
                f"{source.multiply_by}: {other.reason}",
                obs,
                snaps,
            )
        rate *= min(1.0, other.rate)
        obs += other.observation_ids
        snaps += other.snapshot_ids
    return Outcome(
        numerator, denominator, None if rate is None else min(1.0, max(0.0, rate)), "ok", "", obs, snaps
    )


def points(ind: Indicator, outcome: Outcome, months: int) -> float:
    if ind.scoring == "none" or outcome.status != "ok":
        return 0.0
    if ind.scoring == "count_target":
        assert ind.target is not None
        expected = ind.target * months / PER_MONTHS[ind.per]
        return ind.max_points * min(1.0, (outcome.numerator or 0.0) / expected)
    rate = outcome.rate or 0.0
    if ind.scoring == "threshold":
        assert ind.threshold is not None
        return ind.max_points * min(1.0, rate / ind.threshold)
    return ind.max_points * min(1.0, rate)


# --- the table ----------------------------------------------------------------------------------------------


def compute(
    figures: pd.DataFrame, units: Sequence[Unit], definitions: Definitions, period: Period, *,
    with_sources: bool = True,
) -> pd.DataFrame:  # fmt: skip
    """The indicator table of one period: a row per unit × indicator, then a row per unit × family total."""
    cells = period_cells(figures, period, units, with_sources)
    needs_prior = any(
        _inputs(i, definitions).when_no_denominator == "prior_year" for i in definitions.indicator
    )
    prior = period_cells(figures, parse_period(str(period.year - 1)), units, False) if needs_prior else {}
    rule = definitions.rule_set
    decimals = rule.decimals
    rows: list[dict[str, Any]] = []
    for unit in units:
        for ind in definitions.indicator:
            outcome = evaluate(ind, unit, cells, definitions, prior, period)
            score = points(ind, outcome, len(period.months))
            family = definitions.family_of(ind.group)
            limit = ind.flag_below if ind.flag_below is not None else ind.threshold
            flag = outcome.status == "missing" or (
                outcome.status == "ok"
                and limit is not None
                and outcome.rate is not None
                and outcome.rate < limit
            )
            if ind.scoring == "count_target" and outcome.status == "ok" and ind.target is not None:
                flag = (outcome.numerator or 0.0) < ind.target * len(period.months) / PER_MONTHS[ind.per]
            rows.append(_row(period, unit, family, ind.group, ind.id, ind.name_vi, outcome.numerator, outcome.denominator,
                             outcome.rate, score if outcome.status == "ok" else None, ind.max_points, outcome.status,
                             outcome.reason, flag, ind.confidence, ind.scoring, ind.threshold, None, rule.id,
                             sorted(set(outcome.observation_ids)), sorted(set(outcome.snapshot_ids))))  # fmt: skip
        for reported in definitions.reported_only:
            group = next(g for g in definitions.group if g.id == reported.group)
            values = [cells.get((unit.id, m)) for m in group.reported]
            if unit.kind != "phong" and values and all(v is not None and v.status == "ok" for v in values):
                shown = sum(v.value or 0.0 for v in values if v is not None)
                obs = sorted({i for v in values if v is not None for i in v.observation_ids})
                snaps = sorted({i for v in values if v is not None for i in v.snapshot_ids})
                status, reason = (
                    "reported",
                    f"{group.name_vi}: the dashboard's group score {half_up(shown, decimals)}",
                )
            else:
                shown, obs, snaps = None, [], []
                status, reason = PROVIDED, "Do đơn vị cung cấp (no public count)"
            rows.append(_row(period, unit, definitions.family_of(reported.group), reported.group, reported.id,
                             reported.name_vi, None, None, None, None, reported.max_points, status, reason, False,
                             reported.confidence, "reported", reported.threshold, shown, rule.id, obs, snaps))  # fmt: skip
    table = pd.DataFrame(rows, columns=COLUMNS)
    _rank_indicators(table, decimals)
    totals = _totals(table, units, definitions, cells, period)
    return pd.concat([table, totals], ignore_index=True)


def _row(period: Period, unit: Unit, family: str, group: str, indicator: str, name: str, numerator: float | None,
         denominator: float | None, rate: float | None, score: float | None, max_points: float, status: str, reason: str,
         flag: bool, confidence: str, scoring: str, threshold: float | None, reported: float | None, rule_set: str,
         obs: list[int], snaps: list[int]) -> dict[str, Any]:  # fmt: skip
    return {
        "period": period.key, "unit": unit.id, "unit_name": unit.name, "kind": unit.kind, "tier": tier_of(unit),
        "family": family, "group": group, "indicator": indicator, "name_vi": name, "numerator": numerator,
        "denominator": denominator, "rate": rate, "points": score, "max_points": max_points, "status": status,
        "reason": reason, "band": None, "rank": None, "coverage": None, "flag": flag, "confidence": confidence,
        "scoring": scoring, "threshold": threshold, "reported_value": reported, "rule_set": rule_set,
        "observation_ids": obs, "snapshot_ids": snaps,
    }  # fmt: skip


def _rank_indicators(table: pd.DataFrame, decimals: int) -> None:
    scored = table[table["status"] == "ok"]
    for (_, _), group in scored.groupby(["indicator", "tier"]):
        values = {
            idx: half_up(float(p), decimals) for idx, p in zip(group.index, group["points"], strict=True)
        }
        for idx, rank in shared_ranks(values).items():
            table.at[idx, "rank"] = rank


def _totals(table: pd.DataFrame, units: Sequence[Unit], definitions: Definitions, cells: dict[tuple[str, str], Cell],
            period: Period) -> pd.DataFrame:  # fmt: skip
    rule = definitions.rule_set
    rows: list[dict[str, Any]] = []
    bands = {"766": definitions.bands.i766, "PAR": definitions.bands.par_tayninh}
    for family in ("766", "PAR"):
        mine = table[(table["family"] == family) & (table["scoring"] != "reported")]
        for unit in units:
            rows_u = mine[mine["unit"] == unit.id]
            ok = rows_u[rows_u["status"] == "ok"]
            missing = rows_u[rows_u["status"] == "missing"]
            applicable = float(ok["max_points"].sum())
            earned = float(ok["points"].sum())
            coverage = (
                applicable / (applicable + float(missing["max_points"].sum()))
                if applicable or len(missing)
                else 0.0
            )
            reported = cells.get((unit.id, "i766_score_tong")) if family == "766" else None
            shown = reported.value if reported is not None and reported.status == "ok" else None
            if applicable == 0:
                status = "missing" if len(missing) else "na"
                reason = "no indicator of this family could be scored" + (
                    f": {missing['reason'].iloc[0]}" if len(missing) else ""
                )
                index = None
            else:
                status = "ok"
                index = 100 * earned / applicable
                reason = (
                    ""
                    if coverage == 1
                    else f"incomplete: {len(missing)} indicators without evidence (coverage {coverage:.0%})"
                )
            row = _row(period, unit, family, family, f"TOTAL_{family}", f"Tổng ({'Chỉ số 766' if family == '766' else 'Chỉ số CCHC, minh chứng công khai'})",
                       earned if status == "ok" else None, applicable if status == "ok" else None,
                       None if index is None else index / 100, None if index is None else index, 100.0, status, reason,
                       bool(status != "ok" or coverage < 1), "proposed", "total", None, shown, rule.id, [], [])  # fmt: skip
            row["coverage"] = coverage
            if index is not None:
                row["band"] = band_of(half_up(index, rule.decimals), bands[family])
            rows.append(row)
    totals = pd.DataFrame(rows, columns=COLUMNS)
    for (_, _tier), group in totals[totals["status"] == "ok"].groupby(["family", "tier"]):
        eligible = group[group["coverage"] >= rule.min_coverage_for_rank]
        values = {
            idx: half_up(float(p), rule.decimals)
            for idx, p in zip(eligible.index, eligible["points"], strict=True)
        }
        for idx, rank in shared_ranks(values).items():
            totals.at[idx, "rank"] = rank
        for idx in group.index.difference(eligible.index):
            totals.at[idx, "reason"] = (
                totals.at[idx, "reason"] + "; " if totals.at[idx, "reason"] else ""
            ) + (f"not ranked: coverage below {rule.min_coverage_for_rank:.0%}")
    return totals
