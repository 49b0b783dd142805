"""The simulated 766 dashboard's arithmetic: a ward's group scores from its own simulated dossiers and procedures,
by the formulas of "Mô tả công thức tính chỉ số 766" and the 2023 split of points (shared/docs/indicators.md
§0 and §2), with drawn rates where no public count exists.

Written apart from indicators/ on purpose (sim/ imports nothing of ours): the reconciliation test checks the two
implementations against each other. Each part is rounded to 2 decimals before its group adds it, as the real
dashboard does (shared/real/dvcqg-v1, README: "each part is rounded to 2 decimals before adding").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

GROUPS = ("CKMB", "TDGQ", "TTTT", "CLGQ", "MDHL", "MDSH")
GROUP_MAX = {"CKMB": 18.0, "TDGQ": 20.0, "TTTT": 10.0, "CLGQ": 12.0, "MDHL": 18.0, "MDSH": 22.0}


@dataclass(frozen=True)
class Part:
    """One indicator of the dashboard: its group field, maximum and shape (linear, or capped at a threshold)."""

    id: str
    group: str
    max_points: float
    threshold: float | None = None
    public: bool = False  # computed from counts the portals publish; otherwise drawn (no public count)
    level: str = "unit"  # "province": one value for every agency of the province


PARTS = (
    Part("I766_1_1", "CKMB", 4, level="province"),
    Part("I766_1_2", "CKMB", 4, level="province"),
    Part("I766_1_3", "CKMB", 4, level="province"),
    Part("I766_1_4", "CKMB", 6, public=True),
    Part("I766_2_1", "TDGQ", 20, public=True),
    Part("I766_3_1", "CLGQ", 4, 0.80, public=True),
    Part("I766_3_2", "CLGQ", 4),
    Part("I766_3_3", "CLGQ", 4, 0.50, public=True),
    Part("I766_3_5", "TTTT", 5, 0.80),
    Part("I766_3_6", "TTTT", 5),
    Part("I766_4_1", "MDSH", 6),
    Part("I766_4_2", "MDSH", 8, 0.80),
    Part("I766_4_3", "MDSH", 8, 0.80),
    Part("I766_5_2", "MDHL", 6, public=True),
    Part("I766_5_3", "MDHL", 6),
    Part("I766_5_4", "MDHL", 6, 0.90),
)
assert all(sum(p.max_points for p in PARTS if p.group == g) == top for g, top in GROUP_MAX.items())


@dataclass(frozen=True)
class PeriodCounts:
    """A ward's dossier and feedback counts summed over a period's months (what the monthly summary publishes)."""

    months: int
    received: int
    synced: int
    online: int
    on_time: int
    late: int
    pending_in_time: int
    pending_overdue: int
    pakn_on_time: int
    pakn_late: int
    pakn_pending_in_time: int
    pakn_pending_overdue: int
    prior_year_received: int | None  # None: the year before has no data


@dataclass(frozen=True)
class Catalogue:
    """3.1's counts: procedures the ward offers online (each once) and the xã-level procedures of the nation."""

    online_distinct: int
    reference_xa: int


def half_up(value: float) -> float:
    return math.floor(value * 100 + 0.5 + 1e-9) / 100


def points_of(part: Part, rate: float) -> float:
    share = min(1.0, rate / part.threshold) if part.threshold else min(1.0, rate)
    return part.max_points * max(0.0, share)


def sync_rate(counts: PeriodCounts) -> float:
    """1.4: synced ÷ received; with nothing received, last year's total ÷ 12 a month (0 without a last year)."""
    if counts.received:
        return min(1.0, counts.synced / counts.received)
    substitute = (counts.prior_year_received or 0) * counts.months / 12
    return min(1.0, counts.synced / substitute) if substitute > 0 else 0.0


def public_rates(counts: PeriodCounts, catalogue: Catalogue) -> dict[str, float | None]:
    """The rates of the parts computed from public counts; None where the dashboard shows no value (0 points)."""
    handled = counts.on_time + counts.late + counts.pending_in_time + counts.pending_overdue
    pakn = counts.pakn_on_time + counts.pakn_late + counts.pakn_pending_in_time + counts.pakn_pending_overdue
    online = min(1.0, counts.online / counts.received * sync_rate(counts)) if counts.received else None
    return {
        "I766_1_4": sync_rate(counts),
        # 2.1: completed on time plus still within the deadline, of every dossier; none at all scores 0.
        "I766_2_1": (counts.on_time + counts.pending_in_time) / handled if handled else 0.0,
        "I766_3_1": min(1.0, catalogue.online_distinct / catalogue.reference_xa)
        if catalogue.reference_xa
        else None,
        "I766_3_3": online,
        # 5.2: no feedback in the period gives full points on the dashboard.
        "I766_5_2": (counts.pakn_on_time + counts.pakn_pending_in_time) / pakn if pakn else 1.0,
    }


def part_points(rates: Mapping[str, float | None]) -> dict[str, float]:
    """Every part's points, rounded as the dashboard rounds them; a part without a value counts 0."""
    return {p.id: half_up(points_of(p, rate)) if (rate := rates[p.id]) is not None else 0.0 for p in PARTS}


def group_scores(parts: Mapping[str, float]) -> dict[str, float]:
    groups = {g: half_up(sum(parts[p.id] for p in PARTS if p.group == g)) for g in GROUPS}
    groups["TONG"] = half_up(sum(groups[g] for g in GROUPS))
    return groups
