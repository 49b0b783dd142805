"""The procedures probe against the simulated portals over real HTTP, with a real evidence store.

A crawl of every inspected unit must find exactly the ground truth; a drifted API must leave parse failures,
never zero procedures; the parser must read saved bodies alone, as `cchc reparse` will.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import loopback
import pytest
from probe_helpers import FullCrawl
from sqlmodel import Session, select

from cchc.settings import Settings, Unit
from cli.simlink import point_at
from cli.wiring import fetch_policy
from conftest import SimulationFactory
from crawler import HttpFetcher, Target, host_key
from evidence import EvidenceStore, Observation, ParseFailure, Snapshot, SnapshotBlob
from probes import PROBES, Found, LayoutNotRecognised, SnapshotView
from probes._national import rest_target
from probes._runner import CrawlReport, crawl
from probes._session import view_of
from probes.procedures import (
    ELEMENT_COLUMNS,
    NAME,
    PROBE,
    Level,
    detail_target,
    list_target,
    reference_params,
    rendered_list_target,
)
from sim import FaultSpec, Simulation
from sim.world import ELEMENTS

DASHBOARD = "/p/home/dvc-index-tinhthanhpho-tonghop.html"


# --- harness -------------------------------------------------------------------------------------------------


def sim_settings(settings: Settings, simulation: Simulation) -> Settings:
    """The real config, pointed at the simulation, with politeness delays off."""
    pointed = point_at(settings, simulation.urls)
    politeness = pointed.politeness.model_copy(update={"min_delay_s": 0.0, "latency_factor": 0.0})
    return pointed.model_copy(update={"politeness": politeness})


@dataclass
class Crawled:
    settings: Settings
    store: EvidenceStore
    report: CrawlReport
    traps: dict[str, list[str]]  # the simulation's trap log after the crawl

    def rows(self, model: type[Any]) -> list[Any]:
        """The procedures probe's rows (a crawl may have other probes' too)."""
        with Session(self.store.engine) as session:
            query = select(model)
            if model is SnapshotBlob:
                query = query.join(Snapshot).where(Snapshot.probe == NAME)
            elif model in (Snapshot, Observation, ParseFailure):
                query = query.where(model.probe == NAME)
            return list(session.exec(query).all())

    def observations(self, metric: str) -> list[Observation]:
        return [o for o in self.rows(Observation) if o.metric == metric]


def run_crawl(
    settings: Settings,
    simulation: Simulation,
    folder: Path,
    units: Sequence[Unit],
    *,
    with_browser: bool = False,
) -> Crawled:
    pointed = sim_settings(settings, simulation)
    store = EvidenceStore.open(f"sqlite:///{folder}/e.sqlite3", folder / "blobs", folder / "k.pem")
    report = asyncio.run(
        crawl(pointed, store, [PROBE], units, policy=fetch_policy(pointed), with_browser=with_browser)
    )
    return Crawled(pointed, store, report, simulation.trap_calls())


@pytest.fixture(scope="module")
def crawled(
    settings: Settings, full_crawl: FullCrawl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crawled]:
    """A copy of the run's crawl of every inspected unit (every probe, procedures among them), made on a
    simulation of its own, so its trap log is this crawl's."""
    target, store = full_crawl.copy(settings, tmp_path_factory.mktemp("procedures"))
    yield Crawled(target, store, full_crawl.report, full_crawl.traps)
    store.close()


def view_from(target: Target, response: httpx.Response, unit: str | None = None) -> SnapshotView:
    """A snapshot view built by hand from a request we made and the bytes the site answered."""
    return SnapshotView(
        url=target.url,
        method=target.method,
        request_headers=target.headers,
        request_body=target.body,
        status=response.status_code,
        headers=tuple(response.headers.items()),
        body=response.content,
        unit=unit if unit is not None else target.unit,
    )


def fetch(target: Target, client: httpx.Client | None = None) -> httpx.Response:
    send = client.request if client is not None else httpx.request
    response = send(target.method, target.url, content=target.body, headers=dict(target.headers))
    assert response.status_code == 200, target.url
    return response


def literal_list_view(
    settings: Settings, body: Any, donvi_id: int = 356, unit: str | None = "phuong-3"
) -> SnapshotView:
    target = list_target(settings, donvi_id, 1, unit)
    return SnapshotView(
        url=target.url,
        method="POST",
        request_headers=target.headers,
        request_body=target.body,
        headers=(("Content-Type", "application/json; charset=utf-8"),),
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        unit=unit,
    )


def metric(parsed: list[Found], name: str) -> list[Found]:
    return [f for f in parsed if f.metric == name]


SECTION_6_ROW = {
    "ThuTucHanhChinhID": 4797, "MaThuTuc": "1.001612", "TenThuTuc": "Đăng ký khai sinh", "LinhVucID": 31,
    "TenLinhVuc": "Hộ tịch", "DonViID": 356, "TenDonVi": "UBND Phường 3", "CapThucHien": "Cấp xã",
    "MucDo": "4", "MucDoDVC": "Toàn trình", "TotalCount": 137,
}  # fmt: skip


def envelope(
    rows: list[dict[str, Any]], result: str = "DICHVUCONG_THUTUCHANHCHINH_PResult"
) -> dict[str, Any]:
    return {"status": 1, "message": "", "data": {"data": {result: rows}}}


# --- a whole crawl against the ground truth -----------------------------------------------------------------


def test_every_unit_finds_what_the_ground_truth_says(crawled: Crawled, truth: dict[str, Any]) -> None:
    listed: dict[str, list[Observation]] = defaultdict(list)
    for o in crawled.observations("tthc"):
        listed[o.unit or ""].append(o)
    complete: dict[str, set[str]] = defaultdict(set)
    detailed: Counter[str] = Counter()
    for o in crawled.observations("tthc_detail"):
        detailed[o.unit or ""] += 1
        if o.value == 1:
            complete[o.unit or ""].add(o.attributes["code"])
    reference: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for o in crawled.observations("tthc_reference"):
        reference[o.attributes["level"]].add((o.attributes["field"], o.attributes["code"]))

    for unit in crawled.settings.units_in_inspection():
        expected = truth["units"][unit.id]["procedures"]
        mine = listed[unit.id]
        if expected is None:  # a phòng without lĩnh vực: no procedure is attributed to it
            assert unit.kind == "phong" and not unit.dvc_linh_vuc and mine == []
            continue
        codes = {o.attributes["code"] for o in mine}
        levels = Counter(o.attributes["level"] for o in mine)
        if unit.kind == "phong":
            refs = {code for field, code in reference["huyen"] if field in unit.dvc_linh_vuc}
        else:
            refs = {code for _, code in reference["xa"]}
        assert len(mine) == expected["tthc_listed"], unit.id
        for level in ("toan_trinh", "mot_phan", "cung_cap_thong_tin"):
            assert levels[level] == expected[f"tthc_{level}"], (unit.id, level)
        assert dict(sorted(Counter(o.attributes["field"] for o in mine).items())) == expected["by_field"], (
            unit.id
        )
        assert detailed[unit.id] == len(mine), unit.id  # every listed procedure's detail was read
        assert len(complete[unit.id]) == expected["tthc_complete_7"], unit.id
        assert len(refs) == expected["tthc_reference"], unit.id
        assert sorted(refs - codes) == expected["reference_missing"], unit.id
        assert len(refs & complete[unit.id]) == expected["tthc_reference_complete"], unit.id


def test_the_city_list_is_attributed_to_the_phong_by_field(crawled: Crawled) -> None:
    city = crawled.settings.city.dvc_donvi_id
    city_rows = [o for o in crawled.observations("tthc") if o.attributes["donvi_id"] == city]
    assert city_rows
    for o in city_rows:
        phong = crawled.settings.unit_by_id(o.unit or "")
        assert phong.kind == "phong"
        assert o.attributes["field"] in phong.dvc_linh_vuc
        assert o.attributes["attribution"] == "linh_vuc"
    pages = [o for o in crawled.observations("tthc_list_page") if o.attributes["donvi_id"] == city]
    assert pages and all(o.unit is None for o in pages)


def test_lists_are_paged_until_total_count_rows_are_seen(crawled: Crawled, truth: dict[str, Any]) -> None:
    size = crawled.settings.sources.dvc_tinh.page_size
    for unit in crawled.settings.units_in_inspection():
        if unit.kind == "phong":
            continue
        pages = sorted(
            (o for o in crawled.observations("tthc_list_page") if o.unit == unit.id),
            key=lambda o: o.attributes["page"],
        )
        total = truth["units"][unit.id]["procedures"]["tthc_listed"]
        assert [o.attributes["page"] for o in pages] == list(range(1, -(-total // size) + 1)), unit.id
        assert {o.attributes["total_count"] for o in pages} == {total}
        assert {o.attributes["page_size"] for o in pages} == {size}
        assert sum(o.value or 0 for o in pages) == total


def test_every_observation_rests_on_a_stored_snapshot(crawled: Crawled) -> None:
    snapshots = {s.id: s for s in crawled.rows(Snapshot)}
    observations = crawled.rows(Observation)
    assert observations
    assert all(o.snapshot_id in snapshots and o.parser == NAME for o in observations)
    for o in observations:
        snapshot = snapshots[o.snapshot_id]
        assert snapshot.probe == NAME and snapshot.valid
        if o.metric == "tthc":
            assert snapshot.method == "POST" and snapshot.url.endswith("/api/dvc/GetDanhSachTTHCDVC")
        if o.metric == "tthc_reference":
            assert snapshot.url.endswith(crawled.settings.sources.dvc_quocgia.rest_path)
    assert crawled.rows(ParseFailure) == []
    assert crawled.report.counts.parse_failures == 0
    assert crawled.report.counts.failures == []


def test_stored_evidence_alone_gives_the_same_observations(crawled: Crawled) -> None:
    """What `cchc reparse` relies on: the stored request, response and unit are enough to parse again."""
    from probes._reparse import stored_view

    def key(o: Observation | Found) -> str:
        value = None if o.value is None else float(o.value)  # the database keeps a float
        return json.dumps([o.metric, o.unit, o.period, value, o.text, dict(o.attributes)], sort_keys=True)

    stored: dict[int, list[str]] = defaultdict(list)
    for o in crawled.rows(Observation):
        stored[o.snapshot_id].append(key(o))
    links: dict[int, list[SnapshotBlob]] = defaultdict(list)
    for link in crawled.rows(SnapshotBlob):
        links[link.snapshot_id].append(link)
    for snapshot in crawled.rows(Snapshot):
        assert snapshot.id is not None
        view = stored_view(crawled.store, snapshot, links[snapshot.id])
        again = [key(f) for f in PROBE.parse(view, crawled.settings).found]
        assert sorted(again) == sorted(stored[snapshot.id]), snapshot.url


def test_a_crawl_never_calls_a_trap(crawled: Crawled) -> None:
    traps = crawled.traps
    assert "dvc_tinh" not in traps
    assert "dvc_quocgia" not in traps


def test_list_requests_are_byte_stable_across_runs(settings: Settings) -> None:
    first, second = list_target(settings, 356, 2, "phuong-3"), list_target(settings, 356, 2, "phuong-3")
    assert first.body == second.body and first.key == second.key
    assert first.key != list_target(settings, 356, 3, "phuong-3").key


# --- loud failure ---------------------------------------------------------------------------------------------


def test_a_drifted_dvc_api_is_a_parse_failure_not_zero_procedures(
    settings: Settings, make_simulation: SimulationFactory, truth: dict[str, Any], tmp_path: Path
) -> None:
    units = [settings.unit_by_id("phuong-1"), settings.unit_by_id("phong-tu-phap")]
    with make_simulation(FaultSpec("dvc_tinh", "drift")) as simulation:
        crawled = run_crawl(settings, simulation, tmp_path, units)
        dvc_host = host_key(simulation.url("dvc_tinh"))
    snapshots = {s.id: s for s in crawled.rows(Snapshot)}
    failures = crawled.rows(ParseFailure)
    list_snapshots = [s for s in snapshots.values() if s.url.endswith("GetDanhSachTTHCDVC")]
    assert len(list_snapshots) == 2  # page 1 of the ward and of the city; nothing after a failure
    list_failures = [f for f in failures if f.parser == "procedures/dvc-list"]
    assert {f.snapshot_id for f in list_failures} == {s.id for s in list_snapshots}
    # The city's fields and the directory are in the same drifted envelope: failures too, never empty lists.
    assert {f.parser for f in failures} == {
        "procedures/dvc-list",
        "procedures/dvc-fields",
        "procedures/dvc-directory",
    }
    for failure in list_failures:
        assert dvc_host in failure.reason
        assert "DICHVUCONG_THUTUCHANHCHINH_PResult" in failure.reason
    assert crawled.observations("tthc") == []
    assert crawled.observations("tthc_list_page") == []
    assert not any("GetChiTietTTHC" in s.url for s in snapshots.values())
    # The national walk is another site: unaffected.
    reference = crawled.observations("tthc_reference")
    xa = {o.attributes["code"] for o in reference if o.attributes["level"] == "xa"}
    tu_phap = settings.unit_by_id("phong-tu-phap").dvc_linh_vuc
    huyen = {
        o.attributes["code"]
        for o in reference
        if o.attributes["level"] == "huyen" and o.attributes["field"] in tu_phap
    }
    assert len(xa) == truth["units"]["phuong-1"]["procedures"]["tthc_reference"]
    assert len(huyen) == truth["units"]["phong-tu-phap"]["procedures"]["tthc_reference"]
    crawled.store.close()


def test_a_drifted_envelope_raises_naming_the_host(settings: Settings) -> None:
    drifted = {"Success": True, "Result": {"Items": [{"id": 4797, "code": "1.001612"}], "Total": 1}}
    view = literal_list_view(settings, drifted)
    with pytest.raises(LayoutNotRecognised) as caught:
        PROBE.parse(view, settings)
    assert caught.value.parser == "dvc-list"
    assert host_key(settings.sources.dvc_tinh.base_url) in caught.value.reason
    assert "'Result', 'Success'" in caught.value.reason


def test_a_status_other_than_1_is_a_failure_not_an_empty_list(settings: Settings) -> None:
    view = literal_list_view(settings, {"status": 0, "message": "Dữ liệu không hợp lệ", "data": None})
    with pytest.raises(LayoutNotRecognised, match="status 0"):
        PROBE.parse(view, settings)


@pytest.mark.parametrize("key", ["ThuTucHanhChinhID", "TenThuTuc", "MucDo", "TotalCount"])
def test_a_row_without_a_needed_column_is_a_failure(settings: Settings, key: str) -> None:
    row = {k: v for k, v in SECTION_6_ROW.items() if k != key}
    with pytest.raises(LayoutNotRecognised, match=key):
        PROBE.parse(literal_list_view(settings, envelope([row])), settings)


def test_an_unknown_mucdo_code_is_a_failure(settings: Settings) -> None:
    row = {**SECTION_6_ROW, "MucDo": "7"}
    with pytest.raises(LayoutNotRecognised, match="MucDo '7'"):
        PROBE.parse(literal_list_view(settings, envelope([row])), settings)


def test_a_rest_answer_that_is_not_an_array_raises_naming_the_host(settings: Settings) -> None:
    target = _reference_target(settings, "xa", 1)
    view = SnapshotView(
        url=target.url,
        method="POST",
        request_headers=target.headers,
        request_body=target.body,
        body=b'{"code": 0, "result": {"rows": []}}',
    )
    with pytest.raises(LayoutNotRecognised) as caught:
        PROBE.parse(view, settings)
    assert caught.value.parser == "national-reference"
    assert host_key(settings.sources.dvc_quocgia.base_url) in caught.value.reason
    assert "array of records" in caught.value.reason


def test_a_detail_with_renamed_columns_is_a_failure_not_an_incomplete_procedure(settings: Settings) -> None:
    target = detail_target(settings, 4797, "phuong-3")
    body = envelope([{"ThuTucHanhChinhID": 4797, "MaThuTuc": "1.001612", "Ten": "Đăng ký khai sinh"}],
                    "DICHVUCONG_CHITIETTTHC_PResult")  # fmt: skip
    view = SnapshotView(url=target.url, body=json.dumps(body).encode(), unit="phuong-3")
    with pytest.raises(LayoutNotRecognised, match="TrinhTuThucHien"):
        PROBE.parse(view, settings)


def test_a_row_with_only_the_publicly_seen_fields_is_read_and_says_what_it_lacks(settings: Settings) -> None:
    public = {k: SECTION_6_ROW[k] for k in ("ThuTucHanhChinhID", "TenThuTuc", "MucDo", "DonViID", "LinhVucID",
                                             "TotalCount")}  # fmt: skip
    found = PROBE.parse(literal_list_view(settings, envelope([public])), settings).found
    (row,) = metric(found, "tthc")
    assert (row.unit, row.attributes["code"], row.attributes["field"]) == ("phuong-3", None, None)
    assert row.attributes["level"] == "toan_trinh" and row.attributes["field_id"] == 31
    (page,) = metric(found, "tthc_list_page")
    assert page.attributes["fields_absent"] == ["MaThuTuc", "TenDonVi", "TenLinhVuc"]


def test_a_city_row_is_attributed_by_its_configured_field_id(settings: Settings) -> None:
    city = settings.city.dvc_donvi_id
    tu_phap = settings.unit_by_id("phong-tu-phap")
    configured = settings.model_copy(update={"unit": [
        u.model_copy(update={"dvc_linh_vuc_ids": {"Hộ tịch": 31}}) if u.id == tu_phap.id else u
        for u in settings.unit]})  # fmt: skip
    row = {"ThuTucHanhChinhID": 1, "TenThuTuc": "Đăng ký khai sinh", "MucDo": "4", "DonViID": city,
           "LinhVucID": 31, "TotalCount": 1}  # fmt: skip
    view = literal_list_view(settings, envelope([row]), donvi_id=city)
    (found,) = metric(PROBE.parse(view, configured).found, "tthc")
    assert (found.unit, found.attributes["attribution"]) == ("phong-tu-phap", "linh_vuc_id")
    (unattributed,) = metric(PROBE.parse(view, settings).found, "tthc")
    assert (unattributed.unit, unattributed.attributes["attribution"]) == (None, "unattributed")


def test_a_snapshot_of_another_kind_is_not_read_as_procedures(settings: Settings) -> None:
    view = SnapshotView(url=settings.sources.dvc_tinh.base_url + "/api/dvc/GetAllTinhTrang")
    with pytest.raises(LayoutNotRecognised, match="not a snapshot this probe reads"):
        PROBE.parse(view, settings)


# --- parse() on saved bodies ---------------------------------------------------------------------------------


def _reference_target(settings: Settings, level: Level, page: int) -> Target:
    return rest_target(settings, reference_params(settings, level, page), probe=NAME)


def test_a_saved_list_page_parses_to_its_procedures(
    settings: Settings, simulation: Simulation, truth: dict[str, Any]
) -> None:
    pointed = sim_settings(settings, simulation)
    target = list_target(pointed, 356, 1, "phuong-3")
    view = view_from(target, fetch(target))
    found = PROBE.parse(view, pointed).found
    rows, pages = metric(found, "tthc"), metric(found, "tthc_list_page")
    listed = truth["units"]["phuong-3"]["procedures"]["tthc_listed"]
    assert len(rows) == min(listed, pointed.sources.dvc_tinh.page_size)
    assert {r.unit for r in rows} == {"phuong-3"}
    assert all(r.period == "instant" and r.value == 1 and r.text for r in rows)
    mucdo = pointed.sources.dvc_tinh.mucdo_map
    assert all(r.attributes["level"] == mucdo[r.attributes["mucdo"]] for r in rows)
    assert all(r.attributes["donvi_id"] == 356 and r.attributes["attribution"] == "donvi" for r in rows)
    (page,) = pages
    assert page.unit == "phuong-3" and page.value == len(rows)
    assert page.attributes == {"donvi_id": 356, "page": 1, "page_size": 50, "total_count": listed,
                               "fields_absent": []}  # fmt: skip
    # The unit comes from the request's DonViID, not from whatever the capture was labelled with.
    assert PROBE.parse(view_from(target, fetch(target), unit="somewhere-else"), pointed).found == found


def test_the_section_6_row_with_mucdo_4_is_toan_trinh(settings: Settings) -> None:
    found = PROBE.parse(literal_list_view(settings, envelope([SECTION_6_ROW])), settings).found
    (row,) = metric(found, "tthc")
    assert row.unit == "phuong-3"
    assert row.text == "Đăng ký khai sinh"
    assert row.attributes == {
        "code": "1.001612",
        "procedure_id": 4797,
        "field": "Hộ tịch",
        "field_id": 31,
        "level": "toan_trinh",
        "mucdo": "4",
        "donvi_id": 356,
        "attribution": "donvi",
    }
    assert metric(found, "tthc_list_page")[0].attributes["total_count"] == 137


def test_city_rows_go_to_the_phong_of_their_field_or_to_no_one(settings: Settings) -> None:
    city = settings.city.dvc_donvi_id
    rows = [
        {**SECTION_6_ROW, "DonViID": city, "TenLinhVuc": "Hộ tịch"},
        {**SECTION_6_ROW, "DonViID": city, "ThuTucHanhChinhID": 4798, "TenLinhVuc": "Lĩnh vực chưa giao"},
    ]
    found = PROBE.parse(literal_list_view(settings, envelope(rows), city, None), settings).found
    attributed, orphan = metric(found, "tthc")
    assert (attributed.unit, attributed.attributes["attribution"]) == ("phong-tu-phap", "linh_vuc")
    assert (orphan.unit, orphan.attributes["attribution"]) == (None, "unattributed")
    assert metric(found, "tthc_list_page")[0].unit is None


def test_an_empty_list_with_status_1_is_a_real_zero(settings: Settings, simulation: Simulation) -> None:
    pointed = sim_settings(settings, simulation)
    target = list_target(pointed, 999, 1, None)  # a DonViID that lists nothing
    found = PROBE.parse(view_from(target, fetch(target)), pointed).found
    assert metric(found, "tthc") == []
    (page,) = metric(found, "tthc_list_page")
    assert page.value == 0 and page.attributes["total_count"] == 0


def test_a_saved_detail_names_the_parts_not_published(settings: Settings, simulation: Simulation) -> None:
    pointed = sim_settings(settings, simulation)
    procedures = simulation.world.procedures[356]
    incomplete = next(p for p in procedures if not p.complete)
    complete = next(p for p in procedures if p.complete)
    with httpx.Client() as client:
        for procedure in (incomplete, complete):
            target = detail_target(pointed, procedure.id, "phuong-3")
            (detail,) = PROBE.parse(view_from(target, fetch(target, client)), pointed).found
            absent = [name for name, present in zip(ELEMENTS, procedure.elements, strict=True) if not present]
            assert detail.metric == "tthc_detail" and detail.unit == "phuong-3"
            assert detail.value == (0 if absent else 1)
            assert detail.attributes == {
                "code": procedure.code,
                "procedure_id": procedure.id,
                "missing": absent,
            }
    assert list(ELEMENT_COLUMNS) == list(ELEMENTS)


def test_a_saved_reference_page_parses_to_national_procedures(
    settings: Settings, simulation: Simulation, truth: dict[str, Any]
) -> None:
    pointed = sim_settings(settings, simulation)
    national = pointed.sources.dvc_quocgia.base_url
    with httpx.Client() as client:
        client.get(national + DASHBOARD)  # the gateway's session cookies
        target = _reference_target(pointed, "xa", 1)
        view = view_from(target, fetch(target, client))
    found = PROBE.parse(view, pointed).found
    rows = metric(found, "tthc_reference")
    amount = truth["units"]["phuong-1"]["procedures"]["tthc_reference"]
    assert len(rows) == min(50, amount)
    assert all(r.unit is None and r.period == "instant" and r.value == 1 and r.text for r in rows)
    assert {r.attributes["level"] for r in rows} == {"xa"}
    assert {r.attributes["amount"] for r in rows} == {amount}
    assert all(r.attributes["code"] and r.attributes["field"] and r.attributes["ministry"] for r in rows)
    (page,) = metric(found, "tthc_reference_page")
    assert page.value == len(rows) and page.attributes["level"] == "xa" and page.attributes["page"] == 1


def test_the_national_cookie_page_holds_no_procedures(settings: Settings) -> None:
    view = SnapshotView(url=settings.sources.dvc_quocgia.base_url + DASHBOARD, body=b"<html></html>")
    assert PROBE.parse(view, settings).found == []


RENDERED = """<html><body><div id="tongSo" class="total">{total}</div>
<table class="table" id="tblThuTuc"><thead><tr><th>STT</th></tr></thead><tbody>{rows}</tbody></table></body></html>"""


def test_the_rendered_list_reports_the_total_it_shows(settings: Settings) -> None:
    target = rendered_list_target(settings, 354, "phuong-1", empty=False)
    rows = "".join(f"<tr class='thutuc-row'><td>{n}</td></tr>" for n in range(1, 21))
    view = SnapshotView(
        url=target.url, render="browser", dom=RENDERED.format(total="Tổng số: 69 thủ tục", rows=rows)
    )
    (found,) = PROBE.parse(view, settings).found
    assert (found.metric, found.unit, found.value) == ("tthc_list_rendered", "phuong-1", 69)
    assert found.attributes == {"donvi_id": 354, "rows_shown": 20}


def test_a_rendered_list_with_no_rows_is_a_zero_when_the_page_says_so(settings: Settings) -> None:
    target = rendered_list_target(settings, 354, "phuong-1", empty=True)
    view = SnapshotView(
        url=target.url, render="browser", dom=RENDERED.format(total="Tổng số: 0 thủ tục", rows="")
    )
    (found,) = PROBE.parse(view, settings).found
    assert found.value == 0 and found.attributes["rows_shown"] == 0


def test_the_unfilled_shell_is_a_failure_not_a_zero(settings: Settings, simulation: Simulation) -> None:
    pointed = sim_settings(settings, simulation)
    target = rendered_list_target(pointed, 354, "phuong-1", empty=False)
    response = loopback.get(target.url)
    view = SnapshotView(url=target.url, body=response.content, headers=tuple(response.headers.items()))
    with pytest.raises(LayoutNotRecognised, match="no 'Tổng số: N thủ tục' total"):
        PROBE.parse(view, pointed)


# --- jobs -------------------------------------------------------------------------------------------------------


def test_jobs_follow_the_units_asked_for(settings: Settings) -> None:
    everyone = settings.units_in_inspection()
    wards = [u for u in everyone if u.kind != "phong"]
    phong = [u for u in everyone if u.kind == "phong"]
    names = {job.name for job in PROBE.jobs(settings, everyone)}
    assert names == {f"{u.id}/list" for u in wards} | {
        "city/list",
        "directory",
        "reference/xa",
        "reference/huyen",
    }
    assert {job.name for job in PROBE.jobs(settings, wards[:1])} == {
        f"{wards[0].id}/list",
        "directory",
        "reference/xa",
    }
    city_jobs = PROBE.jobs(settings, phong[:2])
    assert {job.name for job in city_jobs} == {"city/list", "directory", "reference/huyen"}
    assert all(job.units == tuple(u.id for u in phong[:2]) for job in city_jobs)
    assert PROBES[NAME] is PROBE


# --- the browser ------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_rendered_list_page_is_kept_with_its_dom_and_screenshot(
    settings: Settings, simulation: Simulation, truth: dict[str, Any], tmp_path: Path
) -> None:
    try:
        from crawler.browser import BrowserRenderer
        from crawler.chromium import find_chromium
    except ImportError as exc:
        pytest.skip(f"the browser renderer (crawler/browser.py) is not importable yet: {exc}")
    find_chromium(settings.browser.executable)  # names the install command when Chromium is missing
    crawled = run_crawl(settings, simulation, tmp_path, [settings.unit_by_id("phuong-1")], with_browser=True)
    (rendered,) = crawled.observations("tthc_list_rendered")
    assert rendered.unit == "phuong-1"
    assert rendered.value == truth["units"]["phuong-1"]["procedures"]["tthc_listed"]
    assert rendered.attributes["rows_shown"] == 20
    snapshot = next(s for s in crawled.rows(Snapshot) if s.id == rendered.snapshot_id)
    assert snapshot.render == "browser" and snapshot.outcome == "ok"
    roles = {link.role for link in crawled.store.blob_links(snapshot.id or 0)}
    assert {"dom", "screenshot"} <= roles
    crawled.store.close()

    async def render_empty() -> SnapshotView:
        async with (
            HttpFetcher(fetch_policy(crawled.settings)) as fetcher,
            BrowserRenderer(fetcher) as browser,
        ):
            return view_of(
                await browser.render(rendered_list_target(crawled.settings, 999, None, empty=True))
            )

    empty = asyncio.run(render_empty())
    (zero,) = PROBE.parse(empty, crawled.settings).found
    assert zero.value == 0 and zero.attributes["rows_shown"] == 0
