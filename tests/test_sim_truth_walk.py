"""The ground truth equals what the simulated pages show: this test walks every page and recounts.

It is a deliberately plain crawler of its own (no cchc-watch code), so a bug in the generator, the sites
or the truth shows up as a mismatch here rather than being shared by both sides.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import httpx
import loopback
from bs4 import BeautifulSoup

from cchc.settings import Settings
from sim import Simulation

DASHBOARD = "/p/home/dvc-index-tinhthanhpho-tonghop.html"
LIST_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4}) \d{2}:\d{2}:\d{2}")


def walk_category(client: httpx.Client, base: str, category: str) -> list[tuple[str, str]]:
    """Every (title, month) on a category's pages, following ul.pagination to the last page."""
    found: list[tuple[str, str]] = []
    url: str | None = f"{base}/vi/news/{category}/"
    visited: set[str] = set()
    while url is not None and url not in visited:
        visited.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        soup = BeautifulSoup(response.text, "lxml")
        for body in soup.select("div.news_column > div.panel > div.panel-body"):
            title = body.select_one("h2 > a, h3 > a")["title"]  # type: ignore[index]
            _day, month, year = LIST_DATE.search(body.select_one("em.fa-clock-o").parent.get_text()).groups()  # type: ignore[union-attr]
            found.append((unicodedata.normalize("NFC", str(title)), f"{year}-{month}"))
        active = soup.select_one("ul.pagination li.active")
        following = str(int(active.get_text(strip=True)) + 1) if active else None
        links = {a.get_text(strip=True): a["href"] for a in soup.select("ul.pagination a[href]")}
        url = base + str(links[following]) if following in links else None
    return found


def is_reform(title: str, category: str, cchc_categories: list[str], keywords: list[str]) -> bool:
    return category in cchc_categories or any(
        re.search(r"(?<!\w)" + re.escape(k.casefold()) + r"(?!\w)", title.casefold()) for k in keywords
    )


def test_news_counts_per_unit_and_month_match_the_pages(
    simulation: Simulation, settings: Settings, truth: dict[str, Any]
) -> None:
    with httpx.Client() as client:
        for unit in settings.unit:
            portal = settings.portal_by_id(unit.portal)
            counts: Counter[str] = Counter()
            reform: Counter[str] = Counter()
            for category in unit.news_categories or portal.categories:
                for title, month in walk_category(client, simulation.url(portal.id), category):
                    counts[month] += 1
                    reform[month] += is_reform(
                        title, category, portal.cchc_categories, settings.news.cchc_keywords
                    )
            expected = truth["units"][unit.id]["months"]
            assert {m: c["news_posts"] for m, c in expected.items() if c["news_posts"]} == dict(counts), (
                unit.id
            )
            assert {m: c["news_posts_cchc"] for m, c in expected.items() if c["news_posts_cchc"]} == {
                m: n for m, n in reform.items() if n
            }, unit.id


def dvc_rows(client: httpx.Client, base: str, donvi: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = {
            "DonViID": donvi,
            "LinhVucID": "0",
            "TenThuTuc": "",
            "MucDo": "0",
            "PageNum": page,
            "PageSize": 25,
        }
        data = client.post(
            f"{base}/api/dvc/GetDanhSachTTHCDVC", files={"data": (None, json.dumps(body))}
        ).json()
        batch = data["data"]["data"]["DICHVUCONG_THUTUCHANHCHINH_PResult"]
        rows += batch
        if not batch or len(rows) >= batch[0]["TotalCount"]:
            return rows
        page += 1


def national(client: httpx.Client, **params: Any) -> list[dict[str, str]]:
    response = client.post("/jsp/rest.jsp", data={"params": json.dumps({"type": "ref", **params})})
    response.raise_for_status()
    rows: list[dict[str, str]] = response.json()
    return rows


def test_procedure_counts_match_the_dvc_api_and_the_national_reference(
    simulation: Simulation, settings: Settings, truth: dict[str, Any]
) -> None:
    base = simulation.url("dvc_tinh")
    mucdo = settings.sources.dvc_tinh.mucdo_map
    nbase = simulation.url("dvc_quocgia")
    headers = {"X-Requested-With": "XMLHttpRequest", "Referer": nbase + DASHBOARD}
    with httpx.Client() as client, httpx.Client(base_url=nbase, headers=headers) as nclient:
        nclient.get(DASHBOARD)
        reference: dict[str, set[str]] = {}
        for level, level_id in settings.sources.dvc_quocgia.impl_level_ids.items():
            rows: list[dict[str, str]] = []
            page = 1
            while not rows or len(rows) < int(rows[0]["AMOUNT"]):
                rows += national(nclient, service="procedure_advanced_search_service_v2", impl_level_id=level_id,
                                 recordPerPage=50, pageIndex=page)  # fmt: skip
                page += 1
            reference[level] = {f"{r['FIELD_NAME']}|{r['PROCEDURE_CODE']}" for r in rows}
        city_rows = dvc_rows(client, base, settings.city.dvc_donvi_id)
        for unit in settings.units_in_inspection():
            if unit.kind == "phong":
                listed = [r for r in city_rows if r["TenLinhVuc"] in unit.dvc_linh_vuc]
                refs = {c.split("|")[1] for c in reference["huyen"] if c.split("|")[0] in unit.dvc_linh_vuc}
            else:
                assert unit.dvc_donvi_id is not None
                listed = dvc_rows(client, base, unit.dvc_donvi_id)
                refs = {c.split("|")[1] for c in reference["xa"]}
            complete = 0
            for row in listed:
                detail = client.get(
                    f"{base}/api/dvc/GetChiTietTTHC", params={"ThuTucHanhChinhID": row["ThuTucHanhChinhID"]}
                )
                record = detail.json()["data"]["data"]["DICHVUCONG_CHITIETTTHC_PResult"][0]
                complete += all(v != "" for k, v in record.items())
            levels: Counter[str] = Counter(mucdo[r["MucDo"]] for r in listed)
            expected = truth["units"][unit.id]["procedures"]
            if expected is None:  # a phòng without lĩnh vực: its procedure figures do not apply
                assert unit.kind == "phong" and not unit.dvc_linh_vuc and listed == []
                continue
            assert expected["tthc_listed"] == len(listed), unit.id
            assert expected["tthc_complete_7"] == complete, unit.id
            for online_level in ("toan_trinh", "mot_phan", "cung_cap_thong_tin"):
                assert expected[f"tthc_{online_level}"] == levels[online_level], (unit.id, online_level)
            assert expected["by_field"] == dict(sorted(Counter(r["TenLinhVuc"] for r in listed).items())), (
                unit.id
            )
            assert expected["tthc_reference"] == len(refs), unit.id
            assert expected["reference_missing"] == sorted(refs - {r["MaThuTuc"] for r in listed}), unit.id


FIELD_METRICS = {
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


def test_dossier_counts_and_766_scores_match_the_national_reports(
    simulation: Simulation, settings: Settings, truth: dict[str, Any]
) -> None:
    nbase = simulation.url("dvc_quocgia")
    headers = {"X-Requested-With": "XMLHttpRequest", "Referer": nbase + DASHBOARD}
    city = settings.city.national_id
    seen: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    with httpx.Client(base_url=nbase, headers=headers) as client:
        client.get(DASHBOARD)
        for month in truth["units"]["phuong-1"]["months"]:
            year, number = month.split("-")
            for row in national(
                client,
                service="report_by_month_sum_service",
                p_nam=year,
                p_thang=int(number),
                p_huyen_id=city,
            ):
                seen[row["ID"]][month] = {metric: int(row[field]) for field, metric in FIELD_METRICS.items()}
            by_field = national(
                client,
                service="report_tthc_tilexulyhs_service",
                p_nam=year,
                p_thang=int(number),
                p_donvi_id=city,
            )
            for unit in settings.units_in_inspection():
                if unit.kind == "phong":
                    mine = [r for r in by_field if r["TEN_LINHVUC"] in unit.dvc_linh_vuc]
                    seen[unit.id][month] = {m: sum(int(r[f]) for r in mine) for f, m in FIELD_METRICS.items()}
        provinces = national(
            client, service="report_tinh_766_service", p_nam="2023", p_tinh_id=0, pageSize=100
        )
        province_id = next(
            p["ID"] for p in provinces if p["TEN"].endswith(settings.sources.dvc_quocgia.province_name)
        )
        for unit in settings.units_in_inspection():
            expected_months = truth["units"][unit.id]["months"]
            if unit.kind == "phong":
                got = seen[unit.id] if unit.dvc_linh_vuc else {}
            else:
                got = seen[unit.national_id or ""]
            if unit.kind == "phong" and not unit.dvc_linh_vuc:
                assert all("hs_received" not in cell for cell in expected_months.values())
                continue
            for month, cell in expected_months.items():
                assert {m: cell[m] for m in FIELD_METRICS.values()} == got[month], (unit.id, month)
            for period, scores in truth["units"][unit.id]["i766"].items():
                year = period[:4]
                extra: dict[str, int] = {}
                if "-Q" in period:
                    extra["p_quy"] = int(period[-1])
                elif "-H" in period:
                    extra["p_6thang"] = int(period[-1])
                elif len(period) == 7:
                    extra["p_thang"] = int(period[5:])
                rows = national(
                    client,
                    service="report_tinh_766_service",
                    p_nam=year,
                    p_tinh_id=int(province_id),
                    pageSize=200,
                    **extra,
                )
                row = next(r for r in rows if r["MA_COQUAN"] == unit.ma_coquan)
                assert float(row["TONG_SCORE"]) == scores["i766_score_tong"], (unit.id, period)
                assert float(row["CKMB"]) == scores["i766_score_ckmb"], (unit.id, period)


def test_a_list_date_is_the_local_publication_time(simulation: Simulation) -> None:
    post = simulation.world.posts["phuong-1"][5]
    html = loopback.get(simulation.url("phuong-1") + f"/vi/news/{post.category}/").text
    assert post.published.strftime("%d/%m/%Y %H:%M:%S") in html
    assert post.published.utcoffset() == datetime(2023, 1, 1, tzinfo=post.published.tzinfo).utcoffset()
