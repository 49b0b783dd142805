"""The indicator table: per unit and period, each indicator's numerator, denominator, rate, points, status and
sources, then three totals per unit:

- TOTAL_766, "Chỉ số 766 (Cổng DVCQG công bố)": the index the national dashboard publishes, with its snapshot,
  banded and ranked within the tier on the published value (and the dashboard's own place, `published_rank`);
- CHECK_766, "Điểm 766 kiểm chứng được": the points our evidence earns of the points it can compute, with its
  coverage of the 100; never banded or ranked, never a score out of 100;
- TOTAL_PAR: the web-evidence PAR index, 100 × points ÷ applicable maximum (Tây Ninh's practice), banded and
  ranked when its coverage reaches the floor.

`compute()` is a pure function of the raw figures (indicators/observed.py), the unit list and the
definitions, so the table from a crawl and the table from the simulation's own truth come from the same
code. A cell is never silently zero: `na` (no denominator, or the indicator does not apply), `missing` (no
complete evidence, with the reason), `reported` (the dashboard's score, shown beside ours), or
`provided_by_unit` ("Do đơn vị cung cấp"). Ranks of single indicators are given for the PAR family only.
"""

from __future__ import annotations

import calendar
import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from cchc.settings import Unit
from indicators.definitions import NO_DENOMINATOR_TEXT, Band, Definitions, Indicator
from indicators.observed import DOSSIER_METRICS, NEWS_METRICS, PROCEDURE_METRICS, RANK_METRICS, SCORE_METRICS

MONTHLY = frozenset(DOSSIER_METRICS) | frozenset(NEWS_METRICS)
INSTANT = frozenset(PROCEDURE_METRICS)
PERIODIC = frozenset(SCORE_METRICS) | frozenset(RANK_METRICS)
NO_DENOMINATOR = "no denominator in the period (0)"
PROVINCE_LEVEL = "measured for the whole province, not for a unit (province-level indicator)"
PUBLISHED = "i766_score_tong"
PRODUCED = MONTHLY | INSTANT | PERIODIC  # what some probe observes; other inputs come from the unit
PER_MONTHS = {"month": 1, "quarter": 3, "year": 12}
PROVIDED = "provided_by_unit"
NOT_GRADED = "not graded"  # a total below rule_set.min_coverage: figures without a grade or a rank
UNCOVERED_JOIN = " · "  # between the names of what a total does not cover (names may hold commas)

COLUMNS = [
    "period", "unit", "unit_name", "kind", "tier", "family", "group", "indicator", "name_vi", "numerator",
    "denominator", "rate", "points", "max_points", "status", "reason", "band", "rank", "published_rank",
    "coverage", "flag", "confidence", "scoring", "threshold", "reported_value", "rule_set", "observation_ids",
    "snapshot_ids",
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


MAX_PERIOD_MONTHS = 120  # the default of indicators.max_period_months: ten years of months
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_YEAR = re.compile(r"([0-9]{4})(?:-(Q[1-4]|H[12]|[0-9]{2}))?")
PERIOD_FORMS = "2023-09, 2023-Q3, 2023-H1, 2023, 2023-01..2023-08 or ytd"


def _months(year: int, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{year:04d}-{m:02d}" for m in range(first, last + 1))


def _month(text: str, whole: str) -> tuple[int, int]:
    """YYYY-MM with a month from 01 to 12 (a month 13 once made a range that never ended)."""
    match = _MONTH.fullmatch(text)
    if match is None:
        raise ValueError(f"not a period: {whole!r}; {text!r} is not a month like 2023-09")
    year, month = int(match.group(1)), int(match.group(2))
    if year < 1 or not 1 <= month <= 12:
        raise ValueError(
            f"not a period: {whole!r}; in {text!r}, years run from 0001 and months from 01 to 12"
        )
    return year, month


def _within(span: int, text: str, max_months: int) -> None:
    if span > max_months:
        raise ValueError(
            f"period too long: {text!r} spans {span} months, more than the {max_months} allowed "
            "(indicators.max_period_months)"
        )


def parse_period(text: str, today: date | None = None, *, max_months: int = MAX_PERIOD_MONTHS) -> Period:
    """'2023-09', '2023-Q3', '2023-H1', '2023', '2023-01..2023-08', or 'ytd' (January to the last complete month).

    Months run from 01 to 12 and a period spans at most `max_months` months (indicators.max_period_months);
    anything else is a ValueError with a one-line message, raised before any month is listed.
    """
    value = text.strip()
    today = today or date.today()
    if value == "ytd":
        last = today.month - 1
        if last == 0:
            _within(12, text, max_months)
            return Period(f"{today.year - 1}", _months(today.year - 1, 1, 12), str(today.year - 1))
        _within(last, text, max_months)
        return Period(f"{today.year}-01..{today.year}-{last:02d}", _months(today.year, 1, last), None)
    if ".." in value:
        first, _, last_text = value.partition("..")
        (y1, m1), (y2, m2) = _month(first, text), _month(last_text, text)
        start, end = y1 * 12 + m1 - 1, y2 * 12 + m2 - 1  # months since year 0
        if end < start:
            raise ValueError(f"not a period: {text!r}; the range ends before it starts")
        _within(end - start + 1, text, max_months)
        months = tuple(f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(start, end + 1))
        return Period(value, months, None)
    match = _YEAR.fullmatch(value)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"not a period: {text!r}; expected {PERIOD_FORMS}")
    year, rest = int(match.group(1)), match.group(2)
    if rest is None:
        period = Period(value, _months(year, 1, 12), value)
    elif rest.startswith("Q"):
        q = int(rest[1:])
        period = Period(value, _months(year, 3 * q - 2, 3 * q), value)
    elif rest.startswith("H"):
        h = int(rest[1:])
        period = Period(value, _months(year, 6 * h - 5, 6 * h), value)
    else:
        _, month = _month(value, text)
        period = Period(value, (f"{year:04d}-{month:02d}",), value)
    _within(len(period.months), text, max_months)
    return period


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
class Cells:
    """A period's raw figures as unit × metric matrices: value (NaN unless ok), status, and, sparsely, the
    reason of each cell that is not ok and the sources of each cell."""

    units: list[str]
    value: pd.DataFrame
    status: pd.DataFrame  # ok | na | missing | "" (no figure at all)
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    sources: dict[tuple[str, str], tuple[list[int], list[int]]] = field(default_factory=dict)
    # Monthly cells gather their sources lazily: most cells of a big table are never cited.
    _positions: dict[tuple[str, str], Any] = field(default_factory=dict)
    _row_sources: tuple[list[list[int]], list[list[int]]] = ([], [])
    unions: dict[tuple[str, tuple[str, ...]], tuple[list[int], list[int]]] = field(default_factory=dict)
    _single: tuple[np.ndarray, np.ndarray, np.ndarray] | None = (
        None  # first ids, and whether a row has exactly one
    )

    def sources_of(self, key: tuple[str, str]) -> tuple[list[int], list[int]] | None:
        found = self.sources.get(key)
        if found is None and key in self._positions:
            rows = self._positions.pop(key)
            if self._single is not None and self._single[2][rows].all():
                # Every figure of this cell has one observation: gather them with one numpy take.
                found = (self._single[0][rows].tolist(), self._single[1][rows].tolist())
            else:
                observations, snapshots = self._row_sources
                found = (
                    list(chain.from_iterable(observations[i] for i in rows)),
                    list(chain.from_iterable(snapshots[i] for i in rows)),
                )
            self.sources[key] = found
        return found


def _applies(unit: Unit, metric: str) -> str:
    """Why a produced metric cannot exist for this unit ("" when it can)."""
    if unit.kind == "phong" and metric in PERIODIC:
        return "the Decision-766 dashboard scores wards and communes, not city departments"
    if unit.kind == "phong" and not unit.dvc_linh_vuc and (metric in DOSSIER_METRICS or metric in INSTANT):
        return "no lĩnh vực is attributed to this phòng (config: dvc_linh_vuc)"
    return ""


def period_cells(
    figures: pd.DataFrame,
    period: Period,
    units: Sequence[Unit],
    with_sources: bool = True,
    metrics: Iterable[str] | None = None,
) -> Cells:
    """Each unit's raw figures for a period: monthly counts summed over its months, catalogues as last seen,
    the national portal's period figures as published. A month without complete evidence makes the sum missing."""
    ids = [u.id for u in units]
    wanted = figures if set(figures["unit"].unique()) <= set(ids) else figures[figures["unit"].isin(ids)]
    if metrics is not None:
        wanted = wanted[wanted["metric"].isin(list(metrics))]
    reasons: dict[tuple[str, str], str] = {}
    sources: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    values: list[pd.Series] = []
    statuses: list[pd.Series] = []
    monthly = wanted[wanted["metric"].isin(MONTHLY) & wanted["period"].isin(period.months)]
    if len(monthly):
        ok = monthly["status"] == "ok"
        keys = [monthly["unit"], monthly["metric"]]
        sums = monthly["value"].where(ok, 0.0).groupby(keys, sort=False).sum()
        counts = ok.groupby(keys, sort=False).agg(["sum", "size"])
        expected = len(period.months)
        status = pd.Series("missing", index=sums.index, dtype=object)
        status[counts["sum"] == expected] = "ok"
        values.append(sums.where(status == "ok"))
        bad_rows = monthly[~ok].drop_duplicates(["unit", "metric"])
        for unit, metric, state, month, reason in zip(
            *(bad_rows[c].tolist() for c in ("unit", "metric", "status", "period", "reason")), strict=True
        ):
            status.at[(unit, metric)] = state
            reasons[(unit, metric)] = f"{month}: {reason}"
        short = counts.index[(counts["size"] < expected).to_numpy()]
        if len(short):
            seen = monthly.groupby(keys, sort=False)["period"].agg(set)
            for key in short:
                if key not in reasons:
                    gap = next(m for m in period.months if m not in seen[key])
                    reasons[key] = f"no figures for {gap}"
        statuses.append(status)
        if with_sources:
            positions = monthly.groupby(keys, sort=False).indices
            row_sources = (monthly["observation_ids"].tolist(), monthly["snapshot_ids"].tolist())
    other = wanted[
        wanted["metric"].isin(INSTANT)
        | (wanted["metric"].isin(PERIODIC) & (wanted["period"] == period.dvcqg_key))
    ]
    if len(other):
        index = pd.MultiIndex.from_arrays([other["unit"], other["metric"]])
        state = pd.Series(other["status"].to_numpy(dtype=object), index=index)
        values.append(pd.Series(other["value"].to_numpy(dtype=float), index=index).where(state == "ok"))
        statuses.append(state)
        for unit, metric, st, reason, obs, snaps in zip(
            *(
                other[c].tolist()
                for c in ("unit", "metric", "status", "reason", "observation_ids", "snapshot_ids")
            ),
            strict=True,
        ):
            if st != "ok":
                reasons[(unit, metric)] = reason or ""
            if with_sources:
                sources[(unit, metric)] = (list(obs), list(snaps))
    if values:
        value = pd.concat(values).unstack().reindex(index=ids)
        status_frame = pd.concat(statuses).unstack().reindex(index=ids).fillna("")
    else:
        value = pd.DataFrame(index=ids, dtype=float)
        status_frame = pd.DataFrame(index=ids, dtype=object)
    cells = Cells(ids, value, status_frame, reasons, sources)
    if len(monthly) and with_sources:
        cells._positions, cells._row_sources = dict(positions), row_sources
        obs_count, first_obs = _first_ids(row_sources[0])
        snap_count, first_snap = _first_ids(row_sources[1])
        cells._single = (first_obs, first_snap, (obs_count == 1) & (snap_count == 1))
    return cells


def _first_ids(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """How many ids each row has, and its first (-1 for none), without a Python loop per row."""
    counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(counts.sum()))
    if not len(flat):
        return counts, np.full(len(rows), -1, dtype=np.int64)
    starts = np.minimum(np.cumsum(counts) - counts, len(flat) - 1)
    return counts, np.where(counts > 0, flat[starts], -1)


# --- indicators ---------------------------------------------------------------------------------------------


@dataclass
class Scored:
    """One indicator over all units: vectors aligned with the unit list."""

    numerator: np.ndarray
    denominator: np.ndarray
    rate: np.ndarray
    status: np.ndarray  # object: ok | na | missing | provided_by_unit
    reason: np.ndarray  # object
    inputs: list[str]
    fixed: np.ndarray | None = None  # share of the maximum a rule gives with no denominator (NaN: none)


def _signed(metrics: Iterable[str]) -> list[tuple[str, float]]:
    return [(m.removeprefix("-"), -1.0 if m.startswith("-") else 1.0) for m in metrics]


def _inputs(ind: Indicator, definitions: Definitions) -> Indicator:
    return definitions.scored(ind.same_as) if ind.same_as else ind


def evaluate(
    ind: Indicator, units: Sequence[Unit], cells: Cells, definitions: Definitions, prior: Cells, period: Period,
    cache: dict[str, Scored] | None = None,
) -> Scored:  # fmt: skip
    """Numerator, denominator, rate and status of one indicator for every unit at once (points come after)."""
    cache = {} if cache is None else cache
    if ind.id in cache:
        return cache[ind.id]
    source = _inputs(ind, definitions)
    count = len(units)
    numerator, denominator = np.zeros(count), np.full(count, np.nan)
    status = np.full(count, "ok", dtype=object)
    reason = np.full(count, "", dtype=object)
    terms = {"numerator": _signed(source.numerator), "denominator": _signed(source.denominator)}
    metrics = [m for side in terms.values() for m, _ in side]
    inputs = list(dict.fromkeys(metrics))
    not_observed = [m for m in inputs if m not in PRODUCED]
    if not_observed:
        status[:] = PROVIDED
        reason[:] = f"Do đơn vị cung cấp: {', '.join(not_observed)}"
        scored = Scored(
            np.full(count, np.nan), np.full(count, np.nan), np.full(count, np.nan), status, reason, inputs
        )
        cache[ind.id] = scored
        return scored
    pending = np.ones(count, dtype=bool)  # units whose status is still ok
    for n, unit in enumerate(units):
        why = next((w for m in inputs if (w := _applies(unit, m))), "")
        if why:
            status[n], reason[n], pending[n] = "na", why, False
    for metric in inputs:
        column = (
            cells.status[metric].to_numpy(dtype=object)
            if metric in cells.status.columns
            else np.full(count, "", dtype=object)
        )
        bad = pending & (column != "ok")
        for at in np.flatnonzero(bad).tolist():
            state = column[at]
            status[at] = state if state in ("na", "missing") else "missing"
            cause = cells.reasons.get((units[at].id, metric))
            reason[at] = f"{metric}: {cause}" if cause else f"no evidence of {metric}"
        pending &= ~bad
    for side, signed in terms.items():
        if not signed:
            continue
        total = np.zeros(count)
        for metric, sign in signed:
            total = total + sign * np.nan_to_num(
                cells.value[metric].to_numpy(dtype=float)
                if metric in cells.value.columns
                else np.zeros(count)
            )
        if side == "numerator":
            numerator = total
        else:
            denominator = total
    rate = np.full(count, np.nan)
    fixed = np.full(count, np.nan)
    if source.denominator:
        zero = pending & (denominator == 0)
        # prior_year is about the inputs (1.4's denominator); na, zero and full are the indicator's own rule.
        rule = "prior_year" if source.when_no_denominator == "prior_year" else ind.when_no_denominator
        if rule == "prior_year" and zero.any():
            metric = source.denominator[0].removeprefix("-")
            yearly = (
                np.nan_to_num(prior.value[metric].to_numpy(dtype=float))
                if metric in prior.value.columns
                else np.zeros(count)
            )
            prior_ok = (
                prior.status[metric].to_numpy(dtype=object) == "ok"
                if metric in prior.status.columns
                else np.zeros(count, bool)
            )
            substitute = (
                np.where(prior_ok, yearly, 0.0) * len(period.months) / 12
            )  # official: ÷ 12 a month, ÷ 4 a quarter
            denominator = np.where(zero, substitute, denominator)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(zero, np.where(substitute > 0, numerator / substitute, 0.0), rate)
        elif rule in ("zero", "full") and zero.any():
            fixed[zero] = 1.0 if rule == "full" else 0.0
            reason[zero] = f"{NO_DENOMINATOR}: {NO_DENOMINATOR_TEXT[rule]} (when_no_denominator = {rule})"
            pending &= ~zero  # scored (ok), without a rate
        elif zero.any():
            status[zero], reason[zero] = "na", NO_DENOMINATOR
            pending &= ~zero
        regular = pending & (denominator != 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(regular, numerator / denominator, rate)
    if source.multiply_by is not None:
        other = evaluate(
            definitions.scored(source.multiply_by), units, cells, definitions, prior, period, cache
        )
        blocked = pending & (other.status != "ok")
        for at in np.flatnonzero(blocked).tolist():
            status[at], reason[at] = other.status[at], f"{source.multiply_by}: {other.reason[at]}"
        pending &= ~blocked
        rate = rate * np.minimum(1.0, np.nan_to_num(other.rate))
        inputs = list(dict.fromkeys(inputs + other.inputs))
    rate = np.where(pending & ~np.isnan(rate), np.clip(rate, 0.0, 1.0), np.nan)
    numerator = np.where(status == PROVIDED, np.nan, numerator)
    scored = Scored(
        numerator,
        denominator if source.denominator else np.full(count, np.nan),
        rate,
        status,
        reason,
        inputs,
        fixed,
    )
    cache[ind.id] = scored
    return scored


def points(ind: Indicator, scored: Scored, months: int) -> np.ndarray:
    ok = scored.status == "ok"
    if ind.scoring == "none":
        values = np.zeros(len(ok))
    elif ind.scoring == "count_target":
        assert ind.target is not None
        expected = ind.target * months / PER_MONTHS[ind.per]
        values = ind.max_points * np.minimum(1.0, np.nan_to_num(scored.numerator) / expected)
    elif ind.scoring == "threshold":
        assert ind.threshold is not None
        values = ind.max_points * np.minimum(1.0, np.nan_to_num(scored.rate) / ind.threshold)
    else:
        values = ind.max_points * np.minimum(1.0, np.nan_to_num(scored.rate))
    if scored.fixed is not None:
        values = np.where(np.isnan(scored.fixed), values, ind.max_points * np.nan_to_num(scored.fixed))
    return np.where(ok, values, np.nan)


# --- the table ----------------------------------------------------------------------------------------------


def compute(
    figures: pd.DataFrame, units: Sequence[Unit], definitions: Definitions, period: Period, *,
    with_sources: bool = True, ranked: Iterable[str] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The indicator table of one period: a row per unit × indicator, then a row per unit × family total.
    Ranks compare the units of `ranked` (default: all of them) within their tier; others get no rank."""
    with _collector_paused():
        group = None if ranked is None else frozenset(ranked)
        return _table(figures, list(units), definitions, period, with_sources, group)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A table allocates a great many small lists, and each full collection they trigger walks every id list
    of the figures (0.5 s for 2 M rows). Nothing here forms a cycle, so the collector waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Tally:
    """Per unit, what one family's indicators came to: points earned, maxima by status, the first gap's reason."""

    earned: np.ndarray
    scored_max: np.ndarray  # of the indicators scored from our evidence (ok)
    na_max: np.ndarray  # of the indicators that do not apply (no denominator, or not to this unit)
    missing_max: np.ndarray
    missing_n: np.ndarray
    others_n: np.ndarray  # reported, provided by the unit, N/A: scored by someone else, or by no one
    first_missing: np.ndarray
    uncovered: list[list[str]] = field(default_factory=list)  # names of what applies but is not scored

    @classmethod
    def empty(cls, count: int) -> _Tally:
        zeros = np.zeros(count)
        return cls(zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), np.zeros(count, dtype=int),
                   np.zeros(count, dtype=int), np.full(count, "", dtype=object), [[] for _ in range(count)])  # fmt: skip

    def add(self, status: np.ndarray, reason: np.ndarray, score: np.ndarray, max_points: float,
            name: str = "") -> None:  # fmt: skip
        ok, missing, na = status == "ok", status == "missing", status == "na"
        for at in np.flatnonzero(~ok & ~na).tolist():
            self.uncovered[at].append(name)
        self.earned += np.where(ok, np.nan_to_num(score), 0.0)
        self.scored_max += np.where(ok, max_points, 0.0)
        self.na_max += np.where(na, max_points, 0.0)
        self.missing_max += np.where(missing, max_points, 0.0)
        self.missing_n += missing.astype(int)
        self.others_n += (~ok & ~missing).astype(int)
        self.first_missing = np.where(missing & (self.first_missing == ""), reason, self.first_missing)


def _table(
    figures: pd.DataFrame, units: list[Unit], definitions: Definitions, period: Period, with_sources: bool,
    ranked: frozenset[str] | None = None,
) -> pd.DataFrame:  # fmt: skip
    cells = period_cells(figures, period, units, with_sources)
    prior_metrics = {m.removeprefix("-") for i in definitions.indicator if _inputs(i, definitions).when_no_denominator == "prior_year"
                     for m in _inputs(i, definitions).denominator}  # fmt: skip
    prior = (
        period_cells(figures, parse_period(str(period.year - 1)), units, False, prior_metrics)
        if prior_metrics
        else cells
    )
    rule = definitions.rule_set
    families = {g.id: g.family for g in definitions.group}
    groups = {g.id: g for g in definitions.group}
    months = len(period.months)
    count = len(units)
    base: dict[str, list[str]] = {"period": [period.key] * count, "unit": [u.id for u in units], "unit_name": [u.name for u in units],
            "kind": [u.kind for u in units], "tier": [tier_of(u) for u in units]}  # fmt: skip
    frames: list[pd.DataFrame] = []
    tally = {f: _Tally.empty(count) for f in ("766", "PAR")}
    cache: dict[str, Scored] = {}
    for ind in definitions.indicator:
        scored = evaluate(ind, units, cells, definitions, prior, period, cache)
        score = points(ind, scored, months)
        family = families[ind.group]
        ok, missing = scored.status == "ok", scored.status == "missing"
        limit = ind.flag_below if ind.flag_below is not None else ind.threshold
        if ind.scoring == "count_target" and ind.target is not None:
            below = np.nan_to_num(scored.numerator) < ind.target * months / PER_MONTHS[ind.per]
        elif limit is not None:
            below = np.nan_to_num(scored.rate, nan=1.0) < limit
        else:
            below = np.zeros(count, dtype=bool)
        tally[family].add(scored.status, scored.reason, score, ind.max_points, ind.name_vi)
        frame = pd.DataFrame({**base, "family": family, "group": ind.group, "indicator": ind.id, "name_vi": ind.name_vi,
                              "numerator": np.where(ok | (scored.status == "na"), scored.numerator, np.nan),
                              "denominator": np.where(ok | (scored.status == "na"), scored.denominator, np.nan),
                              "rate": scored.rate, "points": score, "max_points": ind.max_points, "status": scored.status,
                              "reason": scored.reason, "flag": missing | (ok & below), "confidence": ind.confidence,
                              "scoring": ind.scoring, "threshold": ind.threshold, "reported_value": None,
                              "rule_set": rule.id})  # fmt: skip
        frame = frame.assign(**_source_columns(scored, units, cells, with_sources))
        frames.append(frame)
    for reported in definitions.reported_only:
        group = groups[reported.group]
        shown = np.full(count, np.nan)
        status = np.full(count, PROVIDED, dtype=object)
        reason = np.full(count, "Do đơn vị cung cấp (no public count)", dtype=object)
        available = np.array([u.kind != "phong" for u in units])
        for metric in group.reported:
            ok = (
                cells.status[metric].to_numpy(dtype=object) == "ok"
                if metric in cells.status.columns
                else np.zeros(count, bool)
            )
            available &= ok
        if reported.level == "province":
            available[:] = False  # the dashboard's group score is shown on the unit's own indicators
            status[:], reason[:] = "na", PROVINCE_LEVEL
        if group.reported and available.any():
            total = sum(np.nan_to_num(cells.value[m].to_numpy(dtype=float)) for m in group.reported)
            shown = np.where(available, total, np.nan)
            status = np.where(available, "reported", status)
            reason = np.where(available, [f"{group.name_vi}: the dashboard's group score {half_up(float(v), rule.decimals)}"
                                          if ok_ else "" for v, ok_ in zip(np.nan_to_num(total), available, strict=True)], reason)  # fmt: skip
        tally[families[reported.group]].add(
            status, reason, np.full(count, np.nan), reported.max_points, reported.name_vi
        )
        fake = Scored(shown, shown, shown, status, reason, list(group.reported))
        frame = pd.DataFrame({**base, "family": families[reported.group], "group": reported.group, "indicator": reported.id,
                              "name_vi": reported.name_vi, "numerator": np.nan, "denominator": np.nan, "rate": np.nan,
                              "points": np.nan, "max_points": reported.max_points, "status": status, "reason": reason,
                              "flag": False, "confidence": reported.confidence, "scoring": "reported",
                              "threshold": reported.threshold, "reported_value": shown, "rule_set": rule.id})  # fmt: skip
        sourced = _source_columns(fake, units, cells, with_sources, statuses=("reported",))
        frames.append(frame.assign(**sourced))
    table = pd.concat(frames, ignore_index=True)
    table["band"], table["rank"], table["published_rank"], table["coverage"] = None, np.nan, np.nan, np.nan
    # A single 766 indicator is never ranked: the published index is what units are ranked by.
    compared = table["unit"].isin(ranked) if ranked is not None else pd.Series(True, index=table.index)
    _rank(table, ["indicator", "tier"], (table["status"] == "ok") & (table["family"] == "PAR") & compared)
    published = (
        cells
        if period.dvcqg_key is not None
        else period_cells(figures, parse_period(period.months[-1]), units, with_sources, (PUBLISHED, *RANK_METRICS))
    )  # fmt: skip
    totals = pd.concat(
        [
            _published_total(units, definitions, published, period, base, with_sources),
            _check_total(units, definitions, tally["766"], base),
            _par_total(units, definitions, tally["PAR"], base),
        ],
        ignore_index=True,
    )
    compared = totals["unit"].isin(ranked) if ranked is not None else pd.Series(True, index=totals.index)
    _rank(totals, ["indicator", "tier"], totals["status"].eq("ok") & totals["indicator"].ne("CHECK_766")
          & ~(totals["coverage"] < rule.min_coverage) & compared)  # fmt: skip
    result = pd.concat([table, totals], ignore_index=True)[COLUMNS]
    result["band"] = (
        result["band"].astype(object).where(result["band"].notna(), None)
    )  # no band is None, not NaN
    return result


def _source_columns(scored: Scored, units: Sequence[Unit], cells: Cells, with_sources: bool,
                    statuses: tuple[str, ...] = ("ok",)) -> dict[str, list[list[int]]]:  # fmt: skip
    """The observations and snapshots behind each unit's cell: the union of its inputs' sources."""
    count = len(units)
    if not with_sources:
        return {"observation_ids": [[] for _ in range(count)], "snapshot_ids": [[] for _ in range(count)]}
    observations: list[list[int]] = []
    snapshots: list[list[int]] = []
    inputs = tuple(scored.inputs)
    for n, unit in enumerate(units):
        if scored.status[n] not in statuses:
            observations.append([])
            snapshots.append([])
            continue
        cached = cells.unions.get((unit.id, inputs))  # indicators with the same inputs (same_as) share them
        if cached is None:
            found = [f for metric in inputs if (f := cells.sources_of((unit.id, metric))) is not None]
            if len(found) == 1:
                cached = (found[0][0], sorted(set(found[0][1])))
            else:
                cached = (
                    sorted(set().union(*(f[0] for f in found))),
                    sorted(set().union(*(f[1] for f in found))),
                )
            cells.unions[(unit.id, inputs)] = cached
        observations.append(cached[0])
        snapshots.append(cached[1])
    return {"observation_ids": observations, "snapshot_ids": snapshots}


def rounded(values: pd.Series) -> pd.Series:
    """Half-up to 2 decimals, vectorised (the epsilon absorbs binary representation: 2.675 → 2.68)."""
    return np.floor(values.astype(float) * 100 + 0.5 + 1e-9) / 100


def _rank(table: pd.DataFrame, by: list[str], eligible: pd.Series) -> None:
    """Ranks within each group on the displayed (rounded) points: ties share a rank, the next one skips."""
    chosen = table[eligible]
    if len(chosen):
        ranks = rounded(chosen["points"]).groupby([chosen[c] for c in by]).rank(method="min", ascending=False)
        table.loc[eligible, "rank"] = ranks


def _total_frame(base: dict[str, list[str]], count: int, **columns: Any) -> pd.DataFrame:
    empty: list[list[int]] = [[] for _ in range(count)]
    defaults: dict[str, Any] = {"numerator": np.nan, "denominator": np.nan, "rate": np.nan, "band": None,
                                "rank": np.nan, "published_rank": np.nan, "coverage": np.nan, "threshold": None,
                                "reported_value": np.nan, "observation_ids": empty, "snapshot_ids": empty}  # fmt: skip
    return pd.DataFrame({**base, **defaults, **columns})


def _published_total(units: Sequence[Unit], definitions: Definitions, published: Cells, period: Period,
                     base: dict[str, list[str]], with_sources: bool) -> pd.DataFrame:  # fmt: skip
    """TOTAL_766: the index the dashboard publishes for the unit and period, banded as published; a period with
    no index of its own (a range of months) shows its last month's, and says so."""
    rule = definitions.rule_set
    key = period.dvcqg_key or period.months[-1]
    count = len(units)

    def column(frame: pd.DataFrame, metric: str, fill: Any, kind: Any) -> np.ndarray:
        return (
            frame[metric].to_numpy(dtype=kind)
            if metric in frame.columns
            else np.full(count, fill, dtype=kind)
        )

    state = column(published.status, PUBLISHED, "", object)
    phong = np.array([u.kind == "phong" for u in units], dtype=bool)
    ok = (state == "ok") & ~phong
    values = np.where(ok, column(published.value, PUBLISHED, np.nan, float), np.nan)
    ranked = ok & (column(published.status, "i766_rank", "", object) == "ok")
    ranks = np.where(ranked, column(published.value, "i766_rank", np.nan, float), np.nan)
    status = np.where(ok, "ok", np.where(phong, "na", "missing")).astype(object)
    reasons = np.full(count, "", dtype=object)
    observations: list[list[int]] = []
    snapshots: list[list[int]] = []
    for n, unit in enumerate(units):
        found = published.sources_of((unit.id, PUBLISHED)) if with_sources else None
        observations.append(list(found[0]) if found else [])
        snapshots.append(sorted(set(found[1])) if found else [])
        if phong[n]:
            reasons[n] = _applies(unit, PUBLISHED)
        elif ok[n] and period.dvcqg_key is None:
            reasons[n] = f"the period has no published index of its own: that of {key} is shown"
        elif not ok[n]:
            cause = published.reasons.get((unit.id, PUBLISHED), "")
            reasons[n] = f"no published index for {key}" + (f": {cause}" if cause else "")
    ok = status == "ok"
    band = [band_of(half_up(float(v), rule.decimals), definitions.bands.i766) if good else None
            for v, good in zip(values, ok, strict=True)]  # fmt: skip
    return _total_frame(base, count, family="766", group="766", indicator="TOTAL_766",
                        name_vi="Chỉ số 766 (Cổng DVCQG công bố)", points=values, max_points=100.0,
                        status=status, reason=reasons, band=band, published_rank=ranks, flag=~ok & (status != "na"),
                        confidence="official", scoring="total", reported_value=values, rule_set=rule.id,
                        observation_ids=observations, snapshot_ids=snapshots)  # fmt: skip


def _check_total(
    units: Sequence[Unit], definitions: Definitions, tally: _Tally, base: dict[str, list[str]]
) -> pd.DataFrame:
    """CHECK_766: the points our evidence earns of the points it can compute, and what share of the 100 that
    is. It checks the published index; it is not one, so it is never banded, ranked or put out of 100."""
    count = len(units)
    whole = definitions.family_max("766")
    scored = tally.scored_max > 0
    coverage = tally.scored_max / whole if whole else np.zeros(count)
    reasons = []
    for n in range(count):
        if not scored[n]:
            text = "no indicator of this family could be scored" + (
                f": {tally.first_missing[n]}" if tally.missing_n[n] else ""
            )
        else:
            text = f"points earned of the points computable: {coverage[n]:.0%} of the {whole:g} points; never banded or ranked"
            if tally.missing_n[n]:
                text += f"; {tally.missing_n[n]} indicators without evidence"
        reasons.append(text)
    status = np.where(scored, "ok", np.where(tally.missing_n > 0, "missing", "na"))
    return _total_frame(base, count, family="766", group="766", indicator="CHECK_766",
                        name_vi="Điểm 766 kiểm chứng được", numerator=np.where(scored, tally.earned, np.nan),
                        denominator=np.where(scored, tally.scored_max, np.nan),
                        points=np.where(scored, tally.earned, np.nan), max_points=tally.scored_max, status=status,
                        reason=reasons, coverage=coverage, flag=(status != "ok") | (tally.missing_n > 0),
                        confidence="partial", scoring="total", rule_set=definitions.rule_set.id)  # fmt: skip


def _par_total(
    units: Sequence[Unit], definitions: Definitions, tally: _Tally, base: dict[str, list[str]]
) -> pd.DataFrame:
    """TOTAL_PAR: 100 × points ÷ applicable maximum (Tây Ninh's practice: what does not apply is left out), its
    coverage (what is scored from our evidence, of what applies: provided by the unit counts against), band."""
    rule = definitions.rule_set
    count = len(units)
    applicable = definitions.family_max("PAR") - tally.na_max
    scored = tally.scored_max > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(scored, 100 * tally.earned / tally.scored_max, np.nan)
        coverage = np.where(applicable > 0, tally.scored_max / applicable, 0.0)
    status = np.where(scored, "ok", np.where(tally.missing_n > 0, "missing", "na"))
    graded = scored & (coverage >= rule.min_coverage)
    reasons = []
    for n in range(count):
        if not scored[n]:
            text = "no indicator of this family could be scored" + (
                f": {tally.first_missing[n]}" if tally.missing_n[n] else ""
            )
        elif not graded[n]:
            # figures, but no grade and no rank: the share of the points our evidence covers is too small
            text = (f"{NOT_GRADED}: coverage {coverage[n]:.0%}, below {rule.min_coverage:.0%}; "
                    f"not covered: {UNCOVERED_JOIN.join(tally.uncovered[n])}")  # fmt: skip
        else:
            text = ""
            if tally.missing_n[n]:
                text = f"incomplete: {tally.missing_n[n]} indicators without evidence (coverage {coverage[n]:.0%})"
            elif coverage[n] < 1:
                text = f"coverage {coverage[n]:.0%}: the rest is provided by the unit or not public"
        reasons.append(text)
    band = [band_of(half_up(float(v), rule.decimals), definitions.bands.par_tayninh) if ok else None
            for v, ok in zip(index, graded, strict=True)]  # fmt: skip
    return _total_frame(base, count, family="PAR", group="PAR", indicator="TOTAL_PAR",
                        name_vi="Tổng (Chỉ số CCHC, minh chứng công khai)",
                        numerator=np.where(scored, tally.earned, np.nan),
                        denominator=np.where(scored, tally.scored_max, np.nan), rate=index / 100, points=index,
                        max_points=100.0, status=status, reason=reasons, band=band, coverage=coverage,
                        flag=(status != "ok") | (coverage < 1), confidence="proposed", scoring="total",
                        rule_set=rule.id)  # fmt: skip
