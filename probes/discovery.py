"""Reading the portals' own directories to find our units' ids: what `cchc discover` proposes for the config.

The province DVC portal's unit directory (GetDataDonVi_TraCuu) and the city's fields (LoadCBoLinhVuc), the
national 766 list of the province and the monthly report of the city, and the api/v1 tree of the province's root
department (each ward's departmentId and code): each read with the probes' own parsers,
our units matched by id, then code, then name (probes/matching.py). Every proposed change says how it was
found; a unit in no row, or in two, is a finding, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cchc.settings import Settings
from crawler import HttpFetcher, Outcome, Target, host_key
from probes._base import Found, LayoutNotRecognised, Parser
from probes._national import cookie_page_target, rest_target
from probes._session import view_of
from probes.national_v1 import ENDPOINTS
from probes.procedures import DIRECTORY_ENDPOINT, FIELDS_ENDPOINT, directory_target, fields_target
from probes.procedures import PROBE as PROCEDURES
from probes.service_stats import (
    CITY,
    I766_SERVICE,
    MAX_PAGES,
    MONTHLY_SERVICE,
    PAGE_SIZE,
    ReportPeriod,
    i766_params,
    monthly_params,
)
from probes.service_stats import PROBE as SERVICE_STATS
from probes.v1_reports import evaluation_target


@dataclass(frozen=True)
class Change:
    """One value of the config the portals contradict: where it is, what it was, what they say, and how."""

    table: str  # "city", "unit" or "sources.dvc_quocgia"
    key: str
    old: Any
    new: Any
    how: str
    unit: str | None = None

    @property
    def path(self) -> str:
        return f"unit[{self.unit}].{self.key}" if self.unit else f"{self.table}.{self.key}"


@dataclass
class Discovery:
    changes: list[Change] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # units not found, or found twice; ids in conflict
    read: list[str] = field(default_factory=list)  # each request and how it ended


class _Reader:
    """Fetch a target politely and read it with a probe's parser; what went wrong becomes a finding."""

    def __init__(self, settings: Settings, fetcher: HttpFetcher, result: Discovery) -> None:
        self.settings, self.fetcher, self.result = settings, fetcher, result

    async def read(self, target: Target, parser: Parser) -> list[Found] | None:
        capture = await self.fetcher.fetch(target)
        label = f"{target.method} {target.url} ({target.label})"
        if capture.outcome is not Outcome.OK:
            self.result.read.append(f"{label}: {capture.outcome} {capture.detail}".rstrip())
            self.result.findings.append(f"could not read {target.label} on {host_key(target.url)}: "
                                        f"{capture.outcome} {capture.detail}".rstrip())  # fmt: skip
            return None
        self.result.read.append(f"{label}: ok")
        try:
            return parser.parse(
                view_of(capture, max_bytes=self.settings.politeness.max_body_bytes), self.settings
            ).found
        except LayoutNotRecognised as exc:
            self.result.findings.append(f"{target.label}: layout not recognised: {exc.reason}")
            return None


def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.inspection.timezone)).date()


def _unit_table(key: str) -> tuple[str, str | None]:
    return ("city", None) if key == CITY else ("unit", key)


async def discover(settings: Settings, fetcher: HttpFetcher) -> Discovery:
    result = Discovery()
    reader = _Reader(settings, fetcher, result)
    city_donvi = await _directory(settings, reader, result)
    await _fields(settings, reader, result, city_donvi)
    await _national(settings, reader, result)
    await _national_v1(settings, reader, result)
    return result


# --- the province DVC portal ------------------------------------------------------------------------------------


async def _directory(settings: Settings, reader: _Reader, result: Discovery) -> int:
    """Each DonViID checked in the portal's directory; the city's DonViID as found (or configured)."""
    found = await reader.read(directory_target(settings), PROCEDURES)
    city_donvi = settings.city.dvc_donvi_id
    for match in found or []:
        a = match.attributes
        if not match.value:
            result.findings.append(f"{DIRECTORY_ENDPOINT}: {match.text}")
            continue
        new = int(a["row"]["id"])
        if a["wanted"] == CITY:
            city_donvi = new
        if a["name_differs"]:
            result.findings.append(f"{DIRECTORY_ENDPOINT}: {match.text}")
        old = a["configured"]["id"]
        if old is None or int(old) != new:
            table, unit = _unit_table(str(a["wanted"]))
            result.changes.append(Change(table, "dvc_donvi_id", None if old is None else int(old), new,
                                         f"matched by {a['method']} in {DIRECTORY_ENDPOINT}: {a['row']['name']!r} "
                                         f"({a['row']['where']})", unit))  # fmt: skip
    return city_donvi


async def _fields(settings: Settings, reader: _Reader, result: Discovery, city_donvi: int) -> None:
    """Each phòng's fields matched by name among the city's fields, for their LinhVucID."""
    phong = [u for u in settings.units_in_inspection() if u.kind == "phong" and u.dvc_linh_vuc]
    if not phong:
        return
    found = await reader.read(fields_target(settings, city_donvi), PROCEDURES)
    if found is None:
        return
    ids = {_fold(str(f.attributes["name"])): int(f.attributes["field_id"]) for f in found}
    for unit in phong:
        proposed: dict[str, int] = {}
        for name in unit.dvc_linh_vuc:
            if _fold(name) in ids:
                proposed[name] = ids[_fold(name)]
            else:
                result.findings.append(
                    f"{FIELDS_ENDPOINT}: {unit.id} ({unit.name}): field {name!r} is not among the city's "
                    f"{len(ids)} fields (DonViID {city_donvi})"
                )
        if proposed and proposed != dict(unit.dvc_linh_vuc_ids):
            result.changes.append(Change("unit", "dvc_linh_vuc_ids", dict(unit.dvc_linh_vuc_ids), proposed,
                                         f"matched by name in {FIELDS_ENDPOINT} of DonViID {city_donvi}",
                                         unit.id))  # fmt: skip


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


# --- the national portal ----------------------------------------------------------------------------------------


async def _national(settings: Settings, reader: _Reader, result: Discovery) -> None:
    await reader.read(cookie_page_target(settings, SERVICE_STATS.name), SERVICE_STATS)
    year = min(settings.inspection.year, _today(settings).year)
    province = await _province(settings, reader, result, ReportPeriod(year))
    if province is None:
        return
    report = await _i766_list(settings, reader, province, ReportPeriod(year))
    if report is None:
        return
    monthly = await _monthly_list(settings, reader, year, _found_id(report.get(CITY)))
    national_ids: dict[str, Any] = {}
    for key in report.keys() | monthly.keys():
        chosen = report.get(key)
        other = monthly.get(key)
        if chosen is None or (not chosen.value and other is not None and other.value):
            chosen, other = other, chosen
        assert chosen is not None
        if not chosen.value:
            result.findings.append(f"{I766_SERVICE} and {MONTHLY_SERVICE}: {chosen.text}")
            continue
        if other is not None and other.value and _found_id(other) != _found_id(chosen):
            result.findings.append(
                f"{key}: {I766_SERVICE} and {MONTHLY_SERVICE} disagree on its id: {chosen.text}; {other.text}"
            )
        national_ids[key] = chosen
    for key, match in national_ids.items():
        a = match.attributes
        table, unit = _unit_table(key)
        where = f"{a['row']['where']} {match.period}: {a['row']['name']!r}"
        for name, setting in (("id", "national_id"), ("code", "ma_coquan")):
            if name in a["differs"]:
                old, new = a["differs"][name]
                result.changes.append(
                    Change(table, setting, old, new, f"matched by {a['method']} in {where}", unit)
                )


async def _national_v1(settings: Settings, reader: _Reader, result: Discovery) -> None:
    """Each ward's departmentId and code on api/v1, from the root department's tree (dvc-progress-tree lists every
    department in one answer) for the inspection year."""
    national = settings.sources.dvc_quocgia
    year = min(settings.inspection.year, _today(settings).year)
    if not national.root_department_id:
        if national.api_for(date(year, 1, 1), date(year, 12, 31)).api == "v1":
            result.findings.append(
                "sources.dvc_quocgia.root_department_id is not set: the api/v1 tree cannot be read (the province's "
                "departmentId, a UUID, is in the dashboard's own requests)"
            )
        return
    endpoint = ENDPOINTS["dvc-progress-tree"]
    target = evaluation_target(settings, endpoint, ReportPeriod(year), national.root_department_id, 1)
    found = await reader.read(target, SERVICE_STATS)
    if found is None:
        return
    matches = [f for f in found if f.metric == "unit_match"]
    if not matches and any(f.metric == "report_empty" for f in found):
        result.findings.append(f"api/v1 {endpoint.name} {year}: the root department lists no department")
    for match in matches:
        a = match.attributes
        if not match.value:
            result.findings.append(f"api/v1 {endpoint.name}: {match.text}")
            continue
        if a["name_differs"]:
            result.findings.append(f"api/v1 {endpoint.name}: {match.text}")
        where = f"{a['row']['where']} {match.period}: {a['row']['name']!r}"
        for name, setting in (("id", "v1_department_id"), ("code", "v1_department_code")):
            if name in a["differs"]:
                old, new = a["differs"][name]
                result.changes.append(
                    Change(
                        "unit", setting, old, new, f"matched by {a['method']} in {where}", str(a["wanted"])
                    )
                )


def _found_id(match: Found | None) -> str | None:
    if match is None or not match.value:
        return None
    row = match.attributes["row"]
    return str(row["id"]) if row.get("id") else None


async def _province(
    settings: Settings, reader: _Reader, result: Discovery, period: ReportPeriod
) -> str | None:
    national = settings.sources.dvc_quocgia
    if national.province_id:
        return national.province_id
    target = rest_target(
        settings, i766_params(period, 0), probe=SERVICE_STATS.name, label=f"{I766_SERVICE} provinces"
    )
    found = await reader.read(target, SERVICE_STATS)
    province = next((f for f in found or [] if f.metric == "i766_province"), None)
    if province is None:
        if found is not None:
            result.findings.append(f"{I766_SERVICE}: no province named {national.province_name!r}")
        return None
    new = str(province.attributes["id"])
    result.changes.append(Change("sources.dvc_quocgia", "province_id", "", new,
                                 f"matched by name in {I766_SERVICE} {period.key} (p_tinh_id 0): {province.text!r}"))  # fmt: skip
    return new


def _best(matches: Mapping[str, Found], found: list[Found]) -> dict[str, Found]:
    """Per unit, the first page's match that found it, else the latest finding."""
    merged = dict(matches)
    for f in found:
        if f.metric != "unit_match":
            continue
        key = str(f.attributes["wanted"])
        if key not in merged or not merged[key].value:
            merged[key] = f
    return merged


async def _i766_list(
    settings: Settings, reader: _Reader, province: str, period: ReportPeriod
) -> dict[str, Found] | None:
    matches: dict[str, Found] = {}
    for page in range(1, MAX_PAGES + 1):
        params = i766_params(period, province, page)
        target = rest_target(
            settings, params, probe=SERVICE_STATS.name, label=f"{I766_SERVICE} {period.key} page {page}"
        )
        found = await reader.read(target, SERVICE_STATS)
        if found is None:
            return matches or None
        matches = _best(matches, found)
        rows = next((f for f in found if f.metric == "report_rows"), None)
        if rows is None or rows.value is None or rows.value < PAGE_SIZE:
            break
    return matches


async def _monthly_list(
    settings: Settings, reader: _Reader, year: int, city_id: str | None
) -> dict[str, Found]:
    """The latest month of the year whose monthly report lists the city's units (at most twelve asked)."""
    today = _today(settings)
    for month in range(12, 0, -1):
        period = ReportPeriod(year, month=month)
        if period.start > today:
            continue
        params = monthly_params(settings, period, city_id)
        target = rest_target(
            settings, params, probe=SERVICE_STATS.name, label=f"{MONTHLY_SERVICE} {period.key}"
        )
        found = await reader.read(target, SERVICE_STATS)
        if found is None:
            return {}
        if any(f.metric == "unit_match" for f in found):
            return _best({}, found)
    return {}
