"""The reconciliation: the 766 dashboard's published group scores against what the public counts give.

For each unit and month where both exist, a group's published score must lie where our evidence puts it:
on our points where we score every indicator of the group (TDGQ, whose only indicator is 2.1), else between the
points we score and those plus the maxima of the indicators we cannot (reported, provided by the unit,
province-level, or not in the rule set), give or take the configured tolerance. Outside that it is a finding,
"Điểm công bố lệch so với số liệu công khai", naming the group, its indicators with their inputs, both values and
the snapshots behind each: what an inspector needs to question a unit's published score.

    >>> checks = reconcile(figures, units, definitions, ["2023-07", "2023-08"])
    >>> [c.describe() for c in checks if c.finding]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cchc.settings import Unit
from indicators.definitions import Definitions
from indicators.published import group_score
from indicators.scorecard import Cells, Period, compute, parse_period, period_cells
from probes.national_v1 import ENDPOINTS, Department, Report

STATUSES = ("equal", "within", "differs", "unchecked", "no_published")


@dataclass(frozen=True)
class Part:
    """One indicator of the group for the unit and month: scored by us (ok) or not, with its inputs."""

    indicator: str
    name_vi: str
    status: str
    points: float | None
    max_points: float
    numerator: float | None
    denominator: float | None
    inputs: tuple[tuple[str, float | None], ...]  # each input observation and its value in the month


@dataclass(frozen=True)
class GroupCheck:
    """A 766 group of a unit in a month: the published score beside what our evidence allows."""

    unit: str
    unit_name: str
    month: str
    group: str
    group_name: str
    group_max: float
    published: float | None
    published_metrics: tuple[str, ...]
    computed: float  # points of the indicators we score
    unscored_max: (
        float  # maxima of the indicators we do not (and of points the rule set has no indicator for)
    )
    tolerance: float
    status: str  # one of STATUSES
    parts: tuple[Part, ...]
    observation_ids: tuple[int, ...]  # behind our points
    snapshot_ids: tuple[int, ...]
    published_observation_ids: tuple[int, ...]  # behind the published score
    published_snapshot_ids: tuple[int, ...]

    @property
    def low(self) -> float:
        return self.computed

    @property
    def high(self) -> float:
        return self.computed + self.unscored_max

    @property
    def finding(self) -> bool:
        return self.status == "differs"

    @property
    def gap(self) -> float:
        """How far the published score lies outside what the counts allow (0 inside)."""
        if self.published is None:
            return 0.0
        return max(0.0, self.low - self.published, self.published - self.high)

    def describe(self) -> str:
        """One line for analysts: the group, both values, and the scored indicators with their inputs."""
        allowed = (
            f"{self.computed:.2f}"
            if self.unscored_max == 0
            else f"{self.low:.2f}–{self.high:.2f} ({self.computed:.2f} scored + up to {self.unscored_max:g} not)"
        )
        shown = "none" if self.published is None else f"{self.published:.2f}"
        scored = "; ".join(
            f"{p.indicator} {p.points:.2f}/{p.max_points:g} from "
            + ", ".join(f"{m} = {'—' if v is None else f'{v:g}'}" for m, v in p.inputs)
            for p in self.parts
            if p.status == "ok" and p.points is not None
        )
        return (
            f"{self.unit} {self.month} {self.group}: published {shown}, public counts allow {allowed} "
            f"(tolerance {self.tolerance:g}); {scored or 'no indicator scored'}"
        )


def _status(published: float | None, computed: float, unscored: float, scored_any: bool, top: float,
            tolerance: float) -> str:  # fmt: skip
    if published is None:
        return "no_published"
    if not scored_any:
        return "differs" if not -tolerance <= published <= top + tolerance else "unchecked"
    if unscored == 0:
        return "equal" if abs(published - computed) <= tolerance else "differs"
    inside = computed - tolerance <= published <= computed + unscored + tolerance
    return "within" if inside else "differs"


def _ids(values: object) -> list[int]:
    return [int(v) for v in values] if isinstance(values, list | tuple | np.ndarray) else []


def reconcile(
    figures: pd.DataFrame,
    units: Sequence[Unit],
    definitions: Definitions,
    months: Sequence[str],
    tables: Callable[[Period], pd.DataFrame] | None = None,
) -> list[GroupCheck]:
    """Every 766 group of every unit (not the phòng: the dashboard scores none) in every month given.

    `tables` gives a month's indicator table when the caller already has it (a report shares its tables);
    it must hold at least these units' rows."""
    scored_units = [u for u in units if u.kind != "phong"]
    groups = [g for g in definitions.group if g.family == "766"]
    inputs = {
        i.id: list(dict.fromkeys(m.removeprefix("-") for m in (*src.numerator, *src.denominator)))
        for i in definitions.indicator
        for src in [definitions.scored(i.same_as) if i.same_as else i]
    }
    for ind in definitions.indicator:  # an indicator multiplied by another's rate takes that one's inputs too
        src = definitions.scored(ind.same_as) if ind.same_as else ind
        if src.multiply_by:
            inputs[ind.id] = list(dict.fromkeys(inputs[ind.id] + inputs[src.multiply_by]))
    wanted = {m for ms in inputs.values() for m in ms} | {m for g in groups for m in g.reported}
    checks: list[GroupCheck] = []
    if not scored_units:
        return checks
    tolerance = definitions.reconciliation.tolerance
    ids = [u.id for u in scored_units]
    for month in months:
        period = parse_period(month)
        table = tables(period) if tables else compute(figures, scored_units, definitions, period)
        rows_766 = table[(table["family"] == "766") & table["unit"].isin(ids)]
        by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows_766.to_dict(orient="records"):
            by_group.setdefault((row["unit"], row["group"]), []).append(row)
        cells = period_cells(figures, period, scored_units, True, wanted)
        found = _Found(cells)
        for unit in scored_units:
            for group in groups:
                rows = by_group.get((unit.id, group.id), [])
                parts = tuple(_part(r, inputs.get(str(r["indicator"]), []), found, unit.id) for r in rows)
                ok = [p for p in parts if p.status == "ok" and p.points is not None]
                computed = float(sum(p.points or 0.0 for p in ok))
                top = group.max_points or 0.0
                unscored = max(0.0, top - sum(p.max_points for p in ok))
                published, pub_obs, pub_snaps = _published(found, unit.id, group.reported)
                ours = [r for r in rows if r["status"] == "ok"]
                checks.append(
                    GroupCheck(
                        unit=unit.id,
                        unit_name=unit.name,
                        month=month,
                        group=group.id,
                        group_name=str(group.name_vi),
                        group_max=top,
                        published=published,
                        published_metrics=tuple(group.reported),
                        computed=computed,
                        unscored_max=unscored,
                        tolerance=tolerance,
                        status=_status(published, computed, unscored, bool(ok), top, tolerance),
                        parts=parts,
                        observation_ids=tuple(sorted({i for r in ours for i in _ids(r["observation_ids"])})),
                        snapshot_ids=tuple(sorted({i for r in ours for i in _ids(r["snapshot_ids"])})),
                        published_observation_ids=tuple(pub_obs),
                        published_snapshot_ids=tuple(pub_snaps),
                    )
                )
    return checks


class _Found:
    """A month's cells as plain lookups: (unit, metric) → value where the figure is ok, and its sources."""

    def __init__(self, cells: Cells) -> None:
        self.cells = cells
        ok = cells.status.to_dict()
        values = cells.value.to_dict()
        self.values: dict[tuple[str, str], float] = {
            (unit, metric): float(values[metric][unit])
            for metric, column in ok.items()
            for unit, state in column.items()
            if state == "ok" and metric in values
        }

    def get(self, unit: str, metric: str) -> float | None:
        return self.values.get((unit, metric))

    def sources(self, unit: str, metric: str) -> tuple[list[int], list[int]] | None:
        return self.cells.sources_of((unit, metric))


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _part(row: dict[str, Any], metrics: list[str], found: _Found, unit: str) -> Part:
    return Part(
        indicator=str(row["indicator"]),
        name_vi=str(row["name_vi"]),
        status=str(row["status"]),
        points=_number(row["points"]),
        max_points=float(row["max_points"]),
        numerator=_number(row["numerator"]),
        denominator=_number(row["denominator"]),
        inputs=tuple((metric, found.get(unit, metric)) for metric in metrics),
    )


def _published(found: _Found, unit: str, metrics: Sequence[str]) -> tuple[float | None, list[int], list[int]]:
    """The group score the dashboard published (CLGQ + TTTT for our group 3), and its sources."""
    values = [found.get(unit, m) for m in metrics]
    if not metrics or any(v is None for v in values):
        return None, [], []
    observations: set[int] = set()
    snapshots: set[int] = set()
    for metric in metrics:
        sources = found.sources(unit, metric)
        if sources:
            observations.update(sources[0])
            snapshots.update(sources[1])
    return float(sum(v or 0.0 for v in values)), sorted(observations), sorted(snapshots)


# --- the national dashboard's own answers (api/v1) ------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentCheck:
    """A department's published group score on one api/v1 answer beside what its published counts give by the
    dashboard's formulas (indicators.toml [dashboard]): the same statuses and tolerance as a unit's GroupCheck."""

    endpoint: str
    period: str
    group: str
    department: str  # its departmentId
    code: str | None
    name: str
    published: float
    computed: float
    unscored_max: float  # maxima of the metrics the rule set has no formula for
    unscored: tuple[str, ...]
    tolerance: float
    status: str

    @property
    def finding(self) -> bool:
        return self.status == "differs"

    def describe(self) -> str:
        allowed = (f"{self.computed:.2f}" if self.unscored_max == 0
                   else f"{self.computed:.2f}–{self.computed + self.unscored_max:.2f}")  # fmt: skip
        return (f"{self.code or self.department} {self.name} {self.period} {self.group} ({self.endpoint}): published "
                f"{self.published:.2f}, its counts give {allowed}")  # fmt: skip


def reconcile_report(
    report: Report, definitions: Definitions, *, parent: bool = True
) -> list[DepartmentCheck]:
    """Every department of an answer (and the province, with parent) reconciled; none without a [dashboard]."""
    dashboard = definitions.dashboard
    if dashboard is None:
        return []
    tolerance = definitions.reconciliation.tolerance
    rows = [report.parent, *report.departments] if parent else list(report.departments)
    checks = []
    for row in rows:
        computed, unscored, missing = group_score(report, dashboard, row)
        scored_any = unscored < row.max_score
        status = _status(row.score, computed, unscored, scored_any, row.max_score, tolerance)
        checks.append(DepartmentCheck(report.endpoint.name, report.period, report.endpoint.group, row.id, row.code, row.name,
                                      row.score, computed, unscored, tuple(missing), tolerance, status))  # fmt: skip
    return checks


def reconcile_stored(
    obs: pd.DataFrame, definitions: Definitions, periods: Sequence[str]
) -> list[DepartmentCheck]:
    """The api/v1 answers kept in the evidence (their report_row and report_parent observations, which carry every
    figure of each row), reconciled department by department for the periods given; per endpoint and period the
    latest capture."""
    wanted = obs[obs["metric"].isin(["report_row", "report_parent"]) & obs["period"].isin(list(periods))]
    wanted = wanted[wanted["attributes"].map(lambda a: a.get("api") == "v1")]
    if wanted.empty:
        return []
    wanted = wanted.assign(endpoint=wanted["attributes"].map(lambda a: a["service"]))
    latest = wanted.groupby(["endpoint", "period"])["run_id"].transform("max")  # every page of the latest run
    checks: list[DepartmentCheck] = []
    for (name, period), rows in wanted[wanted["run_id"] == latest].groupby(["endpoint", "period"], sort=True):
        endpoint = ENDPOINTS.get(str(name))
        parents = rows[rows["metric"] == "report_parent"].sort_values("seq")
        if endpoint is None or parents.empty:
            continue

        def department(a: dict[str, Any], row: int) -> Department:
            return Department.from_values(
                a["national_id"], a.get("code"), a["name"], a.get("level"), row, a["values"]
            )

        children = rows[rows["metric"] == "report_row"].sort_values("seq")
        ids = children["attributes"].map(lambda a: a["national_id"])
        children = children[~ids.duplicated(keep="last")].sort_values("id")  # one row per department
        report = Report(endpoint, str(period), "", department(parents["attributes"].iloc[-1], 0),
                        tuple(department(a, int(a["row"])) for a in children["attributes"]), None, 1, 0)  # fmt: skip
        checks += reconcile_report(report, definitions)
    return checks
