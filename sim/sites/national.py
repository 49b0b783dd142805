"""The national public-service portal (dichvucong.gov.vn): POST /jsp/rest.jsp and the 766 dashboard shells.

rest.jsp takes a form field `params=<json>` and dispatches on type/service; `ref` services answer bare
UPPER_SNAKE arrays whose values are all strings. With bot protection on, rest.jsp answers 403 unless the
caller carries the cookies a page GET hands out and the X-Requested-With and Referer headers of the site's JS.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Any

from sim import vocab
from sim.http import Request, Response, Site
from sim.render import render
from sim.sites.national_v1 import PREFIX as V1_PREFIX
from sim.sites.national_v1 import V1Api
from sim.spec import NATIONAL_SITE
from sim.world import CITY, COUNT_FIELDS, DossierMonth, NationalAgency, World

GROUP_PAGES = {
    "tonghop": ("Tổng hợp", "TONG_SCORE"),
    "congkhaiminhbach": ("Công khai, minh bạch", "CKMB"),
    "tiendogiaiquyet": ("Tiến độ giải quyết", "TDGQ"),
    "dvctructuyen": ("Dịch vụ trực tuyến", "TTTT"),
    "mucdohailong": ("Mức độ hài lòng", "MDHL"),
    "mucdosohoa": ("Mức độ số hóa", "MDSH"),
}
BOT_COOKIES = ("JSESSIONID", "route", "TS01b7c4e2")
TRAP_SERVICES = frozenset(
    {"dvcqg_nop_ho_so_service", "payment_platform_service", "pakn_gui_phan_anh_service"}
)
# Monthly-summary counts: DVCQG field → the DossierMonth attribute it carries.
MONTHLY_FIELDS = {
    "HTN_TRUCTIEP_TOTAL": "received_direct",
    "HTN_BUUCHINH_TOTAL": "received_post",
    "HTN_TRUCTUYEN_TOTAL": "received_online",
    "DB_TOTAL": "synced",
    "HTDH_TOTAL": "returned_on_time",
    "HTQH_TOTAL": "returned_late",
    "DXLTH_TOTAL": "processed_on_time",
    "DXLQH_TOTAL": "processed_late",
    "GDTTQG_TOTAL": "paid_online_dvcqg",
    "GDTTDP_TOTAL": "paid_online_local",
    "NTTDXLTH_TOTAL": "pakn_on_time",
    "NTTDXLQH_TOTAL": "pakn_late",
}
# Dossiers and feedback still open at the month's end, within or past their deadline. No public source shows
# these fields (portals.md §3.3): their names are our guess, and WorldSpec.national_pending_counts turns them off.
PENDING_FIELDS = {
    "DGXLTH_TOTAL": "pending_in_time",
    "DGXLQH_TOTAL": "pending_overdue",
    "NTTDGXLTH_TOTAL": "pakn_pending_in_time",
    "NTTDGXLQH_TOTAL": "pakn_pending_overdue",
}


def score_text(value: float) -> str:
    """84.5 → '84.5', 18.0 → '18': how the portal prints scores."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}" if whole else "0"


class NationalSite(Site):
    server_header = "Apache-Coyote/1.1"

    def __init__(self, world: World, bot_protection: bool) -> None:
        super().__init__(NATIONAL_SITE)
        self.world = world
        self.bot_protection = bot_protection
        self.public = world.spec.contract == "public"
        self.issued_sessions: set[str] = set()
        self.level_by_id = {v: k for k, v in world.spec.impl_level_ids.items()}
        self.agency_by_id = {a.id: a for a in world.province_agencies}
        self.unit_by_national = {u.national_id: u for u in world.spec.units if u.national_id}
        self.v1 = V1Api(world)
        self.monthly: dict[tuple[str, str], list[DossierMonth]] = {}
        for row in world.dossiers:
            self.monthly.setdefault((row.agency, row.month), []).append(row)

    def robots_txt(self) -> str:
        return "User-agent: *\nDisallow: /p/tk/\nDisallow: /p/thanhtoan/\nDisallow: /jsp/tthc/upload/\n"

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/", "/p/home/dvc-trang-chu.html"):
            return self._with_cookies(request, Response.html(self._home()))
        if path.startswith("/p/home/dvc-index-tinhthanhpho-") and path.endswith(".html"):
            group = path.removeprefix("/p/home/dvc-index-tinhthanhpho-").removesuffix(".html")
            if group in GROUP_PAGES:
                return self._with_cookies(request, Response.html(self._dashboard(group)))
        if path.startswith(("/p/tk/", "/p/thanhtoan/")):
            self.trap(request)
            return Response.html("<html><body>Đăng nhập</body></html>")
        if path == "/jsp/rest.jsp" and request.method == "POST":
            return self._rest(request)
        if path.startswith(V1_PREFIX):
            return self.v1.handle(request)
        return Response.html("<html><body><h1>404</h1></body></html>", 404)

    # --- pages ----------------------------------------------------------------------------------------------

    def _with_cookies(self, request: Request, response: Response) -> Response:
        if self.bot_protection and not self._has_cookies(request):
            session = secrets.token_hex(16).upper()
            self.issued_sessions.add(session)
            response.headers += [
                ("Set-Cookie", f"JSESSIONID={session}; Path=/; HttpOnly"),
                ("Set-Cookie", f"route={secrets.token_hex(16)}; Path=/"),
                ("Set-Cookie", f"TS01b7c4e2=01{secrets.token_hex(40)}; Path=/"),
            ]
        return response

    def _has_cookies(self, request: Request) -> bool:
        cookies = request.cookies()
        return (
            all(cookies.get(name) for name in BOT_COOKIES) and cookies["JSESSIONID"] in self.issued_sessions
        )

    def _home(self) -> str:
        links = "".join(
            f'<li><a href="/p/home/dvc-index-tinhthanhpho-{g}.html">{label}</a></li>'
            for g, (label, _) in GROUP_PAGES.items()
        )
        return (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Cổng Dịch vụ công quốc gia</title>'
            f"</head><body><h1>Cổng Dịch vụ công quốc gia</h1><ul>{links}</ul></body></html>"
        )

    def _dashboard(self, group: str) -> str:
        as_of = self.world.spec.as_of
        return render(
            "national/dashboard.html",
            group=group,
            groups=[(g, label) for g, (label, _) in GROUP_PAGES.items()],
            score_field=GROUP_PAGES[group][1],
            provinces=self.world.provinces,
            years=list(range(as_of.year, self.world.spec.first_month.year - 1, -1)),
            year=as_of.year,
        )

    # --- rest.jsp -------------------------------------------------------------------------------------------

    def _rest(self, request: Request) -> Response:
        if self.bot_protection and not (
            self._has_cookies(request)
            and request.header("x-requested-with") == "XMLHttpRequest"
            and "/p/home/" in request.header("referer")
        ):
            return Response.html(render("national/challenge.html", support_id=secrets.randbelow(10**19)), 403)
        try:
            params = json.loads(request.form().get("params", ""))
            if not isinstance(params, dict):
                raise ValueError("params is not an object")
        except ValueError:
            return Response.text("Invalid params", 400)
        service = str(params.get("service", ""))
        if service in TRAP_SERVICES:
            self.trap(request)
            return Response.json([])
        if params.get("type") == "fts":
            return Response.json(self._full_text_search(params))
        handlers = {
            "procedure_advanced_search_service_v2": self._procedure_search,
            "procedure_get_list_field_service_v2": self._field_list,
            "procedure_get_list_agency_by_type_service_v2": self._agency_list,
            "report_tinh_766_service": self._report_766,
            "report_by_month_sum_service": self._monthly_summary,
            "report_tthc_tilexulyhs_service": self._by_field_summary,
        }
        handler = handlers.get(service)
        rows = handler(params) if handler else []
        if request.variant == "drift":
            return Response.json(
                {"code": 0, "result": {"rows": [{k.lower(): v for k, v in r.items()} for r in rows]}}
            )
        return Response.json(rows)

    @staticmethod
    def _int(params: dict[str, Any], name: str, default: int = 0) -> int:
        try:
            return int(str(params.get(name, default)))
        except ValueError:
            return default

    def _page(
        self, rows: list[dict[str, str]], params: dict[str, Any], size_key: str
    ) -> list[dict[str, str]]:
        size = max(1, self._int(params, size_key, 10))
        page = max(1, self._int(params, "pageIndex", 1))
        for n, row in enumerate(rows, start=1):
            row["ROW_STT"] = str(n)
        return rows[(page - 1) * size : page * size]

    def _procedure_search(self, params: dict[str, Any]) -> list[dict[str, str]]:
        level = self.level_by_id.get(str(params.get("impl_level_id", "-1")))
        keyword = str(params.get("keyword", "")).casefold()
        field_id = str(params.get("field_id", "-1"))
        levels = [level] if level else ["huyen", "xa"]
        refs = [r for lv in levels for r in self.world.reference[lv]]
        refs = [
            r
            for r in refs
            if (not keyword or keyword in r.name.casefold())
            and (field_id in ("-1", "") or str(self.world.fields[(r.level, r.field_name)].id) == field_id)
        ]
        total = str(len(refs))
        rows = [
            {
                "ID": r.id,
                "PROCEDURE_CODE": r.code,
                "PROCEDURE_NAME": r.name,
                "PUBLISHED_AGENCY": r.ministry,
                "IMPLEMENTATION_AGENCY": "Ủy ban nhân dân cấp xã"
                if r.level == "xa"
                else "Ủy ban nhân dân cấp huyện",
                "QDCBID": r.qdcb_id,
                "FIELD_NAME": r.field_name,
                "AMOUNT": total,
            }
            for r in refs
        ]
        return self._page(rows, params, "recordPerPage")

    def _field_list(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"ID": str(f.id), "FIELD_NAME": f.name}
            for f in sorted(self.world.fields.values(), key=lambda f: f.id)
        ]

    def _agency_list(self, params: dict[str, Any]) -> list[dict[str, str]]:
        ministries = sorted(set(vocab.FIELD_MINISTRY.values()))
        return [
            {"ID": str(i + 1), "AGENCY_NAME": m, "CODE": f"G{i + 1:02d}"} for i, m in enumerate(ministries)
        ]

    def _full_text_search(self, params: dict[str, Any]) -> dict[str, Any]:
        phrase = str(params.get("key_search", "")).strip('"').casefold()
        refs = [r for lv in ("huyen", "xa") for r in self.world.reference[lv] if phrase in r.name.casefold()]
        start = self._int(params, "start_row", 0)
        size = self._int(params, "page_size", 10)
        docs = [{"ma_thu_tuc": r.code, "ten_thu_tuc": r.name} for r in refs[start : start + size]]
        return {
            "responseHeader": {"status": 0},
            "response": {"numFound": len(refs), "start": start, "docs": docs},
        }

    def period(self, params: dict[str, Any]) -> tuple[str, date] | None:
        """The period a report asks for, as a key ('2023', '2023-H1', '2023-Q3', '2023-09') and its first day."""
        year = self._int(params, "p_nam", self.world.spec.as_of.year)
        month, quarter, half = (self._int(params, k) for k in ("p_thang", "p_quy", "p_6thang"))
        if 1 <= month <= 12:
            key, start = f"{year}-{month:02d}", date(year, month, 1)
        elif 1 <= quarter <= 4:
            key, start = f"{year}-Q{quarter}", date(year, 3 * quarter - 2, 1)
        elif half in (1, 2):
            key, start = f"{year}-H{half}", date(year, 6 * half - 5, 1)
        else:
            key, start = str(year), date(year, 1, 1)
        if start > self.world.spec.as_of or start < self.world.spec.first_month.replace(month=1):
            return None
        return key, start

    def _report_766(self, params: dict[str, Any]) -> list[dict[str, str]]:
        period = self.period(params)
        if period is None:
            return []
        province = str(params.get("p_tinh_id", "0"))
        agencies: list[NationalAgency]
        if province in ("0", ""):
            agencies = self.world.provinces
        elif province == self.world.province_id:
            agencies = self.world.province_agencies
        else:
            return []
        rows = [
            {
                "ID": a.id,
                "TEN": a.name,
                "MA_COQUAN": a.ma_coquan,
                "CAPDONVIID": a.capdonvi,
                "TONG_SCORE": score_text(s["TONG"]),
                **{g: score_text(s[g]) for g in ("CKMB", "TDGQ", "TTTT", "CLGQ", "MDHL", "MDSH")},
            }
            for a, s in self.world.ranked(agencies, period[0])
        ]
        return self._page(rows, params, "pageSize")

    def _months_of(self, params: dict[str, Any]) -> list[str]:
        year = self._int(params, "p_nam", self.world.spec.as_of.year)
        month = self._int(params, "p_thang")
        wanted = [f"{year}-{month:02d}"] if 1 <= month <= 12 else [f"{year}-{m:02d}" for m in range(1, 13)]
        return [m for m in wanted if m in self.world.months]

    def _summary_row(self, rows: list[DossierMonth]) -> dict[str, str]:
        totals = {name: sum(getattr(r, name) for r in rows) for name in COUNT_FIELDS}
        received = totals["received_direct"] + totals["received_post"] + totals["received_online"]
        processed = totals["processed_on_time"] + totals["processed_late"]
        returned = totals["returned_on_time"] + totals["returned_late"]
        out = {"HS_TOTAL": str(received)}
        out.update({field: str(totals[attr]) for field, attr in MONTHLY_FIELDS.items()})
        if self.world.spec.national_pending_counts:
            out.update({field: str(totals[attr]) for field, attr in PENDING_FIELDS.items()})
        out["HTN_TRUCTUYEN_KHONGCHUAN_TOTAL"] = "0"
        if not self.public:  # not in the monthly-summary fields portals.md lists
            out["GDTT_TOTAL"] = str(totals["paid_online_dvcqg"] + totals["paid_online_local"])
        out["HTDH"] = percent(totals["returned_on_time"], returned)
        out["HTQH"] = percent(totals["returned_late"], returned)
        out["DXLTH"] = percent(totals["processed_on_time"], processed)
        out["DXLQH"] = percent(totals["processed_late"], processed)
        out["TILE"] = percent(totals["processed_on_time"], processed)
        out["TILE_DB"] = percent(totals["synced"], received)
        return out

    def _agency_key(self, national_id: str) -> str | None:
        if national_id == self.world.spec.city.national_id:
            return CITY
        unit = self.unit_by_national.get(national_id)
        return unit.id if unit else None

    def _monthly_summary(self, params: dict[str, Any]) -> list[dict[str, str]]:
        """report_by_month_sum_service: one row per unit of a district (p_huyen_id) for a month or a year."""
        if str(params.get("p_huyen_id", "")) != self.world.spec.city.national_id:
            return []
        months = self._months_of(params)
        if not months:
            return []
        rows: list[dict[str, str]] = []
        for agency in self.world.province_agencies:
            key = self._agency_key(agency.id)
            if key is None:
                continue
            dossiers = [d for m in months for d in self.monthly.get((key, m), [])]
            row = {
                "ID": agency.id,
                "TEN": agency.name,
                "MA_COQUAN": agency.ma_coquan,
                "CAPDONVIID": agency.capdonvi,
            }
            row.update(self._summary_row(dossiers))
            rows.append(row)
        return self._page(rows, params, "pageSize") if "pageSize" in params else rows

    def _by_field_summary(self, params: dict[str, Any]) -> list[dict[str, str]]:
        """report_tthc_tilexulyhs_service: one agency's dossiers per field (lĩnh vực) for a month or a year."""
        key = self._agency_key(str(params.get("p_donvi_id", "")))
        months = self._months_of(params)
        if key is None or not months:
            return []
        by_field: dict[str, list[DossierMonth]] = {}
        for m in months:
            for d in self.monthly.get((key, m), []):
                by_field.setdefault(d.field_name, []).append(d)
        rows = []
        for name in sorted(by_field):
            level = "huyen" if key == CITY else "xa"
            row = {"LINHVUC_ID": str(self.world.fields[(level, name)].id), "TEN_LINHVUC": name}
            row.update(self._summary_row(by_field[name]))
            rows.append(row)
        return rows
