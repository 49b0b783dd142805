"""The national dashboard's scores recomputed from the counts it publishes, by the rule set's formulas (dvcqg-v1).

Each api/v1 answer publishes, per department, counts and the scores the dashboard drew from them. The formulas of
indicators.toml [dashboard] say how (fitted on the real responses, shared/real/dvcqg-v1). Here they are applied
to an answer read by probes/national_v1.py: each department's score recomputed, beside the published one.

    >>> checks = recompute_report(report, definitions.dashboard)
    >>> [c for c in checks if c.status == "differs"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from indicators.definitions import Dashboard, DashboardFormula, FormulaPart
from probes.national_v1 import Department, Report

TOLERANCE = 0.01  # the dashboard publishes 2 decimals


def half_up(value: float) -> float:
    """Rounded to 2 decimals, halves up, as the dashboard rounds (1e-9: 0.125 stored as 0.12499…)."""
    return math.floor(value * 100 + 0.5 + 1e-9) / 100


def part_points(part: FormulaPart, numerator: float | None, denominator: float | None) -> float | None:
    """One part's points, rounded; None where the dashboard publishes no score (no denominator, 'na')."""
    if part.scoring == "none":
        return None
    if part.scoring == "constant":
        return part.max_points
    if not denominator or numerator is None:
        return {"zero": 0.0, "full": part.max_points, "na": None}[part.when_no_denominator]
    rate = max(0.0, numerator / denominator)
    share = (
        min(1.0, rate / part.threshold) if part.scoring == "threshold" and part.threshold else min(1.0, rate)
    )
    return half_up(part.max_points * share)


def _inputs(
    formula: DashboardFormula, part: FormulaPart, row: Department
) -> tuple[float | None, float | None]:
    if formula.metric:
        metric = row.metric(formula.metric)
        if metric is None:
            return None, None
        return metric.numerator, metric.denominator
    return row.counts.get(part.numerator), row.counts.get(part.denominator)


def recompute(formula: DashboardFormula, row: Department) -> float | None:
    """The score the formula gives this row: the sum of its rounded parts; None when no part gives one."""
    points = [part_points(p, *_inputs(formula, p, row)) for p in formula.parts]
    given = [p for p in points if p is not None]
    return half_up(sum(given)) if given else None


def published(formula: DashboardFormula, row: Department) -> float | None:
    if formula.metric:
        metric = row.metric(formula.metric)
        return None if metric is None else metric.score
    return row.score


def checked(formula: DashboardFormula, row: Department) -> bool:
    """A row that tells something of the formula: one of its parts has a positive denominator."""
    if all(p.scoring in ("none", "constant") for p in formula.parts):
        return formula.parts[0].scoring == "constant"
    return any((_inputs(formula, p, row)[1] or 0) > 0 for p in formula.parts)


@dataclass(frozen=True)
class ScoreCheck:
    """A department's published score beside the formula's; `checked` False for a row with no denominator."""

    endpoint: str
    metric: str
    department: str  # its id
    code: str | None
    name: str
    published: float | None
    computed: float | None
    checked: bool

    @property
    def status(self) -> str:
        """equal (to 0.01), differs, or both_null (no score published, none computed)."""
        if self.published is None or self.computed is None:
            return "both_null" if self.published is None and self.computed is None else "differs"
        return "equal" if abs(self.published - self.computed) <= TOLERANCE + 1e-9 else "differs"


def recompute_report(report: Report, dashboard: Dashboard, *, parent: bool = False) -> list[ScoreCheck]:
    """Every department's (and with parent=True the province's) scores of one answer, recomputed."""
    rows = [report.parent, *report.departments] if parent else list(report.departments)
    return [
        ScoreCheck(
            report.endpoint.name,
            f.metric,
            row.id,
            row.code,
            row.name,
            published(f, row),
            recompute(f, row),
            checked(f, row),
        )
        for f in dashboard.formulas_of(report.endpoint.name)
        for row in rows
    ]


def group_score(report: Report, dashboard: Dashboard, row: Department) -> tuple[float, float, list[str]]:
    """What the formulas give a row's group score: (the points they give, the maxima they cannot give, the
    metric codes with no formula). A table's total is the sum of its metrics; a tree's is its own formula."""
    formulas = dashboard.formulas_of(report.endpoint.name)
    if report.endpoint.family == "tree":
        if not formulas:
            return 0.0, row.max_score, [report.endpoint.name]
        value = recompute(formulas[0], row)
        return (0.0, row.max_score, []) if value is None else (value, 0.0, [])
    by_metric: Mapping[str, DashboardFormula] = {f.metric: f for f in formulas}
    total, unscored, missing = 0.0, 0.0, []
    for metric in row.metrics:
        formula = by_metric.get(metric.code)
        if formula is None:
            unscored += metric.max_score
            missing.append(metric.code)
            continue
        total += recompute(formula, row) or 0.0  # the dashboard's total counts a null metric as 0
    return half_up(total), unscored, missing
