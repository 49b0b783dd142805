"""The city overview (`cchc report --all`): per tier (phòng; phường, xã) the ranking of every inspected unit
on the two family totals (TOTAL_766, TOTAL_PAR), with band, coverage and flags, and a distribution chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from reports import charts, vi
from reports.html import render
from reports.inputs import SummaryInputs
from reports.model import NOT_AVAILABLE, NOT_GRADED_TEXT, Chart, LedgerState
from reports.pdf import PrintJob
from reports.summary import resolve_period

FAMILIES = (
    ("TOTAL_766", "Chỉ số 766 (Cổng DVCQG công bố)", "i766"),
    ("TOTAL_PAR", "Chỉ số CCHC (minh chứng công khai)", "par_tayninh"),
)
TIERS = (("phong", "Phòng chuyên môn"), ("phuong_xa", "UBND phường, xã"))


@dataclass(frozen=True)
class RankRow:
    rank: int | None
    unit_id: str
    unit_name: str
    status: str
    index: float | None
    display_index: str
    band: str | None
    grade_vi: str  # the band, or "Chưa đủ dữ liệu" below the coverage floor
    coverage: float | None
    flag: bool
    reason_vi: str
    reported_value: float | None


@dataclass(frozen=True)
class Ranking:
    tier: str
    tier_vi: str
    family: str
    family_vi: str
    rows: tuple[RankRow, ...]
    chart: Chart


@dataclass(frozen=True)
class Overview:
    period_key: str
    period_label: str
    rule_set: str
    made_at: datetime
    ledger: LedgerState
    rankings: tuple[Ranking, ...]


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def build_overview(inputs: SummaryInputs, period: str) -> Overview:
    wanted = resolve_period(period, inputs.settings)
    table = inputs.table(wanted)
    decimals = inputs.definitions.rule_set.decimals
    bands = inputs.definitions.bands
    rankings = []
    for family, family_vi, band_key in FAMILIES:
        limits = [(b.name, b.min) for b in getattr(bands, band_key)]
        for tier, tier_vi in TIERS:
            rows = table[(table["indicator"] == family) & (table["tier"] == tier)]
            ranked = sorted(
                (
                    RankRow(
                        rank=None if pd.isna(r.rank) else int(r.rank),
                        unit_id=str(r.unit),
                        unit_name=str(r.unit_name),
                        status=str(r.status),
                        index=_float(r.points),
                        display_index=vi.points(float(r.points), decimals)
                        if _float(r.points) is not None
                        else NOT_AVAILABLE,
                        band=None if r.band is None or pd.isna(r.band) else str(r.band),
                        grade_vi=str(r.band)
                        if r.band is not None and not pd.isna(r.band)
                        else NOT_GRADED_TEXT
                        if str(r.reason or "").startswith("not graded")
                        else "—",
                        coverage=_float(r.coverage),
                        flag=bool(r.flag),
                        reason_vi=vi.reason(str(r.reason or "")),
                        reported_value=_float(r.reported_value),
                    )
                    for r in rows.itertuples()
                ),
                key=lambda x: (x.rank is None, x.rank or 0, -(x.index or -1.0), x.unit_name),
            )
            if not ranked:
                continue
            chart = charts.ranking_bars(
                f"{family_vi} – {tier_vi}", [(r.unit_name, r.index, r.band) for r in ranked], limits
            )
            rankings.append(Ranking(tier, tier_vi, family, family_vi, tuple(ranked), chart))
    return Overview(
        period_key=wanted.key,
        period_label=vi.period_label(wanted),
        rule_set=inputs.definitions.rule_set.id,
        made_at=inputs.made_at,
        ledger=inputs.ledger,
        rankings=tuple(rankings),
    )


def render_overview(overview: Overview) -> str:
    return render("overview.html.j2", overview=overview)


def write_overview_html(overview: Overview, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_overview(overview), encoding="utf-8")
    return path


def overview_job(overview: Overview, target: Path) -> PrintJob:
    return PrintJob(render_overview(overview), target, f"Tổng hợp toàn thành phố – {overview.period_label}")
