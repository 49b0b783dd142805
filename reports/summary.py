"""The inspectors' pre-visit summary of one unit along the plan's Đề cương (110/KH-UBND): per section, the
indicators against their targets, the raw figures the observations support, what the unit must provide
("Do đơn vị cung cấp"), and the snapshots behind every figure; then draft strengths, red flags, suggestions.

    >>> summary = build_summary(settings, "phuong-3")                 # the period ends before the unit's visit
    >>> summary = build_summary(settings, "phuong-3", period="2023-Q2")
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from cchc.errors import CchcError
from cchc.settings import Settings, Unit
from evidence.blobs import BlobStore
from indicators import Period, inspection_period, parse_period, within_rule_set
from indicators.definitions import Indicator, load_definitions
from indicators.observed import SCORE_METRICS
from indicators.reconcile import GroupCheck
from reports import charts, outline, sources
from reports import vi as fmt
from reports.bundle import attach_bundles
from reports.figures import PER_MONTHS, Cell, UnitFigures, tier_of
from reports.inputs import SummaryInputs
from reports.model import (
    NOT_AVAILABLE,
    PROVIDED_TEXT,
    Cover,
    Fact,
    FactTable,
    Finding,
    IndicatorLine,
    PostLink,
    ProvidedItem,
    Section,
    Summary,
    TotalLine,
)
from reports.outline import SECTION_KEYS, SECTIONS
from reports.sites import SiteState, screenshots, site_states

__all__ = [
    "SECTIONS",
    "SummaryInputs",
    "build_summary",
    "common_period",
    "default_period",
    "due_date",
    "resolve_period",
    "resolve_unit",
    "visit_of",
]

SCREENSHOT_PROBES = {"2.1": ("news",), "2.3": ("procedures", "service_stats"), "2.7": ("availability",)}
PER_VI = {"month": "tháng", "quarter": "quý", "year": "năm"}
PLAN_WORD = "kế hoạch"
RECONCILE = "i766_reconciliation"  # the indicator a reconciliation finding names in II and III
DIGITAL_WORDS = ("chuyển đổi số", "công nghệ số")


# --- periods and dates --------------------------------------------------------------------------------------


def default_period(visit: date | None) -> str:
    """January of the visit's year up to the last complete month before the visit; 'ytd' without a visit."""
    if visit is None:
        return "ytd"
    if visit.month == 1:
        return str(visit.year - 1)
    return f"{visit.year}-01..{visit.year}-{visit.month - 1:02d}"


def visit_of(settings: Settings, unit_id: str, today: date | None = None) -> date | None:
    """The unit's planned visit: the next one from today, else its latest."""
    dates = sorted(v.date for v in settings.visit if v.unit == unit_id)
    if not dates:
        return None
    today = today or date.today()
    return next((d for d in dates if d >= today), dates[-1])


def due_date(settings: Settings, visit: date | None) -> date | None:
    """The day the unit's report is due at Phòng Nội vụ: report_days_before the visit."""
    return None if visit is None else visit - timedelta(days=settings.inspection.report_days_before)


def common_period(settings: Settings, data: pd.DataFrame | None = None) -> str:
    """One period for every unit (the city overview ranks like with like): the inspection's
    (indicators.inspection_period: the one before the first visit, else the inspection year up to the data)."""
    return inspection_period(settings, data)


def resolve_period(text: str, settings: Settings | None = None) -> Period:
    """A period as typed, or one clear line: not a period, too long, or outside the rule set's validity."""
    try:
        if settings is None:
            return parse_period(text)
        period = parse_period(text, max_months=settings.indicators.max_period_months)
        within_rule_set(period, load_definitions(settings.indicators.file))
        return period
    except ValueError as exc:
        raise CchcError(f"bad period: {exc}") from None


def resolve_unit(settings: Settings, unit_id: str) -> Unit:
    try:
        return settings.unit_by_id(unit_id)
    except KeyError:
        known = ", ".join(u.id for u in settings.units_in_inspection())
        raise CchcError(f"unknown unit {unit_id!r}; inspected units are {known}") from None


# --- the summary ---------------------------------------------------------------------------------------------


def build_summary(
    settings: Settings,
    unit_id: str,
    *,
    period: str | None = None,
    visit: date | None = None,
    engine: Engine | None = None,
    blobs: BlobStore | None = None,
    inputs: SummaryInputs | None = None,
) -> Summary:
    """One unit's pre-visit summary; `inputs` shares one reading of the store between summaries."""
    unit = resolve_unit(settings, unit_id)
    chosen_visit = visit if visit is not None else visit_of(settings, unit.id)
    chosen = period or (default_period(chosen_visit) if chosen_visit else common_period(settings))
    wanted = resolve_period(chosen, settings)
    if inputs is not None:
        summary = _Builder(inputs, unit, wanted, chosen_visit).summary()
    else:
        with SummaryInputs.open(settings, engine=engine, blobs=blobs, extra_units=[unit]) as opened:
            summary = _Builder(opened, unit, wanted, chosen_visit).summary()
    attach_bundles(settings, [summary])
    return summary


def _ids(values: Any) -> list[int]:
    return sorted({int(v) for v in values}) if isinstance(values, list | tuple) else []


def _float(value: Any) -> float | None:
    """A table cell as a float, or None for a blank (None or NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _has_words(title: str, *words: str) -> bool:
    folded = unicodedata.normalize("NFC", title).casefold()
    return any(w in folded for w in words)


class _Builder:
    def __init__(self, inputs: SummaryInputs, unit: Unit, period: Period, visit: date | None) -> None:
        self.inputs = inputs
        self.settings = inputs.settings
        self.unit = unit
        self.tier = tier_of(unit.kind)
        self.period = period
        self.visit = visit
        self.decimals = inputs.definitions.rule_set.decimals
        table = inputs.table(period)
        self.tier_rows = table[table["tier"] == self.tier]
        self.rows = table[table["unit"] == unit.id]
        self.figures = UnitFigures(inputs.raw, unit.id, period)
        self.scored = {i.id: i for i in inputs.definitions.indicator}
        self.section_of = {i.id: i.section for i in inputs.definitions.indicator}
        self.section_of.update({r.id: r.section for r in inputs.definitions.reported_only})
        self.portal = self.settings.portal_by_id(unit.portal)
        self.lines = self._indicator_lines()
        self.checks = inputs.checks(unit, period) if unit.kind != "phong" else []

    def summary(self) -> Summary:
        sections = {key: Section(key, title, heading) for key, heading, title in SECTIONS}
        for key, section in sections.items():
            section.intro = outline.INTROS.get(key, "")
            section.provided = [ProvidedItem(text) for text in outline.provided(key, self.tier)]
        for line in self.lines:
            sections.get(line.section, sections["2.3"]).indicators.append(line)
        posts = self._posts()
        sites = site_states(self.inputs, self.unit)
        self._direction(sections["I.1"], posts)
        self._outreach(sections["2.1"], posts)
        late = self._procedures(sections["2.3"])
        sections["2.7"].facts += [s.fact for s in sites]
        self._digital(sections["3"], sites, posts)
        self._assessment(sections["II"], sections, sites, late)
        sections["II"].tables.append(self._changes())
        self._recommendations(sections["III"], sections["II"])
        for key, probes in SCREENSHOT_PROBES.items():
            sections[key].screenshots = screenshots(self.inputs, self.unit, probes)
        cited = {key: s.snapshot_ids() for key, s in sections.items()}
        refs = sources.snapshot_refs(self.inputs.engine, set().union(*cited.values()), self.inputs.tz)
        for key, ids in cited.items():
            if key not in ("II", "III"):  # their findings cite the snapshots of the sections they come from
                sections[key].snapshots = sorted((refs[i] for i in ids if i in refs), key=lambda r: r.seq)
        ordered = [sections[key] for key in SECTION_KEYS]
        observations = {i for s in ordered for i in s.observation_ids()}
        return Summary(
            self._cover(),
            ordered,
            snapshot_index=refs,
            observation_snapshot=sources.observation_snapshots(self.inputs.engine, observations),
        )

    # --- cover ---------------------------------------------------------------------------------------------

    def _cover(self) -> Cover:
        inspection = self.settings.inspection
        rule = self.inputs.definitions.rule_set
        valid = f"{fmt.day(rule.valid_from)} – {fmt.day(rule.valid_to) if rule.valid_to else '…'}"
        return Cover(
            unit_id=self.unit.id,
            unit_name=self.unit.name,
            unit_kind=self.unit.kind,
            unit_kind_vi=fmt.KIND_VI[self.unit.kind],
            tier=self.tier,
            tier_vi=fmt.TIER_VI[self.tier],
            inspection_title=inspection.title,
            plan=inspection.plan,
            plan_date=inspection.plan_date,
            period_key=self.period.key,
            period_label=fmt.period_label(self.period),
            period_start=self.period.start,
            period_end=self.period.end,
            visit=self.visit,
            due=due_date(self.settings, self.visit),
            report_days_before=inspection.report_days_before,
            rule_set=rule.id,
            rule_set_valid=valid,
            made_at=self.inputs.made_at,
            ledger=self.inputs.ledger,
            totals=tuple(self._totals()),
        )

    def _totals(self) -> list[TotalLine]:
        lines = []
        for row in self.rows[self.rows["scoring"] == "total"].itertuples():
            index = _float(row.points)
            in_tier = self.tier_rows[self.tier_rows["indicator"] == row.indicator]
            published_rank = _float(row.published_rank)
            lines.append(
                TotalLine(
                    indicator=str(row.indicator),
                    name_vi=str(row.name_vi),
                    status=str(row.status),
                    index=index,
                    band=_text(row.band) or None,
                    rank=None if _float(row.rank) is None else int(row.rank),
                    ranked_units=int(in_tier["rank"].notna().sum()),
                    coverage=_float(row.coverage),
                    flag=bool(row.flag),
                    reason=_text(row.reason),
                    reason_vi=fmt.reason(_text(row.reason)),
                    reported_value=_float(row.reported_value),
                    display_index=self._display_total(row, index),
                    published_rank=None if published_rank is None else int(published_rank),
                )
            )
        return lines

    def _display_total(self, row: Any, index: float | None) -> str:
        """How a total reads: the published index out of 100; our check as points of the points computable,
        never out of 100; the PAR index as a % of its applicable maximum."""
        if index is None:
            return fmt.not_available(str(row.status))
        if row.indicator == "CHECK_766":
            share = _float(row.coverage) or 0.0
            return (
                f"{fmt.points(index, self.decimals)} / {fmt.number(float(row.max_points))} điểm tính được "
                f"({fmt.percent(share, 0)} của 100)"
            )
        if row.indicator == "TOTAL_766":
            return f"{fmt.points(index, self.decimals)} / 100"
        return fmt.points(index, self.decimals)

    # --- indicators ----------------------------------------------------------------------------------------

    def _indicator_lines(self) -> list[IndicatorLine]:
        groups = {g.id: g for g in self.inputs.definitions.group}
        lines = []
        for row in self.rows[self.rows["scoring"] != "total"].itertuples():
            numerator, denominator = _float(row.numerator), _float(row.denominator)
            rate, score, reported = _float(row.rate), _float(row.points), _float(row.reported_value)
            threshold = _float(row.threshold)
            status = str(row.status)
            ind = self.scored.get(str(row.indicator))
            if status == "ok":
                top = fmt.number(numerator or 0.0)
                result = top if denominator is None else f"{top}/{fmt.number(denominator)}"
                shown_rate = fmt.percent(rate, self.decimals) if rate is not None else "—"
                shown_points = (
                    f"{fmt.points(score or 0.0, self.decimals)} / {fmt.number(float(row.max_points))}"
                )
            elif status == "reported":
                group = groups[str(row.group)]
                result = f"Điểm nhóm “{group.name_vi}” trên Cổng DVCQG: {fmt.number(reported or 0.0)}"
                shown_rate, shown_points = "—", "Theo Cổng DVCQG"
            else:
                result = shown_rate = shown_points = fmt.not_available(status)
            lines.append(
                IndicatorLine(
                    indicator=str(row.indicator),
                    name_vi=str(row.name_vi),
                    family=str(row.family),
                    group=str(row.group),
                    section=self.section_of.get(str(row.indicator), "2.3"),
                    scoring=str(row.scoring),
                    numerator=numerator,
                    denominator=denominator,
                    rate=rate,
                    points=score,
                    max_points=float(row.max_points),
                    threshold=threshold,
                    target_text=self._target_text(ind, threshold),
                    goal_text=self._goal_text(ind, threshold),
                    status=status,
                    status_vi=fmt.status_text(status),
                    reason=_text(row.reason),
                    reason_vi=fmt.reason(_text(row.reason)),
                    flag=bool(row.flag),
                    reported_value=reported,
                    rank=None if _float(row.rank) is None else int(row.rank),
                    confidence=str(row.confidence),
                    display_result=result,
                    display_rate=shown_rate,
                    display_points=shown_points,
                    observation_ids=_ids(row.observation_ids),
                    snapshot_ids=_ids(row.snapshot_ids),
                )
            )
        return lines

    def _goal_text(self, ind: Indicator | None, threshold: float | None) -> str:
        """The target a red flag falls short of, briefly: '≥ 80%', '≥ 4 tin, bài/tháng'."""
        if ind is not None and ind.scoring == "count_target" and ind.target is not None:
            return f"≥ {fmt.number(ind.target)} tin, bài/{PER_VI[ind.per]}"
        limit = threshold if ind is None else ind.flag_below if ind.flag_below is not None else ind.threshold
        return f"≥ {fmt.percent(limit, 0)}" if limit is not None else ""

    def _target_text(self, ind: Indicator | None, threshold: float | None) -> str:
        """How the indicator is scored: 'đạt điểm tối đa khi ≥ 80%; cảnh báo khi < 98%'."""
        if ind is None:
            return (
                f"đạt điểm tối đa khi ≥ {fmt.percent(threshold, 0)}" if threshold else "tỷ lệ × điểm tối đa"
            )
        if ind.scoring == "count_target" and ind.target is not None:
            expected = ind.target * len(self.period.months) / PER_MONTHS[ind.per]
            return f"≥ {fmt.number(ind.target)} tin, bài/{PER_VI[ind.per]} (cả kỳ: {fmt.number(expected)})"
        parts = []
        if ind.scoring == "threshold" and ind.threshold is not None:
            parts.append(f"đạt điểm tối đa khi ≥ {fmt.percent(ind.threshold, 0)}")
        elif ind.scoring == "linear":
            parts.append("điểm = tỷ lệ × điểm tối đa")
        if ind.flag_below is not None:
            parts.append(f"cảnh báo khi < {fmt.percent(ind.flag_below, 0)}")
        return "; ".join(parts)

    # --- raw figures --------------------------------------------------------------------------------------

    def _count_fact(self, label: str, metric: str) -> Fact:
        cell = self.figures.total(metric)
        ok = cell.status == "ok" and cell.value is not None
        details = []
        if cell.observed_at is not None:
            details.append(f"Theo lần thu thập lúc {fmt.moment(cell.observed_at.astimezone(self.inputs.tz))}")
        return Fact(
            label=label,
            value=cell.value if ok else None,
            display=fmt.number(cell.value or 0.0) if ok else NOT_AVAILABLE,
            status=cell.status,
            reason_vi=fmt.reason(cell.reason),
            details=details,
            observation_ids=list(cell.observation_ids),
            snapshot_ids=list(cell.snapshot_ids),
        )

    def _rate_fact(self, label: str, numerator: Sequence[str], denominator: Sequence[str]) -> Fact:
        cells = {m: self.figures.total(m) for m in (*numerator, *denominator)}
        obs = sorted({i for c in cells.values() for i in c.observation_ids})
        snaps = sorted({i for c in cells.values() for i in c.snapshot_ids})
        bad = next((c for c in cells.values() if c.status != "ok" or c.value is None), None)
        if bad is not None:
            why = fmt.reason(bad.reason)
            return Fact(
                label=label,
                value=None,
                display=NOT_AVAILABLE,
                status=bad.status,
                reason_vi=why,
                observation_ids=obs,
                snapshot_ids=snaps,
            )
        top = sum(cells[m].value or 0.0 for m in numerator)
        bottom = sum(cells[m].value or 0.0 for m in denominator)
        if bottom == 0:
            why = fmt.reason("no denominator in the period (0)")
            return Fact(
                label=label,
                value=None,
                display=NOT_AVAILABLE,
                status="na",
                reason_vi=why,
                observation_ids=obs,
                snapshot_ids=snaps,
            )
        shown = f"{fmt.percent(top / bottom, self.decimals)} ({fmt.number(top)}/{fmt.number(bottom)})"
        return Fact(
            label=label,
            value=top / bottom,
            display=shown,
            status="ok",
            observation_ids=obs,
            snapshot_ids=snaps,
        )

    def _monthly_values(self, metric: str) -> list[charts.MonthValue]:
        return [
            charts.MonthValue(month, cell.value if cell.status == "ok" else None)
            for month, cell in self.figures.months(metric)
        ]

    def _monthly_rate(self, numerator: Sequence[str], denominator: Sequence[str]) -> list[charts.MonthValue]:
        series = {m: dict(self.figures.months(m)) for m in {*numerator, *denominator}}
        values = []
        for month in self.period.months:
            cells = {m: by_month[month] for m, by_month in series.items()}
            if any(c.status != "ok" or c.value is None for c in cells.values()):
                values.append(charts.MonthValue(month, None))
                continue
            top = sum(cells[m].value or 0.0 for m in numerator)
            bottom = sum(cells[m].value or 0.0 for m in denominator)
            values.append(charts.MonthValue(month, top / bottom if bottom else None))
        return values

    def _limit(self, indicator: str) -> float | None:
        ind = self.scored.get(indicator)
        if ind is None:
            return None
        return ind.flag_below if ind.flag_below is not None else ind.threshold

    # --- news ----------------------------------------------------------------------------------------------

    def _posts(self) -> list[PostLink]:
        """The unit's posts counted in the period (news_posts: as published now, each once), with the latest
        capture of each, oldest first."""
        counted: set[int] = set()
        reform: set[int] = set()
        for metric, chosen in (("news_posts", counted), ("news_posts_cchc", reform)):
            for month in self.period.months:
                row = self.figures.by_key.get((metric, month))
                detail = row.get("detail") if row is not None and row["status"] == "ok" else None
                chosen |= {int(p) for p in (detail or {}).get("posts", [])}
        frame = self.inputs.posts
        mine = frame[frame["unit"] == self.unit.id]
        latest: dict[int, PostLink] = {}
        for row in mine.sort_values("seq").itertuples():
            attributes = row.attributes if isinstance(row.attributes, dict) else {}
            post_id = attributes.get("post_id")
            if post_id is None or int(post_id) not in counted:
                continue
            latest[int(post_id)] = PostLink(
                title=str(row.text or ""),
                url=str(attributes.get("url") or ""),
                published=str(attributes.get("published") or ""),
                reform=int(post_id) in reform,
                observation_id=int(row.id),
                snapshot_id=int(row.snapshot_id),
            )
        return sorted(latest.values(), key=lambda p: p.published)

    def _posts_fact(self, label: str, chosen: list[PostLink], empty: str) -> Fact:
        """Posts are counted only where the walk of the categories covers the period (as news_posts does)."""
        cell = self.figures.total("news_posts")
        obs, snaps = list(cell.observation_ids), list(cell.snapshot_ids)
        if cell.status != "ok":
            why = fmt.reason(cell.reason)
            return Fact(
                label=label,
                value=None,
                display=NOT_AVAILABLE,
                status=cell.status,
                reason_vi=why,
                observation_ids=obs,
                snapshot_ids=snaps,
            )
        display = f"{fmt.number(len(chosen))} tin, bài" if chosen else empty
        return Fact(
            label=label,
            value=float(len(chosen)),
            display=display,
            status="ok",
            posts=chosen,
            observation_ids=obs,
            snapshot_ids=snaps,
        )

    def _where_posts(self) -> str:
        if self.unit.news_categories:
            categories = ", ".join(self.unit.news_categories)
            return (
                f"{self.portal.name}, chuyên mục {categories} (Kế hoạch, mục II.1.e: tin, bài của phòng trên Cổng "
                "TTĐT thành phố)"
            )
        return self.portal.name

    # --- sections I.1, 2.1, 2.3, 3 -------------------------------------------------------------------------

    def _direction(self, section: Section, posts: list[PostLink]) -> None:
        plans = [p for p in posts if p.reform and _has_words(p.title, PLAN_WORD)]
        label = f"Kế hoạch CCHC, chuyển đổi số được đăng trên {self._where_posts()}"
        section.facts.append(
            self._posts_fact(label, plans, "Không thấy tin, bài nào về kế hoạch CCHC, CĐS trong kỳ")
        )

    def _outreach(self, section: Section, posts: list[PostLink]) -> None:
        section.intro = f"Kết quả đăng tin, bài trên {self._where_posts()}."
        section.facts.append(self._posts_fact("Tin, bài đăng trong kỳ", posts, "0 tin, bài"))
        reform = [p for p in posts if p.reform]
        section.facts.append(
            self._posts_fact("Tin, bài tuyên truyền CCHC, chuyển đổi số", reform, "0 tin, bài")
        )
        reform_months = dict(self.figures.months("news_posts_cchc"))
        rows = []
        for month, cell in self.figures.months("news_posts"):
            reform_cell = reform_months[month]
            if cell.status == "ok" and cell.value is not None and reform_cell.value is not None:
                rows.append(
                    (fmt.month_label(month), fmt.number(cell.value), fmt.number(reform_cell.value), "")
                )
            else:
                rows.append((fmt.month_label(month), NOT_AVAILABLE, NOT_AVAILABLE, fmt.reason(cell.reason)))
        columns = ("Tháng", "Tin, bài", "Trong đó CCHC, CĐS", "Ghi chú")
        section.tables.append(FactTable("Tin, bài theo tháng", columns, tuple(rows)))
        section.notes += [
            f.text for f in self.inputs.news_findings if f.unit == self.unit.id and f.kind == "zone"
        ]
        section.tables.append(self._quarters(reform_months))
        news = self.scored.get("PAR_NEWS")
        per_month = (
            news.target / PER_MONTHS[news.per] if news is not None and news.target is not None else None
        )
        section.charts.append(
            charts.monthly_bars(
                "Tin, bài đăng theo tháng",
                [
                    ("Tất cả tin, bài", self._monthly_values("news_posts")),
                    ("Tin, bài CCHC, CĐS", self._monthly_values("news_posts_cchc")),
                ],
                target=per_month,
                target_label=f"Mục tiêu {fmt.number(per_month)} tin, bài/tháng" if per_month else "",
                description="Số tin, bài riêng biệt mỗi tháng; tháng không có minh chứng đầy đủ ghi N/A.",
            )
        )

    def _quarters(self, reform_months: dict[str, Cell]) -> FactTable:
        """Reform posts per quarter against the PAR_CCHC_POSTS target (a part-quarter's target pro rata)."""
        quarters: dict[str, list[str]] = {}
        for month in self.period.months:
            year, number = month.split("-")
            quarters.setdefault(f"{fmt.ROMAN_QUARTER[(int(number) - 1) // 3 + 1]}/{year}", []).append(month)
        cchc = self.scored.get("PAR_CCHC_POSTS")
        rows = []
        for quarter, months in quarters.items():
            cells = [reform_months[m] for m in months]
            note = "" if len(months) == 3 else f"{len(months)} tháng trong kỳ"
            target = "—"
            if cchc is not None and cchc.target is not None:
                target = fmt.number(cchc.target * len(months) / PER_MONTHS[cchc.per])
            bad = next((c for c in cells if c.status != "ok" or c.value is None), None)
            if bad is not None:
                why = "; ".join(x for x in (note, fmt.reason(bad.reason)) if x)
                rows.append((f"Quý {quarter}", NOT_AVAILABLE, target, why))
            else:
                rows.append((f"Quý {quarter}", fmt.number(sum(c.value or 0.0 for c in cells)), target, note))
        columns = ("Quý", "Tin, bài CCHC, CĐS", "Mục tiêu", "Ghi chú")
        return FactTable("Tin, bài tuyên truyền CCHC, chuyển đổi số theo quý", columns, tuple(rows))

    def _procedures(self, section: Section) -> Cell:
        if self.unit.kind == "phong":
            fields = ", ".join(self.unit.dvc_linh_vuc) or "không có"
            section.notes.append(
                f"Phòng chuyên môn: TTHC và hồ sơ của các lĩnh vực được phân công tại Bộ phận Một cửa thành phố "
                f"({fields})."
            )
        on_time = (["hs_processed_on_time"], ["hs_processed_on_time", "hs_processed_late"])
        online = (["hs_received_online"], ["hs_received"])
        section.facts += [
            self._count_fact("TTHC công khai trên Cổng Dịch vụ công tỉnh", "tthc_listed"),
            self._count_fact("— mức toàn trình", "tthc_toan_trinh"),
            self._count_fact("— mức một phần", "tthc_mot_phan"),
            self._count_fact("— chỉ cung cấp thông tin", "tthc_cung_cap_thong_tin"),
            self._rate_fact(
                "Tỷ lệ DVCTT toàn trình (toàn trình / toàn trình + một phần)",
                ["tthc_toan_trinh"],
                ["tthc_toan_trinh", "tthc_mot_phan"],
            ),
            self._count_fact(
                "TTHC công khai đủ 7 bộ phận tạo thành (NĐ 63/2010, Điều 8 k2)", "tthc_complete_7"
            ),
            self._count_fact("TTHC trong danh mục chuẩn (Cổng DVCQG) phải công khai", "tthc_reference"),
            self._missing_codes_fact(),
            self._count_fact("Hồ sơ tiếp nhận trong kỳ", "hs_received"),
            self._count_fact("— tiếp nhận trực tuyến", "hs_received_online"),
            self._rate_fact("Tỷ lệ hồ sơ nộp trực tuyến (trực tuyến / tiếp nhận)", *online),
            self._count_fact("Hồ sơ đồng bộ lên Cổng DVCQG", "hs_synced"),
            self._count_fact("Hồ sơ giải quyết trước hạn, đúng hạn", "hs_processed_on_time"),
            self._count_fact("Hồ sơ giải quyết trễ hạn", "hs_processed_late"),
            self._rate_fact("Tỷ lệ hồ sơ giải quyết đúng hạn", *on_time),
            self._rate_fact(
                "Hồ sơ thanh toán trực tuyến (Cổng DVCQG + cổng tỉnh) / hồ sơ tiếp nhận",
                ["hs_paid_online_dvcqg", "hs_paid_online_local"],
                ["hs_received"],
            ),
            self._count_fact("Phản ánh, kiến nghị xử lý đúng hạn", "pakn_on_time"),
            self._count_fact("Phản ánh, kiến nghị xử lý trễ hạn", "pakn_late"),
        ]
        scores = self._scores()
        if scores is not None:
            section.tables.append(scores[0])
            section.facts.append(scores[1])
            section.tables.append(self._reconciliation_table())
            section.facts += [self._discrepancy_fact(c) for c in self.checks if c.finding]
        late = self.figures.total("hs_processed_late")
        if late.status == "ok" and late.value is not None:
            count = f"Số hồ sơ trễ hạn trong kỳ (điền sẵn): {fmt.number(late.value)}"
        else:
            count = f"Số hồ sơ trễ hạn: {NOT_AVAILABLE} ({fmt.reason(late.reason)})"
        section.provided.insert(0, ProvidedItem(outline.APOLOGY_SLIPS, count))
        limit = self._limit("PAR_ONTIME")
        section.charts.append(
            charts.monthly_rates(
                "Tỷ lệ hồ sơ đúng hạn và nộp trực tuyến theo tháng",
                [("Đúng hạn", self._monthly_rate(*on_time)), ("Nộp trực tuyến", self._monthly_rate(*online))],
                target=limit,
                target_label="Ngưỡng cảnh báo đúng hạn" if limit else "",
                description="Tỷ lệ mỗi tháng; tháng không phát sinh hồ sơ hoặc không có minh chứng ghi N/A.",
            )
        )
        return late

    def _missing_codes_fact(self) -> Fact:
        label = "TTHC trong danh mục chuẩn chưa công khai trên Cổng Dịch vụ công tỉnh"
        fact = self._count_fact(label, "tthc_reference_missing")
        if fact.status == "ok":
            codes = [str(c) for c in self.figures.detail("tthc_reference_missing").get("codes", [])]
            fact.details = [f"Mã TTHC: {', '.join(codes)}"] if codes else ["Không thiếu TTHC nào"]
        return fact

    def _scores(self) -> tuple[FactTable, Fact] | None:
        """The 766 dashboard's own scores of a ward or commune for the period, or for its last month."""
        if self.unit.kind == "phong":
            return None
        key = self.period.dvcqg_key or self.period.months[-1]
        cells = {m: self.figures.at(m, key) for m in SCORE_METRICS}
        found = {m: c for m, c in cells.items() if c.status == "ok" and c.value is not None}
        label = f"Điểm Bộ chỉ số 766 trên Cổng DVCQG ({fmt.period_label(parse_period(key))})"
        columns = ("Nhóm", "Điểm", "Tối đa")
        if not found:
            why = fmt.reason(cells["i766_score_tong"].reason) or "Chưa thu thập được điểm của kỳ này"
            return FactTable(label, columns, ()), Fact(
                label=label, value=None, display=NOT_AVAILABLE, status="missing", reason_vi=why
            )
        rows = tuple(
            (
                name,
                fmt.points(found[m].value or 0.0, self.decimals) if m in found else NOT_AVAILABLE,
                fmt.number(top),
            )
            for m, (name, top) in outline.GROUP_SCORES.items()
        )
        obs = sorted({i for c in found.values() for i in c.observation_ids})
        snaps = sorted({i for c in found.values() for i in c.snapshot_ids})
        total = found.get("i766_score_tong")
        if total is None or total.value is None:
            fact = Fact(
                label=label,
                value=None,
                display=NOT_AVAILABLE,
                status="missing",
                reason_vi="Thiếu tổng điểm",
                observation_ids=obs,
                snapshot_ids=snaps,
            )
        else:
            shown = fmt.points(total.value, self.decimals) + "/100"
            fact = Fact(
                label=label,
                value=total.value,
                display=shown,
                status="ok",
                observation_ids=obs,
                snapshot_ids=snaps,
            )
        return FactTable(label, columns, rows), fact

    def _reconciliation_table(self) -> FactTable:
        """Per month and group: the published score beside what the public counts allow."""
        status_vi = {"equal": "Khớp", "within": "Phù hợp", "differs": outline.RECONCILE_TITLE,
                     "unchecked": "Chưa đối chiếu được (không chỉ tiêu nào tính được)",
                     "no_published": "Chưa có điểm công bố"}  # fmt: skip
        rows = []
        for check in self.checks:
            allowed = (
                fmt.points(check.computed, self.decimals)
                if check.unscored_max == 0
                else f"{fmt.points(check.low, self.decimals)} – {fmt.points(check.high, self.decimals)}"
            )
            if check.status == "unchecked":
                allowed = "—"
            published = (
                NOT_AVAILABLE if check.published is None else fmt.points(check.published, self.decimals)
            )
            rows.append(
                (fmt.month_label(check.month), check.group_name, published, allowed, status_vi[check.status])
            )
        columns = ("Tháng", "Nhóm chỉ số", "Điểm công bố", "Số liệu công khai cho phép", "Đối chiếu")
        title = (
            "Đối chiếu điểm Bộ chỉ số 766 công bố với số liệu công khai "
            f"(sai số cho phép {fmt.number(self.inputs.definitions.reconciliation.tolerance)} điểm)"
        )
        return FactTable(title, columns, tuple(rows))

    def _discrepancy_fact(self, check: GroupCheck) -> Fact:
        """A finding among the section's figures, citing the published score's capture and the counts'."""
        allowed = (
            fmt.points(check.computed, self.decimals)
            if check.unscored_max == 0
            else f"{fmt.points(check.low, self.decimals)} – {fmt.points(check.high, self.decimals)}"
        )
        return Fact(
            label=f"{outline.RECONCILE_TITLE}: {check.group_name}, tháng {fmt.month_label(check.month)}",
            value=check.published,
            display=f"công bố {fmt.points(check.published or 0.0, self.decimals)}; số liệu công khai: {allowed}",
            status="ok",
            details=[
                f"{p.name_vi} ({fmt.points(p.points or 0.0, self.decimals)}/{fmt.number(p.max_points)} điểm): "
                + ", ".join(
                    f"{fmt.metric(m)} = {NOT_AVAILABLE if v is None else fmt.number(v)}" for m, v in p.inputs
                )
                for p in check.parts
                if p.status == "ok"
            ],
            observation_ids=sorted({*check.observation_ids, *check.published_observation_ids}),
            snapshot_ids=sorted({*check.snapshot_ids, *check.published_snapshot_ids}),
        )

    def _discrepancy_text(self, check: GroupCheck) -> str:
        """A finding as an inspector reads it: the group and month, both values, the indicators and their inputs."""
        published = fmt.points(check.published or 0.0, self.decimals)
        if check.unscored_max == 0:
            allowed = f"tính lại được {fmt.points(check.computed, self.decimals)} điểm"
        else:
            allowed = (
                f"chỉ cho phép từ {fmt.points(check.low, self.decimals)} đến {fmt.points(check.high, self.decimals)}"
                f" điểm ({fmt.points(check.computed, self.decimals)} điểm tính được, tối đa "
                f"{fmt.number(check.unscored_max)} điểm của các chỉ tiêu không có số liệu công khai)"
            )
        parts = "; ".join(
            f"{p.name_vi} {fmt.points(p.points or 0.0, self.decimals)}/{fmt.number(p.max_points)} "
            "điểm từ "
            + ", ".join(
                f"{fmt.metric(m)} = {NOT_AVAILABLE if v is None else fmt.number(v)}" for m, v in p.inputs
            )
            for p in check.parts
            if p.status == "ok"
        )
        return (
            f"{outline.RECONCILE_TITLE}: nhóm “{check.group_name}” tháng {fmt.month_label(check.month)}, Cổng DVCQG "
            f"công bố {published} điểm; số liệu công khai {allowed}. Căn cứ: {parts}"
        )

    def _digital(self, section: Section, sites: list[SiteState], posts: list[PostLink]) -> None:
        for state in sites:
            if state.own:
                fact = state.fact
                section.facts.append(
                    Fact(
                        label=f"Cổng/trang TTĐT của đơn vị: {fact.label}",
                        value=fact.value,
                        display=fact.display,
                        status=fact.status,
                        reason_vi=fact.reason_vi,
                        details=list(fact.details),
                        observation_ids=list(fact.observation_ids),
                        snapshot_ids=list(fact.snapshot_ids),
                    )
                )
        section.facts.append(
            self._rate_fact(
                "Tỷ lệ DVCTT toàn trình", ["tthc_toan_trinh"], ["tthc_toan_trinh", "tthc_mot_phan"]
            )
        )
        section.facts.append(
            self._rate_fact("Tỷ lệ hồ sơ nộp trực tuyến", ["hs_received_online"], ["hs_received"])
        )
        digital = [p for p in posts if _has_words(p.title, *DIGITAL_WORDS)]
        label = "Tin, bài về chuyển đổi số, Tổ công nghệ số cộng đồng"
        section.facts.append(self._posts_fact(label, digital, "0 tin, bài"))
        if self.unit.kind == "phong":
            section.notes.append(outline.COMMUNITY_TEAM_PHONG)

    # --- II and III ---------------------------------------------------------------------------------------

    def _changes(self) -> FactTable:
        """Plan II.2.c: each indicator's points beside the previous period's (where the rule set covers it) and
        the same period a year earlier, the previous inspection's, scored under today's rule set."""
        from indicators import previous_period

        mine = self.rows[self.rows["scoring"] != "total"]
        compared = self.inputs.compared(self.period)
        year = compared[(compared["unit"] == self.unit.id) & (compared["scoring"] != "total")]
        last = dict(zip(year["indicator"], year["previous_points"], strict=True))
        last_key = str(year["previous_period"].iloc[0]) if len(year) else ""
        before_key = previous_period(self.period)
        try:
            earlier = self.inputs.table(resolve_period(before_key, self.settings))
            before = dict(
                zip(
                    *(earlier[earlier["unit"] == self.unit.id][c] for c in ("indicator", "points")),
                    strict=True,
                )
            )
        except CchcError:
            before = {}  # the rule set does not cover the previous period: no like-for-like change

        def shown(value: Any) -> str:
            number = _float(value)
            return NOT_AVAILABLE if number is None else fmt.points(number, self.decimals)

        def change(now: Any, then: Any) -> str:
            a, b = _float(now), _float(then)
            if a is None or b is None:
                return "—"
            delta = a - b
            return (
                "="
                if abs(delta) < 0.005
                else f"{'+' if delta > 0 else '−'}{fmt.points(abs(delta), self.decimals)}"
            )

        rows = []
        for row in mine.itertuples():
            if str(row.scoring) == "reported":
                continue
            then, older = before.get(row.indicator), last.get(row.indicator)
            previous = (shown(then), change(row.points, then)) if before else ()
            rows.append(
                (str(row.name_vi), shown(row.points), *previous, shown(older), change(row.points, older))
            )
        columns = ("Chỉ tiêu", "Kỳ này", *((f"Kỳ trước ({before_key})", "Thay đổi") if before else ()),
                   f"Cùng kỳ năm trước ({last_key})", "Thay đổi ")  # fmt: skip
        title = ("Thay đổi so với kỳ trước và so với lần kiểm tra trước (điểm; cùng kỳ năm trước chấm theo bộ quy "
                 "tắc hiện hành)")  # fmt: skip
        if not before:
            title += f"; kỳ trước ({before_key}) nằm ngoài hiệu lực của bộ quy tắc nên không so sánh"
        return FactTable(title, columns, tuple(rows))

    def _assessment(
        self, section: Section, sections: dict[str, Section], sites: list[SiteState], late: Cell
    ) -> None:
        """Draft strengths (full points, a Tốt band) and red flags (below target, no evidence, a site down)."""
        missing: dict[str, list[IndicatorLine]] = {}
        for key in SECTION_KEYS[:-2]:
            for line in sections[key].indicators:
                cites = (key, line.indicator, list(line.observation_ids), list(line.snapshot_ids))
                if line.full_points:
                    text = f"{line.name_vi}: đạt điểm tối đa ({line.display_points}; {line.display_result})"
                    section.findings.append(Finding("strength", text, *cites))
                elif line.status == "missing":
                    missing.setdefault(line.reason_vi, []).append(line)
                elif line.flag and line.status == "ok":
                    shown = line.display_rate if line.display_rate not in ("—", "") else line.display_result
                    text = f"{line.name_vi}: {shown}, dưới mục tiêu {line.goal_text}"
                    section.findings.append(Finding("red_flag", text, *cites))
        for why, lines in missing.items():
            names = "; ".join(line.name_vi for line in lines)
            section.findings.append(
                Finding(
                    "red_flag",
                    f"Thiếu minh chứng ({NOT_AVAILABLE}, không tính điểm): {names} — {why}",
                    lines[0].section,
                    "missing",
                    sorted({i for x in lines for i in x.observation_ids}),
                    sorted({i for x in lines for i in x.snapshot_ids}),
                )
            )
        for total in self._totals():
            if total.band == "Tốt":
                text = f"{total.name_vi}: {total.display_index} — xếp loại {total.band}"
                section.findings.append(Finding("strength", text, ""))
            if total.status == "ok" and total.reason.startswith("incomplete"):
                section.findings.append(Finding("red_flag", f"{total.name_vi}: {total.reason_vi}", ""))
        for check in self.checks:
            if check.finding:
                cited_obs = sorted({*check.observation_ids, *check.published_observation_ids})
                cited_snaps = sorted({*check.snapshot_ids, *check.published_snapshot_ids})
                text = self._discrepancy_text(check)
                section.findings.append(Finding("red_flag", text, "2.3", RECONCILE, cited_obs, cited_snaps))
        for change in self.inputs.news_findings:
            if change.unit == self.unit.id and change.kind != "zone" and change.month in self.period.months:
                section.findings.append(Finding("red_flag", change.text, "2.1", "news_changes",
                                                list(change.observation_ids), list(change.snapshot_ids)))  # fmt: skip
        for state in sites:
            if state.own and state.problem:
                text = f"{state.name}: {state.problem}"
                fact = state.fact
                section.findings.append(
                    Finding(
                        "red_flag", text, "2.7", "site", list(fact.observation_ids), list(fact.snapshot_ids)
                    )
                )
        absent = next(
            (f for f in sections["2.3"].facts if f.label.startswith("TTHC trong danh mục chuẩn chưa")), None
        )
        if absent is not None and absent.status == "ok" and (absent.value or 0) > 0:
            text = (
                f"Còn {fmt.number(absent.value or 0)} TTHC trong danh mục chuẩn chưa công khai trên Cổng Dịch vụ công "
                f"tỉnh ({'; '.join(absent.details)})"
            )
            ids = (list(absent.observation_ids), list(absent.snapshot_ids))
            section.findings.append(Finding("red_flag", text, "2.3", "tthc_reference_missing", *ids))
        if late.status == "ok" and (late.value or 0) > 0:
            text = (
                f"{fmt.number(late.value or 0)} hồ sơ trễ hạn trong kỳ: mỗi hồ sơ cần một Phiếu xin lỗi (Mẫu 04) — "
                f"{PROVIDED_TEXT}"
            )
            ids = (list(late.observation_ids), list(late.snapshot_ids))
            section.findings.append(Finding("red_flag", text, "2.3", "hs_processed_late", *ids))

    def _recommendations(self, section: Section, assessment: Section) -> None:
        """One suggestion per kind of red flag, citing the evidence of every flag it answers."""
        by_text: dict[str, Finding] = {}
        for flag in assessment.red_flags():
            text = self._suggestion_for(flag)
            if not text:
                continue
            found = by_text.setdefault(text, Finding("suggestion", text, flag.source_section, flag.indicator))
            found.observation_ids = sorted(set(found.observation_ids) | set(flag.observation_ids))
            found.snapshot_ids = sorted(set(found.snapshot_ids) | set(flag.snapshot_ids))
        section.findings += list(by_text.values())

    def _suggestion_for(self, flag: Finding) -> str:
        if flag.indicator == "site":
            return outline.SITE_SUGGESTION.format(site=flag.text.split(":")[0])
        if flag.indicator == "news_changes":
            return outline.NEWS_CHANGES_SUGGESTION
        if flag.indicator == "hs_processed_late":
            return outline.LATE_SUGGESTION
        if flag.indicator == "tthc_reference_missing":
            return outline.PUBLISH_PROCEDURES
        if flag.indicator == RECONCILE:
            groups = sorted(
                {f"{c.group_name} tháng {fmt.month_label(c.month)}" for c in self.checks if c.finding}
            )
            return outline.RECONCILE_SUGGESTION.format(groups="; ".join(groups))
        if flag.indicator == "missing":
            names = "; ".join(x.name_vi for x in self.lines if x.status == "missing")
            return outline.MISSING_SUGGESTION.format(names=names)
        line = next((x for x in self.lines if x.indicator == flag.indicator), None)
        if flag.indicator in outline.SUGGESTIONS and line is not None and line.status == "ok":
            return outline.SUGGESTIONS[flag.indicator].format(target=line.goal_text)
        return ""
