"""The province's public-service portal (dichvucong.tayninh.gov.vn): /api/dvc/* JSON and an XHR-filled list page.

Responses use the `{"status": 1, "data": …}` envelope with stored-procedure-style result names; the list is a
multipart POST whose `data` field carries JSON, paged by PageNum/PageSize with TotalCount on every row.
Personal-data, payment and write endpoints are traps: they answer, and they log the call.

With the "public" contract the API sends only what public client code shows (portals.md §1): list rows with
ThuTucHanhChinhID, TenThuTuc, MucDo, DonViID, LinhVucID and TotalCount, and no procedure detail endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from sim import vocab
from sim.http import Request, Response, Site
from sim.render import render
from sim.spec import DVC_SITE, ONLINE_LEVEL_LABELS
from sim.world import ELEMENTS, Procedure, World

TRAPS = frozenset(
    {
        "TraCuuTTHSClick",
        "Get_HSDVC",
        "Tim_Tai_Khoan",
        "ThanhToanTrucTuyenXLDVCQG",
        "InBienLai",
        "DatCauHoi",
        "ratingtl",
    }
)
# The list row's fields public client code reads; the others are our assumption ("full" contract only).
PUBLIC_ROW_FIELDS = ("ThuTucHanhChinhID", "TenThuTuc", "MucDo", "DonViID", "LinhVucID", "TotalCount")
DETAIL_ENDPOINT = "GetChiTietTTHC"  # not in any public source: served with the "full" contract only
ELEMENT_COLUMNS = {
    "ten": "TenThuTuc",
    "trinh_tu": "TrinhTuThucHien",
    "cach_thuc": "CachThucThucHien",
    "thanh_phan_ho_so": "ThanhPhanHoSo",
    "thoi_han": "ThoiHanGiaiQuyet",
    "doi_tuong": "DoiTuongThucHien",
    "co_quan_thuc_hien": "CoQuanThucHien",
}


def envelope(result_name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"status": 1, "message": "", "data": {"data": {result_name: rows}}}


class DvcSite(Site):
    server_header = "Microsoft-IIS/10.0"

    def __init__(self, world: World) -> None:
        super().__init__(DVC_SITE)
        self.world = world
        spec = world.spec
        self.api = "/api/dvc/"
        self.by_id: dict[int, Procedure] = {p.id: p for rows in world.procedures.values() for p in rows}
        self.unit_names = {spec.city.dvc_donvi_id: spec.city.name}
        for u in spec.units:
            if u.dvc_donvi_id is not None:
                self.unit_names[u.dvc_donvi_id] = u.name
        self.level_codes = spec.mucdo_codes
        self.public = spec.contract == "public"

    def robots_txt(self) -> str:
        return (
            "User-agent: *\nDisallow: /Account/\nDisallow: /KetQuaThanhToanDVCQG\n"
            "Disallow: /api/dvc/Get_HSDVC\nDisallow: /api/dvc/Tim_Tai_Khoan\n"
        )

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            return Response.html(render("dvc/home.html", list_page=self.world.spec.dvc_list_page))
        if path == self.world.spec.dvc_list_page:
            levels = [(code, ONLINE_LEVEL_LABELS[level]) for level, code in self.level_codes.items()]
            return Response.html(render("dvc/list.html", api=self.api, levels=levels))
        if path.startswith(("/KetQuaThanhToanDVCQG", "/Account/")):
            self.trap(request)
            return Response.html("<html><body><h1>Đăng nhập</h1></body></html>")
        if not path.startswith(self.api):
            return Response.html("<html><body><h1>404 - Không tìm thấy trang</h1></body></html>", 404)
        name = path[len(self.api) :]
        if name in TRAPS:
            self.trap(request)
            return Response.json({"status": 0, "message": "Yêu cầu không hợp lệ", "data": None})
        if request.variant == "drift":
            return self._drifted(name, request)
        if name == "GetDataDonVi_TraCuu":
            return Response.json(self._units())
        if name == "LoadCBoLinhVuc":
            return Response.json(self._fields(request.arg("DonViID")))
        if name == "GetDanhSachTTHCDVC" and request.method == "POST":
            return self._procedure_list(request)
        if name == DETAIL_ENDPOINT and not self.public:
            return self._procedure_detail(request.arg("ThuTucHanhChinhID"))
        return Response.json({"status": 0, "message": f"Không tìm thấy chức năng {name}", "data": None}, 404)

    # --- endpoints ------------------------------------------------------------------------------------------

    def _units(self) -> dict[str, Any]:
        spec = self.world.spec
        city = spec.city.dvc_donvi_id
        province = [
            {"DonViID": i + 1, "TenDonVi": name, "DonViCapChaID": 0}
            for i, name in enumerate(vocab.PROVINCE_DEPARTMENTS)
        ]
        districts = [{"DonViID": city, "TenDonVi": spec.city.name, "DonViCapChaID": 0}]
        districts += [
            {"DonViID": 340 + i, "TenDonVi": name, "DonViCapChaID": 0}
            for i, name in enumerate(vocab.OTHER_DISTRICTS)
        ]
        communes = [
            {"DonViID": u.dvc_donvi_id, "TenDonVi": u.name, "DonViCapChaID": city}
            for u in spec.units
            if u.dvc_donvi_id is not None
        ]
        communes += [
            {"DonViID": 400 + i, "TenDonVi": name, "DonViCapChaID": 340 + i % len(vocab.OTHER_DISTRICTS)}
            for i, name in enumerate(vocab.OTHER_COMMUNES)
        ]
        key = "V_DICHVUCONG_DONVI_LstStringResult"
        return {
            "status": 1,
            "message": "",
            "data": {"CT": {key: province}, "CH": {key: districts}, "CX": {key: communes}},
        }

    def _fields(self, donvi: str) -> dict[str, Any]:
        rows = self.world.procedures.get(int(donvi), []) if donvi.isdigit() else []
        seen: dict[int, str] = {}
        for p in rows:
            seen.setdefault(p.field_id, p.field_name)
        fields = [{"LinhVucID": i, "TenLinhVuc": n} for i, n in sorted(seen.items(), key=lambda kv: kv[1])]
        # The result name and both fields are what public client code reads (a mobile app's field list).
        return envelope("DemThuTucHanhChinh_Lst_Result", fields)

    def _procedure_list(self, request: Request) -> Response:
        raw = request.multipart().get("data")
        try:
            query: dict[str, Any] = json.loads(raw or "null")
            donvi = int(query["DonViID"])
            page = max(1, int(query.get("PageNum", 1)))
            size = max(1, min(500, int(query.get("PageSize", 9))))
        except (TypeError, ValueError, KeyError, AttributeError):
            return Response.json({"status": 0, "message": "Dữ liệu không hợp lệ", "data": None})
        rows = self.world.procedures.get(donvi, [])
        field = str(query.get("LinhVucID") or "0")
        level = str(query.get("MucDo") or "0")
        name = str(query.get("TenThuTuc") or "").casefold()
        rows = [
            p
            for p in rows
            if (field in ("0", "") or str(p.field_id) == field)
            and (level in ("0", "") or self.level_codes[p.level] == level)
            and (not name or name in p.name.casefold())
        ]
        total = len(rows)
        chosen = rows[(page - 1) * size : page * size]
        return Response.json(
            envelope("DICHVUCONG_THUTUCHANHCHINH_PResult", [self._row(p, total) for p in chosen])
        )

    def _row(self, p: Procedure, total: int) -> dict[str, Any]:
        city = p.donvi_id == self.world.spec.city.dvc_donvi_id
        row = {
            "ThuTucHanhChinhID": p.id,
            "MaThuTuc": p.code,
            "TenThuTuc": p.name,
            "LinhVucID": p.field_id,
            "TenLinhVuc": p.field_name,
            "DonViID": p.donvi_id,
            "TenDonVi": self.unit_names.get(p.donvi_id, ""),
            "CapThucHien": "Cấp huyện" if city else "Cấp xã",
            "MucDo": self.level_codes[p.level],
            "MucDoDVC": ONLINE_LEVEL_LABELS[p.level],
            "TotalCount": total,
        }
        return {k: row[k] for k in PUBLIC_ROW_FIELDS} if self.public else row

    def _procedure_detail(self, raw_id: str) -> Response:
        p = self.by_id.get(int(raw_id)) if raw_id.isdigit() else None
        if p is None:
            return Response.json(envelope("DICHVUCONG_CHITIETTTHC_PResult", []))
        row: dict[str, Any] = {"ThuTucHanhChinhID": p.id, "MaThuTuc": p.code}
        texts = {
            "ten": p.name,
            "trinh_tu": "Bước 1: Nộp hồ sơ tại Bộ phận Một cửa. Bước 2: Tiếp nhận, giải quyết. Bước 3: Trả kết quả.",
            "cach_thuc": "Trực tiếp, qua dịch vụ bưu chính hoặc trực tuyến.",
            "thanh_phan_ho_so": "Tờ khai theo mẫu; giấy tờ tùy thân (01 bộ).",
            "thoi_han": "03 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ.",
            "doi_tuong": "Công dân Việt Nam, tổ chức.",
            "co_quan_thuc_hien": self.unit_names.get(p.donvi_id, ""),
        }
        for element, present in zip(ELEMENTS, p.elements, strict=True):
            row[ELEMENT_COLUMNS[element]] = texts[element] if present else ""
        return Response.json(envelope("DICHVUCONG_CHITIETTTHC_PResult", [row]))

    def _drifted(self, name: str, request: Request) -> Response:
        """A vendor upgrade: new envelope, new field names. Probes must fail loudly on this, not count zero."""
        if name == "GetDanhSachTTHCDVC":
            raw = request.multipart().get("data") or "{}"
            try:
                donvi = int(json.loads(raw).get("DonViID", 0))
            except (ValueError, AttributeError):
                donvi = 0
            items = [
                {"id": p.id, "code": p.code, "title": p.name, "level": p.level}
                for p in self.world.procedures.get(donvi, [])
            ]
            return Response.json({"Success": True, "Result": {"Items": items[:20], "Total": len(items)}})
        return Response.json({"Success": True, "Result": {"Items": []}})
