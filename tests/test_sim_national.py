"""The simulated national portal: rest.jsp services, bot protection, the 766 dashboard shells (portals.md §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import loopback
import pytest
from bs4 import BeautifulSoup

from sim import Simulation
from sim.spec import WorldSpec

DASHBOARD = "/p/home/dvc-index-tinhthanhpho-tonghop.html"


@contextmanager
def national_client(sim: Simulation) -> Iterator[httpx.Client]:
    """A client that behaves like the site's JavaScript: cookies from a page GET, then XHR headers."""
    base = sim.url("dvc_quocgia")
    headers = {"X-Requested-With": "XMLHttpRequest", "Referer": base + DASHBOARD}
    with httpx.Client(base_url=base, headers=headers) as client:
        client.get(DASHBOARD).raise_for_status()
        yield client


def rest(client: httpx.Client, **params: Any) -> Any:
    response = client.post("/jsp/rest.jsp", data={"params": json.dumps({"type": "ref", **params})})
    response.raise_for_status()
    return response.json()


def all_strings(rows: list[dict[str, Any]]) -> bool:
    return all(isinstance(v, str) for row in rows for v in row.values())


def test_bot_protection_wants_cookies_and_xhr_headers(simulation: Simulation) -> None:
    base = simulation.url("dvc_quocgia")
    params = {"params": json.dumps({"type": "ref", "service": "report_tinh_766_service", "p_nam": "2023"})}
    bare = loopback.post(base + "/jsp/rest.jsp", data=params)
    assert bare.status_code == 403 and "The requested URL was rejected" in bare.text
    with httpx.Client(base_url=base) as client:
        page = client.get(DASHBOARD)
        assert {"JSESSIONID", "route"} <= set(page.cookies)
        assert client.post("/jsp/rest.jsp", data=params).status_code == 403  # cookies alone are not enough
        headers = {"X-Requested-With": "XMLHttpRequest", "Referer": base + DASHBOARD}
        assert client.post("/jsp/rest.jsp", data=params, headers=headers).status_code == 200


def test_766_report_resolves_the_province_by_name_then_lists_its_units(
    simulation: Simulation, spec: WorldSpec
) -> None:
    with national_client(simulation) as client:
        provinces = rest(client, service="report_tinh_766_service", p_nam="2023", p_tinh_id=0, pageSize=100)
        assert len(provinces) == 63 and all_strings(provinces)
        tay_ninh = next(p for p in provinces if p["TEN"] == "Tỉnh Tây Ninh")
        units = rest(client, service="report_tinh_766_service", p_nam="2023", p_6thang=0, p_quy=0, p_thang=0,
                     p_tinh_id=int(tay_ninh["ID"]), pageIndex=1, pageSize=100, p_loaidonvi=1, loaichitieu=0)  # fmt: skip
    assert all_strings(units)
    assert [int(u["ROW_STT"]) for u in units] == list(range(1, len(units) + 1))
    scores = [float(u["TONG_SCORE"]) for u in units]
    assert scores == sorted(scores, reverse=True)
    wards = {u["MA_COQUAN"]: u for u in units if u["CAPDONVIID"] == "2"}
    for unit in spec.units:
        if unit.ma_coquan:
            assert wards[unit.ma_coquan]["TEN"] == unit.name
    row = wards[spec.unit("phuong-3").ma_coquan or ""]
    groups = sum(float(row[g]) for g in ("CKMB", "TDGQ", "TTTT", "CLGQ", "MDHL", "MDSH"))
    assert abs(groups - float(row["TONG_SCORE"])) < 0.02


def test_a_period_after_the_as_of_date_is_empty(simulation: Simulation) -> None:
    with national_client(simulation) as client:
        assert rest(client, service="report_tinh_766_service", p_nam="2023", p_thang=12, p_tinh_id=0) == []


def test_monthly_summary_has_the_dvcqg_fields_as_strings(simulation: Simulation, spec: WorldSpec) -> None:
    with national_client(simulation) as client:
        rows = rest(client, service="report_by_month_sum_service", p_nam="2023", p_thang=6,
                    p_huyen_id=spec.city.national_id)  # fmt: skip
    assert all_strings(rows)
    fields = {"HS_TOTAL", "DB_TOTAL", "HTN_TRUCTIEP_TOTAL", "HTN_BUUCHINH_TOTAL", "HTN_TRUCTUYEN_TOTAL", "HTDH_TOTAL",
              "HTQH_TOTAL", "DXLTH_TOTAL", "DXLQH_TOTAL", "GDTT_TOTAL", "GDTTQG_TOTAL", "GDTTDP_TOTAL", "NTTDXLTH_TOTAL",
              "NTTDXLQH_TOTAL", "TILE", "TILE_DB"}  # fmt: skip
    assert all(fields <= set(r) for r in rows)
    for r in rows:
        received = sum(int(r[f]) for f in ("HTN_TRUCTIEP_TOTAL", "HTN_BUUCHINH_TOTAL", "HTN_TRUCTUYEN_TOTAL"))
        assert int(r["HS_TOTAL"]) == received
    assert {r["ID"] for r in rows} == {spec.city.national_id} | {
        u.national_id for u in spec.units if u.national_id
    }


def test_by_field_summary_adds_up_to_the_monthly_summary(simulation: Simulation, spec: WorldSpec) -> None:
    with national_client(simulation) as client:
        monthly = rest(client, service="report_by_month_sum_service", p_nam="2023", p_thang=3,
                       p_huyen_id=spec.city.national_id)  # fmt: skip
        fields = rest(client, service="report_tthc_tilexulyhs_service", p_nam="2023", p_thang=3,
                      p_donvi_id=spec.city.national_id)  # fmt: skip
    city = next(r for r in monthly if r["ID"] == spec.city.national_id)
    assert sum(int(f["HS_TOTAL"]) for f in fields) == int(city["HS_TOTAL"])
    assert {f["TEN_LINHVUC"] for f in fields} <= {n for u in spec.units for n in u.linh_vuc}


def test_procedure_search_pages_with_row_numbers_and_amount(simulation: Simulation, spec: WorldSpec) -> None:
    level = spec.impl_level_ids["xa"]
    with national_client(simulation) as client:
        first = rest(client, service="procedure_advanced_search_service_v2", keyword="", agency_type=0,
                     impl_agency_id=-1, object_id=-1, field_id=-1, impl_level_id=level, recordPerPage=10,
                     pageIndex=1, is_connected=0)  # fmt: skip
        total = int(first[0]["AMOUNT"])
        rows = []
        for page in range(1, -(-total // 10) + 1):
            rows += rest(client, service="procedure_advanced_search_service_v2", impl_level_id=level,
                         recordPerPage=10, pageIndex=page)  # fmt: skip
    assert all_strings(rows)
    assert [int(r["ROW_STT"]) for r in rows] == list(range(1, total + 1))
    assert {r["IMPLEMENTATION_AGENCY"] for r in rows} == {"Ủy ban nhân dân cấp xã"}
    assert len({r["PROCEDURE_CODE"] for r in rows}) == total


def test_full_text_search_uses_the_solr_envelope(simulation: Simulation) -> None:
    with national_client(simulation) as client:
        body = {
            "type": "fts",
            "source_data": "thu_tuc_v1",
            "key_search": '"khai sinh"',
            "page_size": "10",
            "start_row": "0",
        }
        result = client.post("/jsp/rest.jsp", data={"params": json.dumps(body)}).json()
    assert result["response"]["numFound"] >= 1
    assert all("khai sinh" in d["ten_thu_tuc"].lower() for d in result["response"]["docs"])


@pytest.mark.parametrize(
    "group", ["tonghop", "congkhaiminhbach", "tiendogiaiquyet", "dvctructuyen", "mucdohailong", "mucdosohoa"]
)
def test_dashboard_pages_are_shells_with_the_select2_picker(simulation: Simulation, group: str) -> None:
    html = loopback.get(simulation.url("dvc_quocgia") + f"/p/home/dvc-index-tinhthanhpho-{group}.html").text
    soup = BeautifulSoup(html, "lxml")
    assert soup.select_one("select#tinhtp option[value='0']").get_text() == "Tất cả"  # type: ignore[union-attr]
    assert any(o.get_text() == "Tỉnh Tây Ninh" for o in soup.select("select#tinhtp option"))
    assert soup.select_one("#select2-tinhtp-container") is not None
    assert [th.get_text() for th in soup.select("table thead th")] == ["Hạng", "Đơn vị", "Điểm"]
    assert soup.select("table tbody tr") == []  # a plain fetch sees an empty table


def test_write_services_are_traps(make_simulation: Any) -> None:
    with make_simulation() as sim, national_client(sim) as client:
        rest(client, service="dvcqg_nop_ho_so_service")
        assert sim.trap_calls() == {"dvc_quocgia": ["POST /jsp/rest.jsp"]}


def test_the_766_list_of_the_province_has_the_city_among_its_districts(
    simulation: Simulation, spec: WorldSpec
) -> None:
    with national_client(simulation) as client:
        rows = rest(client, service="report_tinh_766_service", p_nam="2023", p_6thang=0, p_quy=0, p_thang=0,
                    p_tinh_id=simulation.world.province_id, pageIndex=1, pageSize=200)  # fmt: skip
    districts = [r for r in rows if r["CAPDONVIID"] == "3"]
    assert len(districts) == 9 and spec.city.name in {r["TEN"] for r in districts}
