"""The simulated province DVC portal answers in the documented format (portals.md §1, §6)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import loopback

from sim import Simulation


def procedure_page(client: httpx.Client, base: str, **query: Any) -> dict[str, Any]:
    body = {
        "DonViID": "",
        "LinhVucID": "0",
        "TenThuTuc": "",
        "MucDo": "0",
        "PageNum": 1,
        "PageSize": 9,
        **query,
    }
    response = client.post(f"{base}/api/dvc/GetDanhSachTTHCDVC", files={"data": (None, json.dumps(body))})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_unit_list_has_three_levels_and_our_wards_under_the_city(simulation: Simulation, spec: Any) -> None:
    data = loopback.get(simulation.url("dvc_tinh") + "/api/dvc/GetDataDonVi_TraCuu").json()
    assert data["status"] == 1
    levels = {k: v["V_DICHVUCONG_DONVI_LstStringResult"] for k, v in data["data"].items()}
    assert set(levels) == {"CT", "CH", "CX"}
    assert all(
        {"DonViID", "TenDonVi", "DonViCapChaID"} <= set(row) for rows in levels.values() for row in rows
    )
    communes = {row["DonViID"]: row for row in levels["CX"]}
    for unit in spec.units:
        if unit.dvc_donvi_id is not None:
            assert communes[unit.dvc_donvi_id]["TenDonVi"] == unit.name
            assert communes[unit.dvc_donvi_id]["DonViCapChaID"] == spec.city.dvc_donvi_id


def test_procedure_list_pages_cover_every_row_once_with_total_on_each_row(simulation: Simulation) -> None:
    base = simulation.url("dvc_tinh")
    with httpx.Client() as client:
        first = procedure_page(client, base, DonViID=356, PageSize=9)
        assert first["status"] == 1
        rows = first["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"]
        total = rows[0]["TotalCount"]
        seen = []
        for page in range(1, -(-total // 9) + 1):
            result = procedure_page(client, base, DonViID=356, PageNum=page, PageSize=9)
            page_rows = result["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"]
            assert all(r["TotalCount"] == total for r in page_rows)
            seen += [r["ThuTucHanhChinhID"] for r in page_rows]
        past_the_end = procedure_page(client, base, DonViID=356, PageNum=999, PageSize=9)
    assert len(seen) == len(set(seen)) == total
    assert past_the_end["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"] == []
    expected = {"ThuTucHanhChinhID", "MaThuTuc", "TenThuTuc", "LinhVucID", "TenLinhVuc", "DonViID", "TenDonVi",
                "CapThucHien", "MucDo", "MucDoDVC", "TotalCount"}  # fmt: skip
    assert expected == set(rows[0])
    assert rows[0]["MucDo"] in {"2", "3", "4"} and rows[0]["MucDoDVC"] in {
        "Toàn trình",
        "Một phần",
        "Cung cấp thông tin",
    }


def test_filters_by_online_level_and_name(simulation: Simulation) -> None:
    base = simulation.url("dvc_tinh")
    with httpx.Client() as client:
        everything = procedure_page(client, base, DonViID=356, PageSize=500)["data"]["data"]
        full = procedure_page(client, base, DonViID=356, MucDo="4", PageSize=500)["data"]["data"]
        named = procedure_page(client, base, DonViID=356, TenThuTuc="khai sinh", PageSize=500)["data"]["data"]
    all_rows = everything["DICHVUCONG_THUTUCHANHCHINH_PResult"]
    full_rows = full["DICHVUCONG_THUTUCHANHCHINH_PResult"]
    assert full_rows and all(r["MucDoDVC"] == "Toàn trình" for r in full_rows)
    assert len(full_rows) == sum(r["MucDo"] == "4" for r in all_rows)
    assert all("khai sinh" in r["TenThuTuc"].lower() for r in named["DICHVUCONG_THUTUCHANHCHINH_PResult"])


def test_bad_request_is_status_zero_not_an_empty_success(simulation: Simulation) -> None:
    response = loopback.post(
        simulation.url("dvc_tinh") + "/api/dvc/GetDanhSachTTHCDVC", files={"data": (None, "{not json")}
    )
    assert response.json() == {"status": 0, "message": "Dữ liệu không hợp lệ", "data": None}


def test_fields_and_procedure_detail(simulation: Simulation) -> None:
    base = simulation.url("dvc_tinh")
    fields = loopback.get(base + "/api/dvc/LoadCBoLinhVuc", params={"DonViID": 356}).json()
    names = [f["TenLinhVuc"] for f in fields["data"]["data"]["DemThuTucHanhChinh_Lst_Result"]]
    assert "Hộ tịch" in names
    with httpx.Client() as client:
        row = procedure_page(client, base, DonViID=356)["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"][
            0
        ]
    detail = loopback.get(
        base + "/api/dvc/GetChiTietTTHC", params={"ThuTucHanhChinhID": row["ThuTucHanhChinhID"]}
    ).json()
    record = detail["data"]["data"]["DICHVUCONG_CHITIETTTHC_PResult"][0]
    assert record["MaThuTuc"] == row["MaThuTuc"]
    assert {
        "TrinhTuThucHien",
        "CachThucThucHien",
        "ThanhPhanHoSo",
        "ThoiHanGiaiQuyet",
        "DoiTuongThucHien",
    } <= set(record)


def test_personal_payment_and_write_endpoints_are_traps_that_log(make_simulation: Any) -> None:
    with make_simulation() as sim:
        base = sim.url("dvc_tinh")
        assert sim.trap_calls() == {}
        loopback.post(base + "/api/dvc/DatCauHoi", files={"data": (None, "{}")})
        loopback.get(base + "/KetQuaThanhToanDVCQG", params={"data": "1_x", "responseCode": "00"})
        loopback.post(base + "/api/dvc/TraCuuTTHSClick", files={"data": (None, "{}")})
        assert sim.trap_calls() == {
            "dvc_tinh": [
                "POST /api/dvc/DatCauHoi",
                "GET /KetQuaThanhToanDVCQG",
                "POST /api/dvc/TraCuuTTHSClick",
            ]
        }


def test_robots_txt_keeps_crawlers_off_accounts_and_payments(simulation: Simulation) -> None:
    text = loopback.get(simulation.url("dvc_tinh") + "/robots.txt").text
    assert "Disallow: /Account/" in text and "Disallow: /KetQuaThanhToanDVCQG" in text


def test_list_page_is_an_empty_shell_without_javascript(simulation: Simulation) -> None:
    html = loopback.get(simulation.url("dvc_tinh") + "/thu-tuc-hanh-chinh", params={"DonViID": 356}).text
    assert '<table class="table" id="tblThuTuc">' in html
    assert "<tbody></tbody>" in html
    assert "GetDanhSachTTHCDVC" in html


def test_on_the_public_contract_the_api_sends_only_what_public_client_code_reads(spec: Any) -> None:
    from dataclasses import replace

    with Simulation(replace(spec, contract="public")) as public, httpx.Client() as client:
        base = public.url("dvc_tinh")
        rows = procedure_page(client, base, DonViID=356)["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"]
        assert rows and all(
            set(row) == {"ThuTucHanhChinhID", "TenThuTuc", "MucDo", "DonViID", "LinhVucID", "TotalCount"}
            for row in rows
        )
        # No public source shows a procedure detail endpoint: the portal's own "no such function" answer.
        detail = client.get(
            base + "/api/dvc/GetChiTietTTHC", params={"ThuTucHanhChinhID": rows[0]["ThuTucHanhChinhID"]}
        )
        assert detail.status_code == 404 and detail.json()["status"] == 0
        fields = client.get(base + "/api/dvc/LoadCBoLinhVuc", params={"DonViID": 356}).json()
        listed = fields["data"]["data"]["DemThuTucHanhChinh_Lst_Result"]
        assert listed and all(set(f) == {"LinhVucID", "TenLinhVuc"} for f in listed)
        assert {r["LinhVucID"] for r in rows} <= {f["LinhVucID"] for f in listed}
