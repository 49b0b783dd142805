"""The indicator definitions (indicators.toml): groups, indicators with their inputs and scoring shape, bands.

Loaded and validated like the config: every problem is one line naming the file, the key path and what was
expected. The code knows only the scoring shapes; weights, thresholds, targets and bands are data.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from cchc.errors import ConfigError
from cchc.settings import Text, read_toml, validation_problems

Confidence = Literal["official", "partial", "proposed"]
Scoring = Literal["threshold", "linear", "count_target", "none"]
Family = Literal["766", "PAR"]
# What a denominator of 0 gives. The formula description allows "0 hoặc N/A"; today's dashboard gives 0 for 2.1
# and 5.4, full points for 5.2 and 5.3, no value for most others (shared/real/dvcqg-v1, README).
NoDenominator = Literal["na", "zero", "full", "prior_year"]
NO_DENOMINATOR_TEXT = {
    "na": "N/A, left out of the points computable",
    "zero": "0 points",
    "full": "full points",
    "prior_year": "last year's total ÷ 12 a month as the denominator",
}
Level = Literal["unit", "province"]


def _metric_name(value: str) -> str:
    name = value.removeprefix("-")
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ValueError(
            f"expected an observation name like 'hs_received' (a '-' prefix subtracts), got {value!r}"
        )
    return value


MetricName = Annotated[str, AfterValidator(_metric_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(_Model):
    id: str
    name_vi: Text
    family: Family
    max_points: float | None = None
    reported: list[str] = []  # the dashboard's group scores, shown beside ours and never mixed in


class Indicator(_Model):
    """An indicator scored from our evidence."""

    id: str
    group: str
    name_vi: Text
    name_en: str = ""
    numerator: list[MetricName] = []
    denominator: list[MetricName] = []
    same_as: str | None = None
    multiply_by: str | None = None
    when_no_denominator: NoDenominator = "na"
    scoring: Scoring
    threshold: float | None = Field(default=None, gt=0, le=1)
    target: float | None = Field(default=None, gt=0)
    per: Literal["month", "quarter", "year"] = "month"
    flag_below: float | None = Field(default=None, ge=0, le=1)
    max_points: float = Field(ge=0)
    confidence: Confidence
    source: str = Field(
        min_length=1
    )  # the formula's and the points' sources: every rule says where it is from
    section: str = "2.3"  # the plan's Đề cương section this indicator informs

    @model_validator(mode="after")
    def _shape_has_what_it_needs(self) -> Indicator:
        if self.same_as is None and not self.numerator:
            raise ValueError("an indicator needs a numerator or same_as")
        if self.scoring == "threshold" and self.threshold is None:
            raise ValueError("scoring = 'threshold' needs a threshold")
        if self.scoring == "count_target" and self.target is None:
            raise ValueError("scoring = 'count_target' needs a target")
        if self.scoring == "count_target" and self.denominator:
            raise ValueError("scoring = 'count_target' counts; it takes no denominator")
        return self


class ReportedOnly(_Model):
    """An indicator we do not score: one with no public counts (shown as the dashboard's group score, or to be
    provided by the unit), or one measured for the whole province (N/A for a unit). Either way it counts
    against the coverage of the 766 figure we compute."""

    id: str
    group: str
    name_vi: Text
    max_points: float = Field(ge=0)
    threshold: float | None = Field(default=None, gt=0, le=1)
    level: Level = "unit"
    confidence: Confidence
    source: str = Field(min_length=1)
    section: str = "2.3"


class Band(_Model):
    name: Text
    min: float = Field(ge=0, le=100)
    confidence: Confidence


class RuleSet(_Model):
    id: str
    valid_from: date
    valid_to: date | None = None
    decimals: int = Field(default=2, ge=0, le=6)
    # Below this share of the applicable points covered by our evidence, a total gets no grade and no rank.
    min_coverage: float = Field(default=0.8, ge=0, le=1)


def _descending(bands: list[Band]) -> list[Band]:
    if (
        [b.min for b in bands] != sorted((b.min for b in bands), reverse=True)
        or not bands
        or bands[-1].min != 0
    ):
        raise ValueError("bands must go from the highest lower bound down to 0")
    return bands


BandList = Annotated[list[Band], AfterValidator(_descending)]


class Bands(_Model):
    i766: BandList
    par_tayninh: BandList


class Reconciliation(_Model):
    """How far a published group score may lie from what the public counts give before it is a finding: the
    dashboard rounds each indicator to 2 decimals before adding them."""

    tolerance: float = Field(default=0.05, ge=0, le=5)


class FormulaPart(_Model):
    """One term of a dashboard score: max × rate (linear), max × min(1, rate / threshold), max (constant), or
    nothing (an informational metric). A table's part reads its metric's numerator and denominator."""

    numerator: str = "numerator"
    denominator: str = "denominator"
    max_points: float = Field(ge=0)
    scoring: Literal["linear", "threshold", "constant", "none"]
    threshold: float | None = Field(default=None, gt=0, le=1)
    when_no_denominator: Literal["na", "zero", "full"] = "na"

    @model_validator(mode="after")
    def _threshold_when_capped(self) -> FormulaPart:
        if (self.scoring == "threshold") != (self.threshold is not None):
            raise ValueError("a threshold goes with scoring = 'threshold', and only with it")
        return self


class DashboardFormula(_Model):
    """How one api/v1 endpoint's published score (its row's, or one metric's) follows from its published counts."""

    endpoint: str
    group: str
    metric: str = ""  # a table's metric code; "" for a tree row's own score
    indicator: str = ""  # our indicator(s) it corresponds to, for the docs
    parts: list[FormulaPart] = Field(min_length=1, max_length=10)
    fit: int = Field(ge=0)  # rows of the real responses it reproduces to 0.01 (the README's count)
    decidable: bool = True  # False: the real responses cannot tell this form from the others
    exceptions: str = Field(min_length=1)


class Dashboard(_Model):
    """The national dashboard's own rule set on api/v1 (`dvcqg-v1`)."""

    rule_set: str
    source: str = Field(min_length=1)
    formula: list[DashboardFormula] = []

    def formulas_of(self, endpoint: str) -> list[DashboardFormula]:
        return [f for f in self.formula if f.endpoint == endpoint]


class Definitions(_Model):
    group: list[Group]
    reported_only: list[ReportedOnly] = []
    rule_set: RuleSet
    bands: Bands
    reconciliation: Reconciliation = Reconciliation()
    indicator: list[Indicator] = Field(min_length=1)
    dashboard: Dashboard | None = None

    def problems(self) -> list[str]:
        groups = {g.id for g in self.group}
        ids = [i.id for i in self.indicator] + [r.id for r in self.reported_only]
        problems = [
            f"indicator[{i}].id: duplicate id {i!r}" for i in sorted({x for x in ids if ids.count(x) > 1})
        ]
        scored = {i.id: i for i in self.indicator}
        memberships = [(i.id, i.group) for i in self.indicator] + [
            (r.id, r.group) for r in self.reported_only
        ]
        for item_id, group in memberships:
            if group not in groups:
                problems.append(
                    f"indicator[{item_id}].group: expected one of {sorted(groups)}, got {group!r}"
                )
        for grp in self.group:
            if grp.family != "766":
                continue
            members = self.member_max(grp.id)
            if grp.max_points is None:
                problems.append(
                    f"group[{grp.id}].max_points: a 766 group needs its maximum (the dashboard's)"
                )
            elif members > grp.max_points + 1e-9:
                problems.append(
                    f"group[{grp.id}].max_points: its indicators give {members:g} points, more than the "
                    f"group's {grp.max_points:g}"
                )
        for n, formula in enumerate(self.dashboard.formula if self.dashboard else []):
            if formula.group not in groups and formula.group not in ("TTTT", "CLGQ"):
                problems.append(f"dashboard.formula[{n}].group: expected a 766 group, got {formula.group!r}")
        for ind in self.indicator:
            for field_name in ("same_as", "multiply_by"):
                ref = getattr(ind, field_name)
                if ref is not None and ref not in scored:
                    problems.append(
                        f"indicator[{ind.id}].{field_name}: expected a scored indicator id, got {ref!r}"
                    )
                elif ref is not None and getattr(scored[ref], "same_as", None) is not None:
                    problems.append(
                        f"indicator[{ind.id}].{field_name}: {ref!r} itself uses same_as; chain one level only"
                    )
        return problems

    def member_max(self, group_id: str) -> float:
        """The points of the group's indicators, scored or not."""
        scored = sum(i.max_points for i in self.indicator if i.group == group_id)
        return scored + sum(r.max_points for r in self.reported_only if r.group == group_id)

    def family_max(self, family: str) -> float:
        """The family's points in all: for 766 the dashboard's group maxima (100), whatever share of them the
        rule set has indicators for; for a group without a maximum, its indicators' points."""
        return sum(
            g.max_points if g.max_points is not None else self.member_max(g.id)
            for g in self.group
            if g.family == family
        )

    def family_of(self, group_id: str) -> str:
        return next(g.family for g in self.group if g.id == group_id)

    def scored(self, indicator_id: str) -> Indicator:
        return next(i for i in self.indicator if i.id == indicator_id)


def load_definitions(path: Path) -> Definitions:
    raw = read_toml(path)
    try:
        definitions = Definitions.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc, raw)) from None
    problems = definitions.problems()
    if problems:
        raise ConfigError(path, problems)
    return definitions
