"""The procedures probe: the procedures (TTHC, thủ tục hành chính) each unit lists on the province DVC portal,
their online level and seven published parts, against the national procedure database (portals.md §1, §3.2).

A ward's procedures are its own DonViID's list; a phòng's are the city's in the phòng's dvc_linh_vuc (the
field → phòng attribution of indicators.md §2). Which unit a snapshot is about is read off the snapshot (the
DonViID of its request, the impl_level_id of its rest.jsp params, the unit it was captured for), so stored
evidence can be parsed again. A response in an unknown envelope is a parse failure, never an empty list.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any, Literal

from bs4 import BeautifulSoup

from cchc.settings import Settings, Unit
from crawler import Outcome, Target, host_key
from crawler.forms import multipart
from probes._base import Found, LayoutNotRecognised, Parsed, SnapshotView
from probes._national import ensure_cookies, rest_params, rest_rows, rest_target
from probes._probe import Job
from probes._session import CrawlSession
from probes._text import clean, parse_count, whole_or_none
from probes.matching import Candidate, Match, Wanted, match_agencies
from probes.national_v1 import API_PREFIX, FORMALITIES, formalities_payload, read_formalities

NAME = "procedures"
# 2: only the publicly seen list fields are required; every unit's DonViID checked in the directory;
# 3: the national catalogue of api/v1 (formalities)
VERSION = "3"

log = logging.getLogger("cchc.probes")

Level = Literal["huyen", "xa"]
CITY = "city"  # the key of the city itself among the agencies a directory or report lists

LIST_ENDPOINT = "GetDanhSachTTHCDVC"
DETAIL_ENDPOINT = "GetChiTietTTHC"
FIELDS_ENDPOINT = "LoadCBoLinhVuc"
DIRECTORY_ENDPOINT = "GetDataDonVi_TraCuu"
LIST_RESULT = "DICHVUCONG_THUTUCHANHCHINH_PResult"
DETAIL_RESULT = "DICHVUCONG_CHITIETTTHC_PResult"
FIELDS_RESULT = "DemThuTucHanhChinh_Lst_Result"
DIRECTORY_RESULT = "V_DICHVUCONG_DONVI_LstStringResult"
DIRECTORY_LEVELS = {"CT": "tinh", "CH": "huyen", "CX": "xa"}
# Public client code reads these of a listed row (portals.md §1): without them a row can be neither counted
# by level nor followed to its detail. Everything else is optional (docs/portal-fields.md).
LIST_ROW_KEYS = ("ThuTucHanhChinhID", "TenThuTuc", "MucDo", "TotalCount")
# Assumed fields, used when present: the procedure's national code, its field's and unit's names.
LIST_ROW_OPTIONAL = ("MaThuTuc", "LinhVucID", "TenLinhVuc", "DonViID", "TenDonVi")
# The seven parts of a published procedure (NĐ 63/2010 Điều 8 khoản 2; indicators.md §3) and the detail
# columns that carry them: (a) tên, (b) trình tự, (c) cách thức, (d) thành phần hồ sơ, (đ) thời hạn,
# (e) đối tượng, (g) cơ quan thực hiện. An empty text is a part not published.
ELEMENT_COLUMNS = {
    "ten": "TenThuTuc",
    "trinh_tu": "TrinhTuThucHien",
    "cach_thuc": "CachThucThucHien",
    "thanh_phan_ho_so": "ThanhPhanHoSo",
    "thoi_han": "ThoiHanGiaiQuyet",
    "doi_tuong": "DoiTuongThucHien",
    "co_quan_thuc_hien": "CoQuanThucHien",
}
REFERENCE_SERVICE = "procedure_advanced_search_service_v2"
REFERENCE_PAGE_SIZE = 50
REFERENCE_ROW_KEYS = ("PROCEDURE_CODE", "PROCEDURE_NAME", "FIELD_NAME", "AMOUNT")
RENDERED_PAGE_SIZE = 20
RENDERED_ROWS = "#tblThuTuc tbody tr"
RENDERED_TOTAL_SHOWN = "#tongSo:not(:empty)"  # an empty list never fills a row: wait for its total instead
_TOTAL = re.compile(r"Tổng số:?\s*([\d.,]+)\s*thủ tục", re.IGNORECASE)


# --- units of a list -----------------------------------------------------------------------------------------


def ward_of(donvi_id: int, settings: Settings) -> Unit | None:
    """The ward or commune whose own list a DonViID is."""
    return next((u for u in settings.unit if u.kind != "phong" and u.dvc_donvi_id == donvi_id), None)


def _fold(text: str) -> str:
    return clean(text).casefold()


def phong_of_field(field: str | None, settings: Settings) -> Unit | None:
    """The phòng that answers for a field (lĩnh vực) at the city one-stop desk, if any does."""
    if not field:
        return None
    name = _fold(field)
    return next(
        (u for u in settings.unit if u.kind == "phong" and name in {_fold(f) for f in u.dvc_linh_vuc}), None
    )


def phong_of_field_id(field_id: object, settings: Settings) -> Unit | None:
    """The phòng whose configured dvc_linh_vuc_ids holds this LinhVucID, if one does."""
    wanted = whole_or_none(field_id)
    if wanted is None:
        return None
    return next(
        (u for u in settings.unit if u.kind == "phong" and wanted in u.dvc_linh_vuc_ids.values()), None
    )


def _list_owner(
    donvi_id: int, field_id: object, field: str | None, settings: Settings
) -> tuple[str | None, str]:
    """The unit a listed procedure counts for, and how it was attributed: a city row by its LinhVucID among
    the configured ids, else by its field's name when the row carries one (an assumed field)."""
    if donvi_id == settings.city.dvc_donvi_id:
        by_id = phong_of_field_id(field_id, settings)
        if by_id is not None:
            return by_id.id, "linh_vuc_id"
        phong = phong_of_field(field, settings)
        return (phong.id, "linh_vuc") if phong else (None, "unattributed")
    ward = ward_of(donvi_id, settings)
    return (ward.id, "donvi") if ward else (None, "unattributed")


# --- targets -------------------------------------------------------------------------------------------------


def list_target(settings: Settings, donvi_id: int, page: int, unit: str | None) -> Target:
    """One page of a unit's list: a multipart POST whose `data` field carries the query as JSON."""
    source = settings.sources.dvc_tinh
    query = {
        "DonViID": str(donvi_id),
        "LinhVucID": "0",
        "TenThuTuc": "",
        "MucDo": "0",
        "PageNum": page,
        "PageSize": source.page_size,
    }
    body, content_type = multipart({"data": json.dumps(query, separators=(",", ":"))})
    return Target(
        url=source.base_url + source.api_path + LIST_ENDPOINT,
        method="POST",
        body=body,
        headers=(("Content-Type", content_type),),
        probe=NAME,
        unit=unit,
        label=f"list {donvi_id} page {page}",
    )


def detail_target(settings: Settings, procedure_id: int, unit: str | None) -> Target:
    source = settings.sources.dvc_tinh
    return Target(
        url=f"{source.base_url}{source.api_path}{DETAIL_ENDPOINT}?ThuTucHanhChinhID={procedure_id}",
        probe=NAME,
        unit=unit,
        label=f"detail {procedure_id}",
    )


def fields_target(settings: Settings, donvi_id: int) -> Target:
    """A unit's fields (lĩnh vực) with their LinhVucID: how the public procedure list's rows are attributed."""
    source = settings.sources.dvc_tinh
    return Target(
        url=f"{source.base_url}{source.api_path}{FIELDS_ENDPOINT}?DonViID={donvi_id}",
        probe=NAME,
        label=f"fields {donvi_id}",
    )


def directory_target(settings: Settings) -> Target:
    """The portal's own directory of units (tỉnh, huyện, xã): where each configured DonViID is checked."""
    source = settings.sources.dvc_tinh
    return Target(url=source.base_url + source.api_path + DIRECTORY_ENDPOINT, probe=NAME, label="directory")


def rendered_list_target(settings: Settings, donvi_id: int, unit: str | None, *, empty: bool) -> Target:
    """The public list page as a person sees it, filled by its JavaScript: visual evidence."""
    source = settings.sources.dvc_tinh
    return Target(
        url=f"{source.base_url}{source.list_page}?DonViID={donvi_id}&PageSize={RENDERED_PAGE_SIZE}",
        render="browser",
        wait_for=RENDERED_TOTAL_SHOWN if empty else RENDERED_ROWS,
        probe=NAME,
        unit=unit,
        label=f"list page {donvi_id} (browser)",
    )


def reference_params(settings: Settings, level: Level, page: int) -> dict[str, Any]:
    level_id = settings.sources.dvc_quocgia.impl_level_ids[level]
    return {
        "type": "ref",
        "service": REFERENCE_SERVICE,
        "keyword": "",
        "agency_type": 0,
        "impl_agency_id": -1,
        "object_id": -1,
        "field_id": -1,
        "impl_level_id": int(level_id) if level_id.lstrip("-").isdigit() else level_id,
        "recordPerPage": REFERENCE_PAGE_SIZE,
        "pageIndex": page,
        "is_connected": 0,
    }


class ProceduresProbe:
    name = NAME
    version = VERSION

    # --- what to fetch ------------------------------------------------------------------------------------

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]:
        wards = [u for u in units if u.kind != "phong" and u.dvc_donvi_id is not None]
        phong = tuple(u.id for u in units if u.kind == "phong")
        jobs: list[Job] = []
        for ward in wards:
            assert ward.dvc_donvi_id is not None
            walk = partial(self._walk_list, ward.dvc_donvi_id, ward.id, frozenset({ward.id}))
            jobs.append(Job(NAME, f"{ward.id}/list", walk, (ward.id,)))
        if phong:
            walk = partial(self._walk_list, settings.city.dvc_donvi_id, None, frozenset(phong))
            jobs.append(Job(NAME, "city/list", walk, phong))
        if wards or phong:
            jobs.append(Job(NAME, "directory", self._walk_directory, tuple(w.id for w in wards) + phong))
            year = (
                settings.inspection.year
            )  # the catalogue of today's API, when the inspection year is read from it
            if settings.sources.dvc_quocgia.api_for(date(year, 1, 1), date(year, 12, 31)).api == "v1":
                jobs.append(Job(NAME, "formalities", self._walk_formalities, ()))
        if wards:
            wards_ids = tuple(w.id for w in wards)
            jobs.append(Job(NAME, "reference/xa", partial(self._walk_reference, "xa"), wards_ids))
        if phong:
            jobs.append(Job(NAME, "reference/huyen", partial(self._walk_reference, "huyen"), phong))
        return jobs

    async def _walk_formalities(self, session: CrawlSession) -> None:
        """The national catalogue on api/v1, page by page to its totalPages (bounded)."""
        for page in range(1, FORMALITY_MAX_PAGES + 1):
            _, parsed = await session.visit(self, formalities_target(session.settings, page))
            if parsed is None:
                return
            summary = next((f for f in parsed.found if f.metric == "formalities_page"), None)
            if summary is None or page >= int(summary.attributes["total_pages"]):
                return

    async def _walk_list(
        self, donvi_id: int, unit: str | None, wanted: frozenset[str], session: CrawlSession
    ) -> None:
        """Page a list until TotalCount rows are seen, then each procedure's detail, then the rendered page."""
        settings = session.settings
        field_owner: dict[int, str | None] = {}  # LinhVucID → the phòng it belongs to (city list)
        if donvi_id == settings.city.dvc_donvi_id:
            _, fields = await session.visit(self, fields_target(settings, donvi_id))
            for f in fields.found if fields else []:
                field_owner[int(f.attributes["field_id"])] = f.unit
        listed: dict[int, str | None] = {}  # procedure id → the unit it counts for
        total: int | None = None
        page = 1
        while True:
            _, parsed = await session.visit(self, list_target(settings, donvi_id, page, unit))
            if parsed is None:
                break  # a failure ends the walk; the list stays incomplete, and the evidence says why
            rows = [f for f in parsed.found if f.metric == "tthc"]
            summary = next(f for f in parsed.found if f.metric == "tthc_list_page")
            total = int(summary.attributes["total_count"])
            on_page = {
                int(f.attributes["procedure_id"]): f.unit
                or field_owner.get(whole_or_none(f.attributes["field_id"]) or -1)
                for f in rows
            }
            new = {pid: owner for pid, owner in on_page.items() if pid not in listed}
            listed.update(new)
            if not rows or len(listed) >= total:
                break
            if not new:
                log.warning("%s: page %d of DonViID %s repeats earlier rows; stopping", NAME, page, donvi_id)
                break
            page += 1
        for procedure_id, owner in listed.items():
            # The city list holds every phòng's fields: follow only those of the units asked for.
            if owner is None or owner in wanted:
                snapshot, _ = await session.visit(self, detail_target(settings, procedure_id, owner))
                if snapshot.status_code == 404:
                    # No detail endpoint on this portal (none is seen publicly): asking for every procedure
                    # would only collect the same 404. The seven parts stay missing, with this snapshot as why.
                    log.info("%s: %s answered 404; no procedure details on %s", NAME, DETAIL_ENDPOINT,
                                host_key(snapshot.url))  # fmt: skip
                    break
        if session.browser is not None:
            await self._render_list(donvi_id, unit, total == 0, session)

    async def _render_list(self, donvi_id: int, unit: str | None, empty: bool, session: CrawlSession) -> None:
        snapshot, view = await session.capture(
            rendered_list_target(session.settings, donvi_id, unit, empty=empty)
        )
        # A wait that timed out still leaves the page as it stood: what it shows is evidence too.
        if snapshot.outcome == Outcome.OK or (snapshot.outcome == Outcome.TIMEOUT and view.dom):
            await session.observe(self, snapshot, view)

    async def _walk_directory(self, session: CrawlSession) -> None:
        """The portal's directory once per crawl: each configured DonViID found there, or the unit by name."""
        await session.visit(self, directory_target(session.settings))

    async def _walk_reference(self, level: Level, session: CrawlSession) -> None:
        """The national database's procedures of one level, page by page until AMOUNT rows are seen."""
        await ensure_cookies(session, self)
        codes: set[str] = set()
        seen = 0
        page = 1
        while True:
            target = rest_target(
                session.settings,
                reference_params(session.settings, level, page),
                probe=NAME,
                label=f"reference {level} page {page}",
            )
            _, parsed = await session.visit(self, target)
            if parsed is None:
                return
            rows = [f for f in parsed.found if f.metric == "tthc_reference"]
            summary = next(f for f in parsed.found if f.metric == "tthc_reference_page")
            page_codes = {str(f.attributes["code"]) for f in rows}
            if not rows or page_codes <= codes:
                return  # an empty page, or the gateway serving an earlier page again
            codes |= page_codes
            seen += len(rows)
            if seen >= int(summary.attributes["amount"]):
                return
            page += 1

    # --- how to read it ----------------------------------------------------------------------------------

    def parse(self, view: SnapshotView, settings: Settings) -> Parsed:
        path = view.url.split("?", 1)[0]
        dvc, national = settings.sources.dvc_tinh, settings.sources.dvc_quocgia
        if path.endswith(dvc.api_path + LIST_ENDPOINT):
            return Parsed(_list_page(view, settings))
        if path.endswith(dvc.api_path + DETAIL_ENDPOINT):
            return Parsed([_detail(view)])
        if path.endswith(dvc.api_path + FIELDS_ENDPOINT):
            return Parsed(_fields(view, settings))
        if path.endswith(dvc.api_path + DIRECTORY_ENDPOINT):
            return Parsed(_directory(view, settings))
        if path.endswith(dvc.list_page):
            return Parsed([_rendered_list(view, settings)])
        if path.endswith(national.rest_path):
            return Parsed(_reference_page(view, settings))
        if path.endswith(API_PREFIX + FORMALITIES):
            return Parsed(_formalities(view))
        if path.endswith(national.bot_cookie_page):
            return Parsed([])  # the page fetched for the gateway's session cookies: no procedures on it
        raise LayoutNotRecognised(
            NAME,
            view.where,
            f"{host_key(view.where)}: not a snapshot this probe reads (expected {dvc.api_path}{LIST_ENDPOINT}, "
            f"{DETAIL_ENDPOINT}, {FIELDS_ENDPOINT}, {DIRECTORY_ENDPOINT}, {dvc.list_page} or {national.rest_path})",
        )


# --- the national catalogue on api/v1 ---------------------------------------------------------------------------

FORMALITY_PAGE_SIZE = 200
FORMALITY_MAX_PAGES = 100  # 5741 procedures in 2026: 29 pages of 200


def formalities_target(settings: Settings, page: int) -> Target:
    source = settings.sources.dvc_quocgia
    body = json.dumps(formalities_payload(page, FORMALITY_PAGE_SIZE), separators=(",", ":")).encode()
    return Target(url=source.base_url + API_PREFIX + FORMALITIES, method="POST", body=body,
                  headers=(("Content-Type", "application/json"), ("Accept", "application/json")),
                  probe=NAME, label=f"v1 formalities page {page}")  # fmt: skip


def _formalities(view: SnapshotView) -> list[Found]:
    """A page of the national catalogue: each procedure as published (id, code, name, state, departments)."""
    catalogue = read_formalities(view, NAME)
    found = [
        Found("national_formality", "instant", None, text=f.name,
              attributes={"id": f.id, "code": f.code, "state": f.state, "department_id": f.department_id,
                          "publishing": list(f.publishing), "applied": list(f.applied)})
        for f in catalogue.items
    ]  # fmt: skip
    pages = -(-catalogue.total // catalogue.page_size) if catalogue.page_size else 1
    found.append(Found("formalities_page", "instant", None, value=float(len(catalogue.items)),
                       attributes={"total": catalogue.total, "page": catalogue.page,
                                   "page_size": catalogue.page_size, "total_pages": pages}))  # fmt: skip
    return found


# --- the province DVC API -------------------------------------------------------------------------------------


def _shape(data: Any) -> str:
    if isinstance(data, dict):
        return f"an object with keys {sorted(data)[:6]}"
    return f"a JSON {type(data).__name__}"


def _envelope_rows(view: SnapshotView, parser: str, result: str) -> list[dict[str, Any]]:
    """The rows of an /api/dvc/ answer: {"status": 1, "data": {"data": {<result>: [...]}}}."""
    host = host_key(view.where)
    expected = f'{{"status": 1, "data": {{"data": {{"{result}": [...]}}}}}}'
    try:
        data = view.json()
    except ValueError:
        raise LayoutNotRecognised(
            parser, view.where, f"{host} did not answer JSON; expected {expected}"
        ) from None
    if not isinstance(data, dict) or "status" not in data:
        raise LayoutNotRecognised(parser, view.where, f"{host} answered {_shape(data)}; expected {expected}")
    if data["status"] not in (1, "1"):
        message = data.get("message") or ""
        raise LayoutNotRecognised(
            parser, view.where, f"{host} answered status {data['status']!r} {message!r}; expected status 1"
        )
    inner = data.get("data")
    rows = inner.get("data") if isinstance(inner, dict) else None
    rows = rows.get(result) if isinstance(rows, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise LayoutNotRecognised(
            parser, view.where, f"{host} answered status 1 but data is {_shape(inner)}; expected {expected}"
        )
    return rows


def _list_query(view: SnapshotView, parser: str) -> dict[str, Any]:
    """The query a list snapshot asked for: the JSON in its request's multipart `data` field."""
    try:
        query = json.loads(view.form().get("data", ""))
        if not isinstance(query, dict):
            raise TypeError("not an object")
        int(query["DonViID"])
    except (ValueError, TypeError, KeyError):
        raise LayoutNotRecognised(
            parser, view.where, "the request carries no multipart `data` JSON object with a DonViID"
        ) from None
    return query


def _integer(value: Any, what: str, view: SnapshotView, parser: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise LayoutNotRecognised(
            parser, view.where, f"{host_key(view.where)}: {what} {value!r} is not a whole number"
        ) from None


def _list_page(view: SnapshotView, settings: Settings) -> list[Found]:
    parser = "dvc-list"
    host = host_key(view.where)
    query = _list_query(view, parser)
    donvi_id = int(query["DonViID"])
    rows = _envelope_rows(view, parser, LIST_RESULT)
    mucdo_map: Mapping[str, str] = settings.sources.dvc_tinh.mucdo_map
    found: list[Found] = []
    total = 0
    absent_everywhere = set(LIST_ROW_OPTIONAL)
    for n, row in enumerate(rows, start=1):
        absent = [k for k in LIST_ROW_KEYS if row.get(k) is None]
        if absent:
            raise LayoutNotRecognised(
                parser,
                view.where,
                f"{host}: row {n} of {LIST_RESULT} has no {', '.join(absent)} "
                f"(a listed procedure needs {', '.join(LIST_ROW_KEYS)})",
            )
        absent_everywhere -= {k for k in LIST_ROW_OPTIONAL if _present(row.get(k))}
        procedure_id = _integer(row["ThuTucHanhChinhID"], "ThuTucHanhChinhID", view, parser)
        code = clean(str(row["MaThuTuc"])) if _present(row.get("MaThuTuc")) else None
        mucdo = str(row["MucDo"]).strip()
        level = mucdo_map.get(mucdo)
        if level is None:
            raise LayoutNotRecognised(
                parser,
                view.where,
                f"{host}: MucDo {mucdo!r} of procedure {procedure_id} is not in sources.dvc_tinh.mucdo_map "
                f"(known: {', '.join(sorted(mucdo_map))})",
            )
        total = _integer(row["TotalCount"], "TotalCount", view, parser)
        field = clean(str(row["TenLinhVuc"])) if _present(row.get("TenLinhVuc")) else None
        field_id = whole_or_none(row.get("LinhVucID"))
        unit, attribution = _list_owner(donvi_id, field_id, field, settings)
        found.append(
            Found(
                "tthc",
                "instant",
                unit,
                value=1,
                text=clean(str(row["TenThuTuc"])),
                attributes={
                    "code": code,
                    "procedure_id": procedure_id,
                    "field": field,
                    "field_id": field_id,
                    "level": level,
                    "mucdo": mucdo,
                    "donvi_id": donvi_id,
                    "attribution": attribution,
                },
            )
        )
    ward = ward_of(donvi_id, settings)
    found.append(
        Found(
            "tthc_list_page",
            "instant",
            ward.id if ward else None,
            value=len(rows),
            attributes={
                "donvi_id": donvi_id,
                "page": _integer(query.get("PageNum", 1), "PageNum", view, parser),
                "page_size": _integer(query.get("PageSize", 0), "PageSize", view, parser),
                "total_count": total,
                # Optional fields no row of the page carried: what the figures that need them must say.
                "fields_absent": sorted(absent_everywhere) if rows else [],
            },
        )
    )
    return found


def _present(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _fields(view: SnapshotView, settings: Settings) -> list[Found]:
    """LoadCBoLinhVuc: a unit's fields with their LinhVucID (public client code reads both). A city field
    is attributed to the phòng configured with its id, else with its name."""
    parser = "dvc-fields"
    raw_id = view.query().get("DonViID", "")
    donvi_id = int(raw_id) if raw_id.isdigit() else None
    found: list[Found] = []
    for n, row in enumerate(_envelope_rows(view, parser, FIELDS_RESULT), start=1):
        field_id = whole_or_none(row.get("LinhVucID"))
        name = clean(str(row.get("TenLinhVuc") or ""))
        if field_id is None or not name:
            raise LayoutNotRecognised(
                parser, view.where, f"{host_key(view.where)}: field {n} of {FIELDS_RESULT} has no LinhVucID "
                f"or no TenLinhVuc (fields {sorted(row)[:6]})",
            )  # fmt: skip
        owner, attribution = (None, "not the city's")
        if donvi_id == settings.city.dvc_donvi_id:
            owner, attribution = _list_owner(donvi_id, field_id, name, settings)
        found.append(
            Found("linh_vuc", "instant", owner, text=name,
                  attributes={"field_id": field_id, "name": name, "donvi_id": donvi_id,
                              "attribution": attribution})
        )  # fmt: skip
    return found


def directory_candidates(view: SnapshotView, parser: str = "dvc-directory") -> list[Candidate]:
    """GetDataDonVi_TraCuu: every unit of the portal (data.CT/CH/CX: tỉnh, huyện, xã), as match candidates."""
    host = host_key(view.where)
    try:
        data = view.json()
    except ValueError:
        raise LayoutNotRecognised(parser, view.where, f"{host} did not answer JSON") from None
    levels = data.get("data") if isinstance(data, dict) and data.get("status") in (1, "1") else None
    if not isinstance(levels, dict) or not any(k in levels for k in DIRECTORY_LEVELS):
        raise LayoutNotRecognised(
            parser, view.where, f"{host} answered {_shape(data)}; expected "
            f'{{"status": 1, "data": {{"CT"|"CH"|"CX": {{"{DIRECTORY_RESULT}": [...]}}}}}}',
        )  # fmt: skip
    candidates: list[Candidate] = []
    for key, level in DIRECTORY_LEVELS.items():
        block = levels.get(key)
        rows = block.get(DIRECTORY_RESULT) if isinstance(block, dict) else None
        if block is None:
            continue
        if not isinstance(rows, list):
            raise LayoutNotRecognised(
                parser, view.where, f"{host}: data.{key} has no {DIRECTORY_RESULT} list"
            )
        for n, row in enumerate(rows, start=1):
            donvi = whole_or_none(row.get("DonViID")) if isinstance(row, dict) else None
            if donvi is None or not isinstance(row, dict):
                raise LayoutNotRecognised(parser, view.where, f"{host}: data.{key} row {n} has no DonViID")
            name = clean(str(row.get("TenDonVi") or "")) or None
            parent = whole_or_none(row.get("DonViCapChaID"))
            candidates.append(Candidate(id=str(donvi), name=name, where=f"{key} row {n}",
                                        extra={"level": level, "parent": parent}))  # fmt: skip
    return candidates


def directory_wanted(settings: Settings) -> list[tuple[Wanted, str]]:
    """The city and its wards as the directory knows them (no codes there), each with its directory level."""
    wanted = [(Wanted(CITY, settings.city.name, str(settings.city.dvc_donvi_id)), "huyen")]
    wanted += [
        (Wanted(u.id, u.name, str(u.dvc_donvi_id) if u.dvc_donvi_id is not None else None), "xa")
        for u in settings.units_in_inspection()
        if u.kind != "phong"
    ]
    return wanted


def match_directory(settings: Settings, candidates: Sequence[Candidate]) -> list[Match]:
    """The city among the districts, then its wards among the communes (those under the city first)."""
    wanted = directory_wanted(settings)
    city = match_agencies([w for w, _ in wanted if w.key == CITY],
                          [c for c in candidates if c.extra.get("level") == "huyen"])[0]  # fmt: skip
    communes = [c for c in candidates if c.extra.get("level") == "xa"]
    if city.candidate is not None:
        under_city = [c for c in communes if str(c.extra.get("parent")) == city.candidate.id]
        communes = under_city or communes
    return [city, *match_agencies([w for w, level in wanted if level == "xa"], communes)]


def _directory(view: SnapshotView, settings: Settings) -> list[Found]:
    """Where each configured DonViID stands in the portal's directory: a finding per unit, how it matched."""
    matches = match_directory(settings, directory_candidates(view))
    return [
        Found("unit_match", "instant", None if m.wanted.key == CITY else m.wanted.key,
              value=1.0 if m.found else 0.0, text=m.describe(),
              attributes={**m.as_dict(), "service": DIRECTORY_ENDPOINT, "scope": "dvc_donvi_id"})
        for m in matches
    ]  # fmt: skip


def _detail(view: SnapshotView) -> Found:
    parser = "dvc-detail"
    raw_id = view.query().get("ThuTucHanhChinhID", "")
    procedure_id = int(raw_id) if raw_id.isdigit() else None
    rows = _envelope_rows(view, parser, DETAIL_RESULT)
    code: str | None = None
    if rows:
        row = rows[0]
        absent = [c for c in ELEMENT_COLUMNS.values() if c not in row]
        if absent:
            raise LayoutNotRecognised(
                parser, view.where, f"{host_key(view.where)}: the detail has no column {', '.join(absent)}"
            )
        code = clean(str(row["MaThuTuc"])) if row.get("MaThuTuc") else None
        missing = [part for part, column in ELEMENT_COLUMNS.items() if not clean(str(row[column] or ""))]
    else:
        missing = list(ELEMENT_COLUMNS)  # the portal publishes nothing of this procedure
    return Found(
        "tthc_detail",
        "instant",
        view.unit,  # the unit the procedure was listed for, kept with the snapshot
        value=0 if missing else 1,
        attributes={"code": code, "procedure_id": procedure_id, "missing": missing},
    )


def _rendered_list(view: SnapshotView, settings: Settings) -> Found:
    """What the public list page shows once its JavaScript has run: the total it announces."""
    parser = "dvc-list-page"
    host = host_key(view.where)
    soup = BeautifulSoup(view.dom if view.dom is not None else view.text(), "lxml")
    if soup.select_one("#tblThuTuc") is None:
        raise LayoutNotRecognised(
            parser, view.where, f"{host}: no procedure table #tblThuTuc on the list page"
        )
    shown = len(soup.select(RENDERED_ROWS))
    announced = soup.select_one("#tongSo")
    match = _TOTAL.search(clean(announced.get_text(" "))) if announced else None
    if match is None:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"{host}: the list page shows {shown} rows and no 'Tổng số: N thủ tục' total "
            f"({'rendered' if view.dom is not None else 'not rendered: a plain fetch sees the empty shell'})",
        )
    raw_id = view.query().get("DonViID", "")
    donvi_id = int(raw_id) if raw_id.isdigit() else None
    ward = ward_of(donvi_id, settings) if donvi_id is not None else None
    return Found(
        "tthc_list_rendered",
        "instant",
        ward.id if ward else None,
        value=parse_count(match.group(1)),
        attributes={"donvi_id": donvi_id, "rows_shown": shown},
    )


# --- the national procedure database -----------------------------------------------------------------------


def _reference_page(view: SnapshotView, settings: Settings) -> list[Found]:
    parser = "national-reference"
    host = host_key(view.where)
    params = rest_params(view)
    if params.get("service") != REFERENCE_SERVICE:
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"{host}: a rest.jsp call of {params.get('service')!r}, not {REFERENCE_SERVICE}",
        )
    level_id = str(params.get("impl_level_id", ""))
    levels = {v: k for k, v in settings.sources.dvc_quocgia.impl_level_ids.items()}
    level = levels.get(level_id)
    rows = rest_rows(view, parser)  # its reason names the host
    found: list[Found] = []
    amount = 0
    for n, row in enumerate(rows, start=1):
        absent = [k for k in REFERENCE_ROW_KEYS if row.get(k) is None]
        if absent:
            raise LayoutNotRecognised(
                parser, view.where, f"{host}: rest.jsp record {n} has no {', '.join(absent)}"
            )
        amount = _integer(row["AMOUNT"], "AMOUNT", view, parser)
        found.append(
            Found(
                "tthc_reference",
                "instant",
                None,
                value=1,
                text=clean(str(row["PROCEDURE_NAME"])),
                attributes={
                    "code": clean(str(row["PROCEDURE_CODE"])),
                    "level": level,
                    "field": clean(str(row["FIELD_NAME"])),
                    "ministry": clean(str(row.get("PUBLISHED_AGENCY") or "")) or None,
                    "amount": amount,
                    "national_id": row.get("ID"),
                    "impl_level_id": level_id,
                },
            )
        )
    found.append(
        Found(
            "tthc_reference_page",
            "instant",
            None,
            value=len(rows),
            attributes={
                "level": level,
                "impl_level_id": level_id,
                "page": params.get("pageIndex"),
                "page_size": params.get("recordPerPage"),
                "amount": amount,
            },
        )
    )
    return found


PROBE = ProceduresProbe()
