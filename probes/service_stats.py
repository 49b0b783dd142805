"""The service_stats probe: dossier counts, online payments, feedback and Decision-766 scores (Cổng DVCQG).

Reads three rest.jsp reports (portals.md §3.3): the monthly summary per unit of the city
(report_by_month_sum_service), the city's summary per lĩnh vực (field), summed per phòng through the
configured field → phòng attribution (report_tthc_tilexulyhs_service), and the 766 scores per period
(report_tinh_766_service). The 766 dashboard is also rendered once, as visual evidence. A report that
answers [] for a period is recorded as empty (N/A), never as zeros; an unknown shape is a parse failure.

Every row of a report is kept (`report_row`), keyed by the agency's national id, code and name, whether or not
it is one of ours. Our units are found among the rows by id, then code, then name (probes/matching.py), and
each report says per unit how (`unit_match`): a unit in no row, or in two, is a finding, not a silent N/A.
The city's own national id is found the same way on the province's 766 list before its reports are asked for.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup

from cchc.settings import Settings, Unit
from crawler import BrowserStep, Target, host_key
from probes._base import Found, LayoutNotRecognised, Parsed, SnapshotView
from probes._national import ensure_cookies, rest_params, rest_rows, rest_target
from probes._probe import Job
from probes._session import CrawlSession
from probes._text import clean, parse_count, parse_decimal, whole_or_none
from probes.matching import Candidate, Match, Wanted, match_agencies
from probes.v1_reports import v1_jobs, v1_parse

NAME = "service_stats"
# 2: every row kept, units matched by id, code, then name; 3: the optional open-dossier counts; 4: api/v1
VERSION = "4"
log = logging.getLogger("cchc.probes")

MONTHLY_SERVICE = "report_by_month_sum_service"
BY_FIELD_SERVICE = "report_tthc_tilexulyhs_service"
I766_SERVICE = "report_tinh_766_service"
DASHBOARD_PATH = "/p/home/dvc-index-tinhthanhpho-tonghop.html"
PAGE_SIZE = 200
MAX_PAGES = 20  # a server that ignores pageIndex must not keep us paging forever

# DVCQG count field → observation name (indicators.md §2 "Feeds"); the contract of indicators and truth.
DOSSIER_FIELDS: dict[str, str] = {
    "HS_TOTAL": "hs_received",
    "HTN_TRUCTIEP_TOTAL": "hs_received_direct",
    "HTN_BUUCHINH_TOTAL": "hs_received_post",
    "HTN_TRUCTUYEN_TOTAL": "hs_received_online",
    "DB_TOTAL": "hs_synced",
    "DXLTH_TOTAL": "hs_processed_on_time",
    "DXLQH_TOTAL": "hs_processed_late",
    "HTDH_TOTAL": "hs_returned_on_time",
    "HTQH_TOTAL": "hs_returned_late",
    "GDTTQG_TOTAL": "hs_paid_online_dvcqg",
    "GDTTDP_TOTAL": "hs_paid_online_local",
    "NTTDXLTH_TOTAL": "pakn_on_time",
    "NTTDXLQH_TOTAL": "pakn_late",
}
# Dossiers and feedback still open at the month's end, within or past their deadline (766 §2.1, §5.2 count
# them). No public source shows such fields (portals.md §3.3): the names are a guess, so they are optional and
# a report without them leaves 2.1 and 5.2 N/A, never computed the old way.
OPTIONAL_DOSSIER_FIELDS: dict[str, str] = {
    "DGXLTH_TOTAL": "hs_pending_in_time",
    "DGXLQH_TOTAL": "hs_pending_overdue",
    "NTTDGXLTH_TOTAL": "pakn_pending_in_time",
    "NTTDGXLQH_TOTAL": "pakn_pending_overdue",
}
# 766 group field → observation name; consumers disagree on TTTT and CLGQ, so they stay opaque.
SCORE_FIELDS: dict[str, str] = {
    "TONG_SCORE": "i766_score_tong",
    "CKMB": "i766_score_ckmb",
    "TDGQ": "i766_score_tdgq",
    "TTTT": "i766_score_tttt",
    "CLGQ": "i766_score_clgq",
    "MDHL": "i766_score_mdhl",
    "MDSH": "i766_score_mdsh",
}
DOSSIER_METRICS = frozenset(DOSSIER_FIELDS.values())
OPTIONAL_DOSSIER_METRICS = frozenset(OPTIONAL_DOSSIER_FIELDS.values())
SCORE_METRICS = frozenset(SCORE_FIELDS.values())
_IDENTITY = frozenset({"ID", "TEN", "MA_COQUAN", "CAPDONVIID", "ROW_STT", "LINHVUC_ID", "TEN_LINHVUC"})
AGENCY_KEYS = ("ID", "MA_COQUAN", "TEN")  # a report row is an agency's when it carries at least one of these
CITY = "city"  # the key of the city itself among the agencies a report lists
_PROVINCE_LOCK = f"{NAME}-province-lock"
_PROVINCE_ID = f"{NAME}-province-id"
_CITY_LOCK = f"{NAME}-city-lock"
_CITY_ID = f"{NAME}-city-id"


# --- periods -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """A DVCQG report period: a year, or one of its halves (p_6thang), quarters (p_quy) or months (p_thang)."""

    year: int
    half: int = 0
    quarter: int = 0
    month: int = 0

    @property
    def key(self) -> str:
        """'2023', '2023-H1', '2023-Q3' or '2023-09': the period of the observations."""
        if self.month:
            return f"{self.year}-{self.month:02d}"
        if self.quarter:
            return f"{self.year}-Q{self.quarter}"
        if self.half:
            return f"{self.year}-H{self.half}"
        return str(self.year)

    @property
    def start(self) -> date:
        if self.month:
            return date(self.year, self.month, 1)
        if self.quarter:
            return date(self.year, 3 * self.quarter - 2, 1)
        if self.half:
            return date(self.year, 6 * self.half - 5, 1)
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        """The period's last day."""
        months = 1 if self.month else 3 if self.quarter else 6 if self.half else 12
        following = self.start.month - 1 + months
        return date(self.start.year + following // 12, following % 12 + 1, 1) - timedelta(days=1)

    def params(self) -> dict[str, Any]:
        """The period as rest.jsp wants it: p_nam a string, the flags numbers (portals.md §4)."""
        return {"p_nam": str(self.year), "p_6thang": self.half, "p_quy": self.quarter, "p_thang": self.month}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ReportPeriod | None:
        """The period a request asked for, read the way the portal reads it; None without a usable p_nam."""
        year = whole_or_none(params.get("p_nam"))
        if year is None or not 2000 <= year <= 2100:
            return None
        month, quarter, half = (whole_or_none(params.get(k)) or 0 for k in ("p_thang", "p_quy", "p_6thang"))
        if 1 <= month <= 12:
            return cls(year, month=month)
        if 1 <= quarter <= 4:
            return cls(year, quarter=quarter)
        if half in (1, 2):
            return cls(year, half=half)
        return cls(year)


def months_to_crawl(year: int, today: date) -> list[ReportPeriod]:
    """Every month of the year before and of the inspection year, up to the current month."""
    return [
        ReportPeriod(y, month=m) for y in (year - 1, year) for m in range(1, 13) if date(y, m, 1) <= today
    ]


def periods_to_crawl(year: int, today: date) -> list[ReportPeriod]:
    """The 766 periods of both years (year, halves, quarters, months) that have started by today."""
    periods: list[ReportPeriod] = []
    for y in (year - 1, year):
        periods += [ReportPeriod(y)]
        periods += [ReportPeriod(y, half=h) for h in (1, 2)]
        periods += [ReportPeriod(y, quarter=q) for q in range(1, 5)]
        periods += [ReportPeriod(y, month=m) for m in range(1, 13)]
    return [p for p in periods if p.start <= today]


# --- requests ----------------------------------------------------------------------------------------------


def _id_param(value: str) -> int | str:
    """An id as the dashboards' JavaScript sends it (parseInt), unless that would change it ('007')."""
    return int(value) if value.isdigit() and str(int(value)) == value else value


def monthly_params(settings: Settings, period: ReportPeriod, city_id: str | None = None) -> dict[str, Any]:
    """The monthly summary of the city's units; `city_id` is the city's id as found on the 766 report."""
    province = settings.sources.dvc_quocgia.province_id
    return {
        "type": "ref",
        "service": MONTHLY_SERVICE,
        "p_nam": str(period.year),
        "p_thang": period.month,
        "p_tinh_id": _id_param(province) if province else 0,
        "p_huyen_id": city_id or settings.city.national_id,
    }


def by_field_params(settings: Settings, period: ReportPeriod, city_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "ref",
        "service": BY_FIELD_SERVICE,
        "p_nam": str(period.year),
        "p_thang": period.month,
        "p_donvi_id": city_id or settings.city.national_id,
    }


def i766_params(period: ReportPeriod, province_id: str | int, page: int = 1) -> dict[str, Any]:
    """report_tinh_766_service for one period; province 0 lists the provinces."""
    province = _id_param(province_id) if isinstance(province_id, str) else province_id
    return {"type": "ref", "service": I766_SERVICE, **period.params(), "p_tinh_id": province,
            "pageIndex": page, "pageSize": PAGE_SIZE, "p_loaidonvi": 1, "loaichitieu": 0}  # fmt: skip


def _i766_target(settings: Settings, period: ReportPeriod, province: str, page: int) -> Target:
    return rest_target(
        settings,
        i766_params(period, province, page),
        probe=NAME,
        label=f"{I766_SERVICE} {period.key} page {page}",
    )


def _looked_up(period: ReportPeriod) -> str:
    return f"{NAME}-i766-{period.key}-page-1"


def dashboard_target(settings: Settings, province_id: str) -> Target:
    """The 766 dashboard with the province chosen in its select2 picker, rendered for the record."""
    return Target(
        url=settings.sources.dvc_quocgia.base_url + DASHBOARD_PATH,
        render="browser",
        wait_for="#tblChiSo tbody tr",
        steps=(BrowserStep("select", "#tinhtp", province_id), BrowserStep("wait_for", "#tblChiSo tbody tr")),
        probe=NAME,
        label="766 dashboard",
    )


def national_wanted(settings: Settings, period: ReportPeriod | None = None) -> list[Wanted]:
    """Whom a national report should list: the city and its wards (of the period, when one is given)."""
    wanted = [
        Wanted(CITY, settings.city.name, settings.city.national_id or None, settings.city.ma_coquan or None)
    ]
    for unit in settings.unit:
        if unit.kind == "phong":
            continue
        if period is not None and (
            unit.valid_from > period.end or (unit.valid_to is not None and unit.valid_to < period.start)
        ):
            continue
        wanted.append(Wanted(unit.id, unit.name, unit.national_id or None, unit.ma_coquan or None))
    return wanted


class ServiceStatsProbe:
    name = NAME
    version = VERSION

    # --- what to fetch ------------------------------------------------------------------------------------

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]:
        today = datetime.now(ZoneInfo(settings.inspection.timezone)).date()
        year = settings.inspection.year
        # A ward is looked for in the reports whatever ids are configured: by name when they are wrong.
        wards = tuple(u.id for u in units if u.kind != "phong")
        phong = tuple(u.id for u in units if u.kind == "phong" and u.dvc_linh_vuc)
        scored = wards
        jobs: list[Job] = []
        if wards or phong:
            for period in months_to_crawl(year, today):
                walk = partial(self._month, period, bool(wards), bool(phong))
                jobs.append(Job(NAME, f"dossiers/{period.key}", walk, wards + phong))
        if scored:
            national = settings.sources.dvc_quocgia
            periods = periods_to_crawl(year, today)
            rest = [p for p in periods if national.api_for(p.start, p.end).api == "rest.jsp"]
            for period in rest:
                jobs.append(Job(NAME, f"i766/{period.key}", partial(self._i766, period), scored))
            if rest:
                jobs.append(Job(NAME, "i766/dashboard", self._dashboard, scored))
            v1 = [p for p in periods if p not in rest and not p.half]  # api/v1 knows no half-years
            jobs += v1_jobs(self, v1, scored)
        return jobs

    async def _month(self, period: ReportPeriod, wards: bool, phong: bool, session: CrawlSession) -> None:
        await ensure_cookies(session, self)
        settings = session.settings
        city_id = await self._city_id(session)
        if wards:
            target = rest_target(
                settings,
                monthly_params(settings, period, city_id),
                probe=NAME,
                label=f"{MONTHLY_SERVICE} {period.key}",
            )
            await session.visit(self, target)
        if phong:
            target = rest_target(
                settings,
                by_field_params(settings, period, city_id),
                probe=NAME,
                label=f"{BY_FIELD_SERVICE} {period.key}",
            )
            await session.visit(self, target)

    async def _i766(self, period: ReportPeriod, session: CrawlSession) -> None:
        await ensure_cookies(session, self)
        province = await self._province_id(session)
        if province is None:
            return
        await self._city_id(session)  # its look-up may have read this period's first page already
        previous_first: object = None
        for page in range(1, MAX_PAGES + 1):
            known = session.shared.pop(_looked_up(period), None) if page == 1 else None
            if isinstance(known, Parsed):
                parsed: Parsed | None = known
            else:
                _, parsed = await session.visit(self, _i766_target(session.settings, period, province, page))
            if parsed is None:
                return  # a failed page ends the walk; the units on later pages stay missing
            rows = next((f for f in parsed.found if f.metric == "report_rows"), None)
            if rows is None or rows.value is None or rows.value < PAGE_SIZE:
                return
            first = rows.attributes.get("first")
            if first == previous_first:
                return  # the same page again: the server ignores pageIndex
            previous_first = first

    async def _dashboard(self, session: CrawlSession) -> None:
        if session.browser is None:
            log.info("%s: no browser in this crawl; the 766 dashboard is not rendered", NAME)
            return
        await ensure_cookies(session, self)
        province = await self._province_id(session)
        if province is None:
            return
        await session.visit(self, dashboard_target(session.settings, province))

    async def _province_id(self, session: CrawlSession) -> str | None:
        """The province's id on the 766 report: configured, else resolved by name once per crawl."""
        configured = session.settings.sources.dvc_quocgia.province_id
        if configured:
            return configured
        lock = session.shared.setdefault(_PROVINCE_LOCK, asyncio.Lock())
        assert isinstance(lock, asyncio.Lock)
        async with lock:
            known = session.shared.get(_PROVINCE_ID)
            if isinstance(known, str):
                return known or None
            resolved = await self._resolve_province(session)
            session.shared[_PROVINCE_ID] = resolved or ""
            return resolved

    async def _city_id(self, session: CrawlSession) -> str | None:
        """The city's national id as the province's 766 list gives it (found by id, code or name), once per
        crawl: the reports of the city's units are asked for with it. None: the configured one is used."""
        lock = session.shared.setdefault(_CITY_LOCK, asyncio.Lock())
        assert isinstance(lock, asyncio.Lock)
        async with lock:
            known = session.shared.get(_CITY_ID)
            if isinstance(known, str):
                return known or None
            found = await self._look_up_city(session)
            session.shared[_CITY_ID] = found or ""
            return found

    async def _look_up_city(self, session: CrawlSession) -> str | None:
        province = await self._province_id(session)
        if province is None:
            return None
        settings = session.settings
        today = datetime.now(ZoneInfo(settings.inspection.timezone)).date()
        period = ReportPeriod(min(settings.inspection.year, today.year))
        target = _i766_target(settings, period, province, 1)
        _, parsed = await session.visit(self, target)
        if parsed is not None:
            session.shared[_looked_up(period)] = parsed  # the period's walk starts from it: asked for once
        match = next(
            (
                f
                for f in (parsed.found if parsed else [])
                if f.metric == "unit_match" and f.attributes["wanted"] == CITY
            ),
            None,
        )
        if match is None or not match.value:
            message = (
                f"{NAME}: the city ({settings.city.name}) is not on {I766_SERVICE} of province {province} "
                f"on {host_key(target.url)}"
                + (f": {match.text}" if match is not None else "")
                + f"; its units' reports are asked for with the configured id {settings.city.national_id}"
            )
            log.warning("%s", message)
            session.counts.failures.append(message)
            return None
        row = match.attributes["row"]
        return str(row["id"]) if row.get("id") else None

    async def _resolve_province(self, session: CrawlSession) -> str | None:
        settings = session.settings
        today = datetime.now(ZoneInfo(settings.inspection.timezone)).date()
        period = ReportPeriod(min(settings.inspection.year, today.year))
        target = rest_target(settings, i766_params(period, 0), probe=NAME, label=f"{I766_SERVICE} provinces")
        _, parsed = await session.visit(self, target)
        if parsed is None:
            return None  # the failed capture or parse failure is already recorded
        match = next((f for f in parsed.found if f.metric == "i766_province"), None)
        if match is None:
            name = settings.sources.dvc_quocgia.province_name
            message = (
                f"{NAME}: no province named {name!r} in {I766_SERVICE} (p_tinh_id 0) on "
                f"{host_key(target.url)}; Decision-766 scores not fetched"
            )
            log.warning("%s", message)
            session.counts.failures.append(message)
            return None
        return str(match.attributes["id"])

    # --- how to read it ----------------------------------------------------------------------------------

    def parse(self, view: SnapshotView, settings: Settings) -> Parsed:
        rest_path = settings.sources.dvc_quocgia.rest_path
        v1 = v1_parse(view, settings)
        if v1 is not None:
            return v1
        if not urlsplit(view.url).path.endswith(rest_path):
            if view.render == "browser":
                return Parsed(_dashboard(view, rest_path))
            return Parsed([])  # the page fetched for session cookies: an empty shell by design
        service = str(rest_params(view).get("service", ""))
        if service == MONTHLY_SERVICE:
            return Parsed(_monthly_summary(view, settings))
        if service == BY_FIELD_SERVICE:
            return Parsed(_field_summary(view, settings))
        if service == I766_SERVICE:
            return Parsed(_i766_report(view, settings))
        return Parsed([])


# --- parsing helpers -------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", clean(text)).casefold()


def _text(value: object) -> str:
    return clean(value) if isinstance(value, str) else "" if value is None else str(value)


def _period(view: SnapshotView, parser: str) -> ReportPeriod:
    """The period a report is about, from the snapshot's own request (so a re-parse finds it again)."""
    period = ReportPeriod.from_params(rest_params(view))
    if period is None:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"the rest.jsp request to {host_key(view.where)} carries no params with a p_nam year: "
            "the period of this report is unknown",
        )
    return period


def _rows(view: SnapshotView, parser: str, service: str) -> list[dict[str, Any]]:
    try:
        return rest_rows(view, parser)
    except LayoutNotRecognised as exc:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"{exc.reason} on {host_key(view.where)}; expected a bare JSON array of {service} records "
            "(UPPER_SNAKE fields, values as strings)",
        ) from None


def _empty(period: ReportPeriod, service: str, params: Mapping[str, Any]) -> Found:
    """A report with no rows for a period: the indicators show N/A for it, never zero."""
    return Found(
        "report_empty",
        period.key,
        None,
        attributes={
            "service": service,
            **{k: params[k] for k in ("p_tinh_id", "p_huyen_id", "p_donvi_id") if k in params},
        },
    )


def _report_rows(period: ReportPeriod, service: str, rows: list[dict[str, Any]], **extra: Any) -> Found:
    """How many rows a report had (a 766 walk pages on it) and how many were ours."""
    first = (rows[0].get("ID") or rows[0].get("TEN_LINHVUC")) if rows else None
    return Found(
        "report_rows",
        period.key,
        None,
        value=len(rows),
        attributes={"service": service, "first": first, **extra},
    )


def _who(row: Mapping[str, Any]) -> str:
    return _text(row.get("TEN")) or _text(row.get("TEN_LINHVUC")) or _text(row.get("ID")) or "a row"


def _require(
    view: SnapshotView, parser: str, service: str, row: Mapping[str, Any], fields: Sequence[str]
) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"the {service} row of {_who(row)!r} on {host_key(view.where)} lacks {', '.join(missing)}; "
            f"expected the fields {', '.join(fields)}",
        )


def agency_candidate(
    view: SnapshotView, parser: str, service: str, row: Mapping[str, Any], n: int
) -> Candidate:
    """A report row as an agency: its ID, MA_COQUAN and TEN, each optional, at least one required."""
    if not any(_text(row.get(k)) for k in AGENCY_KEYS):
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"{service} row {n} on {host_key(view.where)} has none of {', '.join(AGENCY_KEYS)} "
            f"(fields {sorted(row)[:8]}); expected one record per agency",
        )
    return Candidate(
        id=_text(row.get("ID")) or None,
        code=_text(row.get("MA_COQUAN")) or None,
        name=_text(row.get("TEN")) or None,
        where=f"row {n} of {service}",
        extra={"row": n, "capdonvi": _text(row.get("CAPDONVIID")) or None},
    )


def _count(view: SnapshotView, parser: str, row: Mapping[str, Any], field: str) -> int:
    raw = row.get(field)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str):
        try:
            return parse_count(raw)
        except ValueError:
            pass
    raise LayoutNotRecognised(
        parser, view.where, f"{field} of {_who(row)!r} on {host_key(view.where)} is {raw!r}, expected a count"
    )


def _decimal(view: SnapshotView, parser: str, row: Mapping[str, Any], field: str) -> float:
    raw = row.get(field)
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        try:
            return parse_decimal(raw)
        except ValueError:
            pass
    raise LayoutNotRecognised(
        parser, view.where, f"{field} of {_who(row)!r} on {host_key(view.where)} is {raw!r}, expected a score"
    )


def _counts(
    view: SnapshotView, parser: str, service: str, row: Mapping[str, Any]
) -> tuple[dict[str, int], list[str]]:
    """The dossier counts a row carries (with the optional counts of dossiers still open, when present), and the
    count fields it lacks; a row with none is not one we know."""
    present = {field: _count(view, parser, row, field) for field in DOSSIER_FIELDS if field in row}
    if not present:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"the {service} row of {_who(row)!r} on {host_key(view.where)} has none of the count fields "
            f"{', '.join(DOSSIER_FIELDS)} (fields {sorted(row)[:8]})",
        )
    present |= {field: _count(view, parser, row, field) for field in OPTIONAL_DOSSIER_FIELDS if field in row}
    return present, [field for field in DOSSIER_FIELDS if field not in present]


def _metrics(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Observation name and value of each count a row had."""
    names = DOSSIER_FIELDS | OPTIONAL_DOSSIER_FIELDS
    return [(names[field], value) for field, value in counts.items()]


def _scores(view: SnapshotView, parser: str, row: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    present = {field: _decimal(view, parser, row, field) for field in SCORE_FIELDS if field in row}
    if not present:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"the {I766_SERVICE} row of {_who(row)!r} on {host_key(view.where)} has none of the score fields "
            f"{', '.join(SCORE_FIELDS)}",
        )
    return present, [field for field in SCORE_FIELDS if field not in present]


def _matched_rows(
    view: SnapshotView, parser: str, service: str, rows: list[dict[str, Any]], settings: Settings,
    period: ReportPeriod,
) -> tuple[list[Candidate], list[Match], dict[int, Match]]:  # fmt: skip
    """The rows as candidates, our agencies matched to them, and the match of each matched row (by row n)."""
    candidates = [agency_candidate(view, parser, service, row, n) for n, row in enumerate(rows, start=1)]
    matches = match_agencies(national_wanted(settings, period), candidates)
    by_row = {int(str(m.candidate.extra["row"])): m for m in matches if m.candidate is not None}
    return candidates, matches, by_row


def _row_found(
    service: str, period: ReportPeriod, candidate: Candidate, match: Match | None, values: Mapping[str, float],
    absent: Sequence[str], **extra: Any,
) -> Found:  # fmt: skip
    """Every row kept, ours or not, keyed by the agency's national id, code and name."""
    unit = match.wanted.key if match is not None and match.wanted.key != CITY else None
    return Found(
        "report_row",
        period.key,
        unit,
        text=candidate.name,
        attributes={
            "service": service,
            "row": candidate.extra["row"],
            "national_id": candidate.id,
            "code": candidate.code,
            "name": candidate.name,
            "capdonvi": candidate.extra["capdonvi"],
            "values": dict(values),
            "fields_absent": list(absent),
            "ours": match.wanted.key if match is not None else None,
            "method": match.method if match is not None else None,
            **extra,
        },
    )


def _match_found(
    service: str, period: ReportPeriod, match: Match, absent: Sequence[str], **extra: Any
) -> Found:
    """One of ours on one report: how it was matched, or the finding that names it and the rows."""
    return Found(
        "unit_match",
        period.key,
        None if match.wanted.key == CITY else match.wanted.key,
        value=1.0 if match.found else 0.0,
        text=match.describe(),
        attributes={**match.as_dict(), "service": service, "scope": "national", "fields_absent": list(absent),
                    **extra},
    )  # fmt: skip


def _identity(candidate: Candidate, match: Match, service: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "id": candidate.id or "",
        "ma_coquan": candidate.code or "",
        "name": candidate.name or "",
        "service": service,
        "match": match.method,
    }
    if match.wanted.key == CITY:
        attributes["agency"] = "city"
    return attributes


def _monthly_summary(view: SnapshotView, settings: Settings) -> list[Found]:
    """report_by_month_sum_service: one row per unit of the city (and the city): each ward's counts."""
    parser, service = "monthly-summary", MONTHLY_SERVICE
    period = _period(view, parser)
    rows = _rows(view, parser, service)
    if not rows:
        return [_empty(period, service, rest_params(view))]
    candidates, matches, by_row = _matched_rows(view, parser, service, rows, settings, period)
    found: list[Found] = []
    absent_of: dict[str, list[str]] = {}
    for n, (row, candidate) in enumerate(zip(rows, candidates, strict=True), start=1):
        counts, absent = _counts(view, parser, service, row)
        match = by_row.get(n)
        found.append(_row_found(service, period, candidate, match, counts, absent))
        if match is None:
            continue
        absent_of[match.wanted.key] = [DOSSIER_FIELDS[f] for f in absent]
        attributes = {
            **_identity(candidate, match, service),
            "rates": {k: v for k, v in row.items() if k not in _IDENTITY and not k.endswith("_TOTAL")},
            "other_counts": {
                k: v
                for k, v in row.items()
                if k.endswith("_TOTAL") and k not in DOSSIER_FIELDS and k not in OPTIONAL_DOSSIER_FIELDS
            },
        }
        if match.wanted.key != CITY:
            attributes["agency"] = candidate.id or ""
        unit = None if match.wanted.key == CITY else match.wanted.key
        found += [
            Found(metric, period.key, unit, value=float(value), attributes=attributes)
            for metric, value in _metrics(counts)
        ]
    found += [_match_found(service, period, m, absent_of.get(m.wanted.key, [])) for m in matches]
    found.append(_report_rows(period, service, rows, matched=sum(m.found for m in matches)))
    return found


def _field_summary(view: SnapshotView, settings: Settings) -> list[Found]:
    """report_tthc_tilexulyhs_service: the city's rows per field, summed per phòng over its dvc_linh_vuc."""
    parser, service = "field-summary", BY_FIELD_SERVICE
    period = _period(view, parser)
    rows = _rows(view, parser, service)
    if not rows:
        return [_empty(period, service, rest_params(view))]
    by_field: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = row.get("TEN_LINHVUC")
        if not isinstance(name, str) or not clean(name):
            raise LayoutNotRecognised(
                parser,
                view.where,
                f"a {service} row on {host_key(view.where)} has no TEN_LINHVUC (fields {sorted(row)[:8]}); "
                "expected one record per lĩnh vực",
            )
        by_field.setdefault(_fold(name), []).append(row)
    found: list[Found] = []
    claimed: set[str] = set()
    for unit in settings.unit:
        if unit.kind != "phong" or not unit.dvc_linh_vuc:
            continue  # a phòng without fields has no dossiers of its own: N/A, not zero
        if unit.valid_from > period.end or (unit.valid_to is not None and unit.valid_to < period.start):
            continue
        wanted = {_fold(f): f for f in unit.dvc_linh_vuc}
        present = [key for key in wanted if key in by_field]
        claimed.update(present)
        absent = [wanted[key] for key in wanted if key not in by_field]
        if not present:
            # None of its fields is in the report: a zero here could be a renamed field, so nothing is claimed.
            found.append(
                Found(
                    "linh_vuc_not_reported",
                    period.key,
                    unit.id,
                    attributes={"service": service, "fields": absent},
                )
            )
            continue
        totals: dict[str, int] = {}
        summed: list[str] = []
        lacking: set[str] = set()
        rows_summed = 0
        for key in present:
            for row in by_field[key]:
                summed.append(_text(row["TEN_LINHVUC"]))
                rows_summed += 1
                counts, absent_counts = _counts(view, parser, service, row)
                lacking.update(absent_counts)
                for field, value in counts.items():
                    totals[field] = totals.get(field, 0) + value
        # An optional count only when every summed row had it: a sum of some rows would be too small.
        seen = Counter(
            f for key in present for row in by_field[key] for f in OPTIONAL_DOSSIER_FIELDS if f in row
        )
        totals = {
            f: v
            for f, v in totals.items()
            if (f in DOSSIER_FIELDS and f not in lacking)
            or (f in OPTIONAL_DOSSIER_FIELDS and seen[f] == rows_summed)
        }
        attributes = {
            "fields": summed,
            "fields_absent": absent,
            "attribution": "dvc_linh_vuc of config",
            "service": service,
            "donvi_id": _text(rest_params(view).get("p_donvi_id")),
        }
        # A count some field's row lacks is not summed at all: a partial sum would read as the phòng's total.
        found += [
            Found(metric, period.key, unit.id, value=float(value), attributes=attributes)
            for metric, value in _metrics(totals)
        ]
        if lacking:
            found.append(Found("counts_absent", period.key, unit.id, attributes={
                "service": service, "metrics": [DOSSIER_FIELDS[f] for f in DOSSIER_FIELDS if f in lacking]}))  # fmt: skip
    unattributed = sorted(
        _text(r["TEN_LINHVUC"]) for key, rs in by_field.items() if key not in claimed for r in rs
    )
    found.append(_report_rows(period, service, rows, unattributed_fields=unattributed))
    return found


def _i766_report(view: SnapshotView, settings: Settings) -> list[Found]:
    """report_tinh_766_service: the provinces (p_tinh_id 0), or one province's units with their scores."""
    parser, service = "i766-report", I766_SERVICE
    params = rest_params(view)
    period = _period(view, parser)
    rows = _rows(view, parser, service)
    page = whole_or_none(params.get("pageIndex")) or 1
    if not rows:
        if page > 1:
            return [_report_rows(period, service, rows, page=page)]  # past the last page, not an empty period
        return [_empty(period, service, params)]
    if _text(params.get("p_tinh_id")) in ("", "0"):
        return [*_province(view, settings, rows, period), _report_rows(period, service, rows, page=page)]
    candidates, matches, by_row = _matched_rows(view, parser, service, rows, settings, period)
    found: list[Found] = []
    absent_of: dict[str, list[str]] = {}
    for n, (row, candidate) in enumerate(zip(rows, candidates, strict=True), start=1):
        scores, absent = _scores(view, parser, row)
        rank = _count(view, parser, row, "ROW_STT") if _text(row.get("ROW_STT")) else None
        match = by_row.get(n)
        found.append(_row_found(service, period, candidate, match, scores, absent, rank=rank, page=page))
        if match is None:
            continue
        absent_of[match.wanted.key] = [SCORE_FIELDS[f] for f in absent]
        attributes = {**_identity(candidate, match, service), "rank": rank}
        unit = None if match.wanted.key == CITY else match.wanted.key
        found += [
            Found(metric, period.key, unit, value=scores[field], attributes=attributes)
            for field, metric in SCORE_FIELDS.items()
            if field in scores
        ]
    # A unit may be on a later page: each page says whom it found; the pages of one walk are read together.
    found += [_match_found(service, period, m, absent_of.get(m.wanted.key, []), page=page) for m in matches]
    city = next((m for m in matches if m.wanted.key == CITY and m.candidate is not None), None)
    if city is not None:
        found += _district_rank(view, parser, rows, candidates, city, period)
    found.append(_report_rows(period, service, rows, page=page, matched=sum(m.found for m in matches)))
    return found


def _district_rank(
    view: SnapshotView, parser: str, rows: list[dict[str, Any]], candidates: list[Candidate], city: Match,
    period: ReportPeriod,
) -> list[Found]:  # fmt: skip
    """The city's own rank among the province's districts: the rows at its level (CAPDONVIID), in the report's
    order (ROW_STT), else by total score. Without a level on the city's row, the rank is not read."""
    assert city.candidate is not None
    level = city.candidate.extra.get("capdonvi")
    if not level:
        return []
    peers = [(row, c) for row, c in zip(rows, candidates, strict=True) if c.extra.get("capdonvi") == level]
    if all(_text(row.get("ROW_STT")) for row, _ in peers):
        by, ordered = "ROW_STT", sorted(peers, key=lambda rc: _count(view, parser, rc[0], "ROW_STT"))
    elif all("TONG_SCORE" in row for row, _ in peers):
        by = "TONG_SCORE"
        ordered = sorted(peers, key=lambda rc: -_decimal(view, parser, rc[0], "TONG_SCORE"))
    else:
        return []
    position = next(n for n, (_, c) in enumerate(ordered, start=1) if c is city.candidate)
    return [
        Found(
            "i766_rank_district",
            period.key,
            None,
            value=float(position),
            text=city.candidate.name,
            attributes={"agency": CITY, "of": len(ordered), "capdonvi": level, "by": by,
                        "districts": [c.name or c.id for _, c in ordered], "match": city.method,
                        "service": I766_SERVICE},
        )
    ]  # fmt: skip


def _province(
    view: SnapshotView, settings: Settings, rows: list[dict[str, Any]], period: ReportPeriod
) -> list[Found]:
    """The configured province among the 766 report's provinces, by name ('Tỉnh Tây Ninh' ends with 'Tây Ninh')."""
    wanted = _fold(settings.sources.dvc_quocgia.province_name)
    for row in rows:
        _require(view, "i766-report", I766_SERVICE, row, ["TEN"])
        name = _fold(_text(row["TEN"]))
        if name == wanted or name.endswith(" " + wanted):
            _require(view, "i766-report", I766_SERVICE, row, ["ID", "TEN"])
            return [
                Found(
                    "i766_province",
                    "instant",
                    None,
                    text=_text(row["TEN"]),
                    attributes={"id": _text(row["ID"]), "ma_coquan": _text(row.get("MA_COQUAN")),
                                "service": I766_SERVICE, "period": period.key},
                )
            ]  # fmt: skip
    return []


def _dashboard(view: SnapshotView, rest_path: str) -> list[Found]:
    """The rendered 766 dashboard: how many rows it shows, for which province. Visual evidence; never fails."""
    soup = BeautifulSoup(view.dom or view.text(), "lxml")
    table = soup.select_one("#tblChiSo")
    if table is None:
        return []
    rows = table.select("tbody tr")
    year = soup.select_one("#nam option[selected]")
    year_text = clean(year.get_text()) if year is not None else ""
    picked = soup.select_one("#select2-tinhtp-container")
    province = clean(picked.get_text()) if picked is not None else ""
    first = [clean(td.get_text()) for td in rows[0].select("td")] if rows else []
    calls = [s for s in view.subresponses if urlsplit(s.url).path.endswith(rest_path)]
    return [
        Found(
            "i766_dashboard_rows",
            year_text if year_text.isdigit() else "instant",
            None,
            value=len(rows),
            text=province or None,
            attributes={
                "province": province,
                "group": "tonghop",
                "first_row": first,
                "rest_calls": len(calls),
            },
        )
    ]


PROBE = ServiceStatsProbe()
