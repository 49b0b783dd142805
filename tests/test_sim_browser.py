"""The JavaScript-filled pages show their data in real Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

from typing import Any

import pytest

from sim import Simulation

pytestmark = pytest.mark.browser


def test_dvc_procedure_list_is_filled_by_javascript(
    simulation: Simulation, browser: Any, truth: dict[str, Any]
) -> None:
    page = browser.new_page()
    try:
        with page.expect_response(lambda r: "GetDanhSachTTHCDVC" in r.url) as api:
            page.goto(simulation.url("dvc_tinh") + "/thu-tuc-hanh-chinh?DonViID=356&PageSize=20")
        assert api.value.json()["status"] == 1
        page.wait_for_selector("#tblThuTuc tbody tr.thutuc-row")
        rows = page.locator("#tblThuTuc tbody tr.thutuc-row")
        total = truth["units"]["phuong-3"]["procedures"]["tthc_listed"]
        assert rows.count() == min(20, total)
        assert page.inner_text("#tongSo") == f"Tổng số: {total} thủ tục"
        assert page.locator("#phanTrang li").count() == -(-total // 20)
        assert page.locator("#ddlDonVi option").count() > 10
    finally:
        page.close()


def test_766_dashboard_table_is_filled_after_choosing_the_province(
    simulation: Simulation, browser: Any
) -> None:
    page = browser.new_page()
    try:
        page.goto(simulation.url("dvc_quocgia") + "/p/home/dvc-index-tinhthanhpho-tonghop.html")
        page.wait_for_selector("#tblChiSo tbody tr")
        assert page.locator("#tblChiSo tbody tr").count() == 63  # "Tất cả": the provinces
        province = simulation.world.province_id
        with page.expect_response(lambda r: r.url.endswith("/jsp/rest.jsp")) as report:
            page.select_option("#tinhtp", province, force=True)  # select2 hides the real select
        rows = report.value.json()
        page.wait_for_function(f"document.querySelectorAll('#tblChiSo tbody tr').length === {len(rows)}")
        assert page.inner_text("#select2-tinhtp-container") == "Tỉnh Tây Ninh"
        first = page.locator("#tblChiSo tbody tr").first.locator("td").all_inner_texts()
        assert first == [rows[0]["ROW_STT"], rows[0]["TEN"], rows[0]["TONG_SCORE"]]
        names = page.locator("#tblChiSo tbody tr td:nth-child(2)").all_inner_texts()
        assert "UBND Phường IV" in names
    finally:
        page.close()


def test_group_dashboard_shows_the_group_score(simulation: Simulation, browser: Any) -> None:
    page = browser.new_page()
    try:
        with page.expect_response(lambda r: r.url.endswith("/jsp/rest.jsp")) as report:
            page.goto(simulation.url("dvc_quocgia") + "/p/home/dvc-index-tinhthanhpho-congkhaiminhbach.html")
        rows = report.value.json()
        page.wait_for_selector("#tblChiSo tbody tr")
        first = page.locator("#tblChiSo tbody tr").first.locator("td").all_inner_texts()
        assert first[2] == rows[0]["CKMB"]
    finally:
        page.close()
