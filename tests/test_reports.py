"""The inspectors' pre-visit summary: a real crawl of the simulation (every probe, with Chromium) into a temp
store, then summaries whose sections follow the plan's Đề cương, whose figures equal the indicator table's and
trace to evidence that verifies, whose dead or unreadable sites show N/A with the reason (never zero points),
and which print to PDF with Vietnamese text and embedded fonts, to XLSX, and from `cchc report`.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from PIL import Image
from probe_helpers import open_test_store, pointed, run_probes
from sqlmodel import Session, col, select

import indicators
from cchc.settings import Settings, load_settings
from cli.simlink import world_spec, write_pointed_config
from cli_process import run_cli
from conftest import SimulationFactory
from evidence import EvidenceStore, Observation, Snapshot, SnapshotBlob
from evidence.verify import verify
from reports import (
    PROVIDED_TEXT,
    Summary,
    SummaryInputs,
    build_overview,
    build_summary,
    default_period,
    due_date,
    render_summary,
    vi,
    write_pdf,
    write_xlsx,
)
from reports.model import NOT_AVAILABLE
from reports.summary import SECTIONS
from sim import FaultSpec, Simulation

WARD, PHONG = "phuong-3", "phong-tu-phap"
WARD_VISIT = date(2023, 9, 20)
PERIOD = "2023-01..2023-08"  # January to the last complete month before the first visits (September 2023)
SECTION_KEYS = [key for key, _, _ in SECTIONS]
ALL_PROBES = ["availability", "news", "procedures", "service_stats"]


@dataclass
class Crawled:
    settings: Settings  # aimed at the (stopped) simulation, storage = the temp store
    store: EvidenceStore
    config: Path  # the same settings as a config file, for the CLI
    folder: Path


@pytest.fixture(scope="module")
def crawled(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """One crawl of every probe, with the browser, for a ward and a phòng."""
    folder = tmp_path_factory.mktemp("reports")
    with Simulation(world_spec(settings)) as sim:
        target = pointed(settings, sim)
        store = open_test_store(folder)
        report = run_probes(target, store, ALL_PROBES, [WARD, PHONG], with_browser=True)
        storage = target.storage.model_copy(
            update={"database_url": f"sqlite:///{folder / 'evidence.sqlite3'}", "blob_dir": folder / "blobs"}
        )
        stored = target.model_copy(update={"storage": storage})
        config = folder / "config.toml"
        write_pointed_config(stored, sim.urls, config)
    assert report.status == "completed" and report.counts.parse_failures == 0, report.counts.failures
    try:
        yield Crawled(stored, store, config, folder)
    finally:
        store.close()


@pytest.fixture(scope="module")
def summaries(crawled: Crawled) -> dict[str, Summary]:
    with SummaryInputs.open(
        crawled.settings, engine=crawled.store.engine, blobs=crawled.store.blobs
    ) as inputs:
        return {unit: build_summary(crawled.settings, unit, inputs=inputs) for unit in (WARD, PHONG)}


def _same(a: float | None, b: Any) -> bool:
    if a is None:
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and not (isinstance(b, float) and math.isnan(b)) and math.isclose(a, float(b))


# --- periods and dates (no crawl needed) ------------------------------------------------------------------------


def test_the_default_period_runs_from_january_to_the_last_complete_month_before_the_visit(
    settings: Settings,
) -> None:
    assert default_period(WARD_VISIT) == PERIOD
    assert default_period(date(2024, 1, 15)) == "2023"  # no complete month yet this year: last year
    assert default_period(None) == "ytd"
    assert due_date(settings, WARD_VISIT) == date(2023, 9, 15)  # report_days_before = 5


def test_numbers_dates_and_reasons_read_as_a_vietnamese_document_writes_them() -> None:
    assert (vi.number(1664), vi.number(0.5), vi.number(2.6667)) == ("1.664", "0,5", "2,67")
    assert (vi.points(4), vi.points(1.385), vi.percent(0.92345)) == ("4,00", "1,39", "92,35%")  # half up
    assert vi.day(date(2023, 9, 5)) == "05/09/2023"
    assert vi.compress_ids([8, 1, 2, 3, 5, 7]) == "1–3, 5, 7–8" and vi.compress_ids([]) == "—"
    assert vi.reason("news_posts: 2023-01: the site moved to https://tanninh.tayninh.gov.vn") == (
        "Tháng 01/2023: Trang đã chuyển sang địa chỉ https://tanninh.tayninh.gov.vn"
    )
    assert vi.reason("no denominator in the period (0)") == "Không phát sinh trong kỳ (mẫu số bằng 0)"
    assert vi.reason("an unforeseen reason stays as it is") == "an unforeseen reason stays as it is"


# --- content --------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("unit", [WARD, PHONG])
def test_a_summary_has_every_de_cuong_section_in_order(summaries: dict[str, Summary], unit: str) -> None:
    summary = summaries[unit]
    assert [s.key for s in summary.sections] == SECTION_KEYS
    assert summary.cover.period_key == PERIOD
    assert summary.cover.visit is not None and summary.cover.due == date(2023, 9, 15 if unit == WARD else 7)
    html = render_summary(summary)
    positions = [html.index(f"{s.heading} {s.title}") for s in summary.sections]
    assert positions == sorted(positions)
    assert "I. Kết quả thực hiện" in html and "IV. Phụ lục: minh chứng" in html
    assert summary.cover.unit_name in html


@pytest.mark.browser
@pytest.mark.parametrize("unit", [WARD, PHONG])
def test_the_figures_of_a_summary_equal_the_indicator_table(
    crawled: Crawled, summaries: dict[str, Summary], unit: str
) -> None:
    table = indicators.table(PERIOD, settings=crawled.settings, engine=crawled.store.engine)
    rows = table[(table["unit"] == unit) & (table["scoring"] != "total")].set_index("indicator")
    lines = {line.indicator: line for line in summaries[unit].indicator_lines()}
    assert set(lines) == set(rows.index)
    for indicator, line in lines.items():
        row = rows.loc[indicator]
        assert line.status == row["status"], indicator
        for name in ("numerator", "denominator", "rate", "points", "reported_value"):
            assert _same(getattr(line, name), row[name]), (indicator, name, getattr(line, name), row[name])
        assert line.max_points == row["max_points"] and line.flag == bool(row["flag"])
        assert set(line.observation_ids) == set(row["observation_ids"])
        assert set(line.snapshot_ids) == set(row["snapshot_ids"])
    scored = [line for line in lines.values() if line.status == "ok"]
    assert len(scored) >= 8  # a healthy crawl scores most indicators
    totals = table[(table["unit"] == unit) & (table["scoring"] == "total")].set_index("indicator")
    for total in summaries[unit].cover.totals:
        assert _same(total.index, totals.loc[total.indicator, "points"])
        assert total.band == totals.loc[total.indicator, "band"]


@pytest.mark.browser
def test_the_summary_keeps_the_two_766_figures_apart_and_names_each_contradicted_published_score(
    summaries: dict[str, Summary], truth: dict[str, Any]
) -> None:
    summary = summaries[WARD]
    totals = {t.indicator: t for t in summary.cover.totals}
    published, check = totals["TOTAL_766"], totals["CHECK_766"]
    assert published.name_vi == "Chỉ số 766 (Cổng DVCQG công bố)" and published.band and published.rank
    assert published.display_index.endswith("/ 100") and published.published_rank
    assert check.name_vi == "Điểm 766 kiểm chứng được" and check.band is None and check.rank is None
    assert "điểm tính được" in check.display_index and "/ 100 " not in check.display_index + " "
    assert all(line.rank is None for line in summary.indicator_lines() if line.family == "766")
    months = set(indicators.parse_period(PERIOD).months)
    planted = [d for d in truth["i766_discrepancies"] if d["unit"] == WARD and d["period"] in months]
    assert planted, "the simulation's seed plants a discrepancy for this ward in the period"
    flags = [f for f in summary.section("II").red_flags() if f.indicator == "i766_reconciliation"]
    assert len(flags) == len(planted)
    for flag, wanted in zip(flags, planted, strict=True):
        assert flag.text.startswith("Điểm công bố lệch so với số liệu công khai")
        assert vi.month_label(wanted["period"]) in flag.text and vi.points(wanted["published"]) in flag.text
        assert flag.snapshot_ids and set(flag.snapshot_ids) <= summary.section("2.3").snapshot_ids()
    assert any("giải trình" in s.text for s in summary.section("III").suggestions())
    html = render_summary(summary)
    assert "Điểm công bố lệch so với số liệu công khai" in html and "Chính thức" in html and "Đề xuất" in html
    phong = {t.indicator: t for t in summaries[PHONG].cover.totals}["TOTAL_766"]
    assert phong.status == "na" and phong.band is None and "không chấm phòng" in phong.reason_vi


@pytest.mark.browser
def test_indicators_sit_in_the_section_their_definition_names(
    crawled: Crawled, summaries: dict[str, Summary]
) -> None:
    definitions = indicators.load_definitions(crawled.settings.indicators.file)
    wanted = {i.id: i.section for i in definitions.indicator} | {
        r.id: r.section for r in definitions.reported_only
    }
    for section in summaries[WARD].sections:
        for line in section.indicators:
            assert wanted[line.indicator] == section.key
    assert {line.indicator for line in summaries[WARD].section("2.1").indicators} == {
        "PAR_NEWS",
        "PAR_CCHC_POSTS",
    }


@pytest.mark.browser
@pytest.mark.parametrize("unit", [WARD, PHONG])
def test_what_no_public_page_shows_reads_do_don_vi_cung_cap(summaries: dict[str, Summary], unit: str) -> None:
    summary = summaries[unit]
    for key in ("2.2", "2.4", "2.5", "2.6"):
        section = summary.section(key)
        assert section.provided and not section.indicators
        assert all(item.status_text == PROVIDED_TEXT and item.text for item in section.provided)
    for line in summary.indicator_lines():
        if line.status == "provided_by_unit":
            assert line.points is None and line.display_points == PROVIDED_TEXT
    apology = next(line for line in summary.indicator_lines() if line.indicator == "PAR_APOLOGY")
    assert apology.status == "provided_by_unit" and apology.points is None
    on_time = next(line for line in summary.indicator_lines() if line.indicator == "I766_2_1")
    assert on_time.status == "ok" and on_time.numerator is not None and on_time.denominator is not None
    # 2.1's denominator also holds dossiers still open; the slips are counted on those completed late.
    completed_late = next(f for f in summary.section("2.3").facts if f.label == "Hồ sơ giải quyết trễ hạn")
    assert (
        completed_late.value is not None and completed_late.value <= on_time.denominator - on_time.numerator
    )
    late = round(completed_late.value)
    slips = next(item for item in summary.section("2.3").provided if "Mẫu 04" in item.text)
    assert slips.prefilled == f"Số hồ sơ trễ hạn trong kỳ (điền sẵn): {late:,}".replace(",", ".")
    community_team = [i for i in summary.section("3").provided if "Tổ công nghệ số cộng đồng" in i.text]
    assert bool(community_team) == (unit == WARD)  # "Phòng Chuyên môn không báo cáo nội dung này"
    html = render_summary(summary)
    section_25 = html[html.index("2.5. Cải cách chế độ công vụ") : html.index("2.6. Cải cách tài chính công")]
    assert section_25.count(PROVIDED_TEXT) >= len(summary.section("2.5").provided)


@pytest.mark.browser
def test_outreach_and_procedures_are_prefilled_from_the_observations(
    crawled: Crawled, summaries: dict[str, Summary]
) -> None:
    summary = summaries[WARD]
    news = next(line for line in summary.indicator_lines() if line.indicator == "PAR_NEWS")
    per_month = summary.section("2.1").tables[0]
    assert [row[0] for row in per_month.rows] == [f"{m:02d}/2023" for m in range(1, 9)]
    assert sum(int(row[1].replace(".", "")) for row in per_month.rows) == news.numerator
    posts = next(fact for fact in summary.section("2.1").facts if fact.label == "Tin, bài đăng trong kỳ")
    assert len(posts.posts) == news.numerator
    assert all(p.url.startswith("http") and p.title and p.published[:7] <= "2023-08" for p in posts.posts)
    reform = next(fact for fact in summary.section("2.1").facts if "CCHC" in fact.label)
    assert reform.posts and all(p.reform for p in reform.posts)
    assert len(summary.section("2.1").charts) == 1 and summary.section("2.1").charts[0].data_uri.startswith(
        "data:image/png;base64,"
    )
    raw = indicators.figures(crawled.settings, crawled.store.engine)
    missing = raw[(raw["unit"] == WARD) & (raw["metric"] == "tthc_reference_missing")].iloc[0]
    codes_fact = next(
        f for f in summary.section("2.3").facts if f.label.startswith("TTHC trong danh mục chuẩn chưa")
    )
    assert codes_fact.value == len(missing["detail"]["codes"])
    assert all(code in codes_fact.details[0] for code in missing["detail"]["codes"])
    scores = next(f for f in summary.section("2.3").facts if f.label.startswith("Điểm Bộ chỉ số 766"))
    assert scores.status == "ok" and scores.value is not None and 0 < scores.value <= 100
    sites = summary.section("2.7").facts
    assert sites[0].display.startswith("Hoạt động") and sites[0].snapshot_ids


@pytest.mark.browser
@pytest.mark.parametrize("unit", [WARD, PHONG])
def test_every_cited_figure_traces_to_observations_and_snapshots_that_verify(
    crawled: Crawled, summaries: dict[str, Summary], unit: str
) -> None:
    summary = summaries[unit]
    observation_ids = summary.cited_observation_ids()
    snapshot_ids = summary.cited_snapshot_ids()
    assert observation_ids and snapshot_ids
    for line in summary.indicator_lines():
        if line.status == "ok":
            assert line.observation_ids and line.snapshot_ids, line.indicator
    for section in summary.sections:
        for fact in section.facts:
            if fact.status == "ok":
                assert fact.observation_ids and fact.snapshot_ids, fact.label
    with Session(crawled.store.engine) as session:
        observed = dict(
            session.exec(
                select(Observation.id, Observation.snapshot_id).where(
                    col(Observation.id).in_(observation_ids)
                )
            ).all()
        )
        snapshots = {
            s.id: s for s in session.exec(select(Snapshot).where(col(Snapshot.id).in_(snapshot_ids))).all()
        }
        links = session.exec(
            select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(snapshot_ids))
        ).all()
    assert set(observed) == observation_ids
    assert set(snapshots) == snapshot_ids
    assert set(observed.values()) <= snapshot_ids | set(summary.observation_snapshot.values())
    assert summary.observation_snapshot == observed
    blobs_of = {(link.snapshot_id, link.role): link.sha256 for link in links}
    for section in summary.sections:
        for ref in section.snapshots:
            assert ref.sha256 == blobs_of.get((ref.id, ref.sha256_role)), ref.id
            offset = ref.captured_at.utcoffset()
            assert offset is not None and offset.total_seconds() == 7 * 3600  # Asia/Ho_Chi_Minh
            assert ref.record_hash == snapshots[ref.id].record_hash
        for shot in section.screenshots:
            assert blobs_of[(shot.snapshot_id, "screenshot")] == shot.sha256
            assert shot.data_uri.startswith("data:image/jpeg;base64,") and shot.width <= 360
    assert summary.section("2.7").screenshots  # the unit's site, rendered by Chromium
    checked = verify(crawled.store.engine, crawled.store.blobs)
    assert checked.clean
    assert summary.cover.ledger.clean and summary.cover.ledger.head_hash == checked.head_hash


# --- dead and unreadable sites ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "why"),
    [("refused", "connection"), ("gone-410", "410"), ("drift", "không đọc được bố cục trang")],
)
def test_a_dead_or_unreadable_site_shows_na_with_the_reason_not_zero_points(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path, mode: str, why: str
) -> None:
    with make_simulation(FaultSpec("phuong-3", mode)) as sim:
        target = pointed(settings, sim)
        store = open_test_store(tmp_path)
        run_probes(target, store, ["availability", "news"], [WARD])
    try:
        summary = build_summary(target, WARD, engine=store.engine, blobs=store.blobs)
    finally:
        store.close()
    for line in summary.section("2.1").indicators:
        assert line.status == "missing" and line.points is None, line.indicator
        assert line.display_points == NOT_AVAILABLE and why in line.reason_vi, line.reason_vi
    assert all(row[1] == NOT_AVAILABLE and row[3] for row in summary.section("2.1").tables[0].rows)
    assert all(fact.status != "ok" and fact.display == NOT_AVAILABLE for fact in summary.section("2.1").facts)
    flags = [f.text for f in summary.section("II").red_flags()]
    assert any("Tin, bài trên cổng/trang TTĐT" in text and why in text for text in flags)
    site = summary.section("2.7").facts[0]
    if mode == "drift":
        assert site.display.startswith("Hoạt động")  # up, but its pages are not what the parser knows
    else:
        assert site.display.startswith("Không truy cập được")
        assert any(text.startswith("Trang thông tin điện tử Phường 3: không truy cập được") for text in flags)
    html = render_summary(summary)
    outreach = html[html.index("2.1. Công tác tuyên truyền") : html.index("2.2. Cải cách thể chế")]
    assert NOT_AVAILABLE in outreach and "0,00 / 0,5" not in outreach


# --- renderers --------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_html_is_self_contained_and_names_its_fonts(summaries: dict[str, Summary]) -> None:
    html = render_summary(summaries[WARD])
    assert 'font-family: "Noto Sans", "Liberation Sans", sans-serif' in html  # not mangled by autoescape
    assert "<link" not in html and "<script" not in html
    sources = re.findall(r'<img src="([^"]{0,30})', html)
    assert sources and all(s.startswith("data:image/") for s in sources)


@pytest.mark.browser
def test_the_pdf_has_vietnamese_text_embedded_fonts_and_a_rendered_first_page(
    summaries: dict[str, Summary], tmp_path: Path
) -> None:
    pdf = write_pdf(summaries[WARD], tmp_path / "phuong-3.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for phrase in (
        "Cải cách thủ tục hành chính",
        "UBND Phường 3",
        "Công tác tuyên truyền",
        "Công tác chuyển đổi số",
        "KẾT QUẢ THỰC HIỆN",  # an uppercased heading keeps its stacked diacritics
        PROVIDED_TEXT,
        "Trang 1/",  # the footer's page numbers
    ):
        assert phrase in text, phrase
    assert "\ufffd" not in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and any("NotoSans" in row[0] for row in rows)
    emb = fonts.splitlines()[0].index("emb")
    assert all(line[emb : emb + 3] == "yes" for line in fonts.splitlines()[2:] if line.strip()), fonts
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True
    )
    (page,) = tmp_path.glob("page*.png")
    with Image.open(page) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
        inked = sum(histogram[:230]) / (grey.width * grey.height)
        assert grey.width > 350 and grey.height > 500  # A4 at 50 dpi
    assert inked > 0.03, inked


@pytest.mark.browser
def test_the_xlsx_has_a_sheet_per_section_and_a_sources_sheet_with_every_snapshot(
    summaries: dict[str, Summary], tmp_path: Path
) -> None:
    summary = summaries[WARD]
    workbook = load_workbook(write_xlsx(summary, tmp_path / "phuong-3.xlsx"))
    assert workbook.sheetnames == [
        "Bìa",
        "I.1 Chỉ đạo, điều hành",
        "2.1 Tuyên truyền",
        "2.2 Thể chế",
        "2.3 Thủ tục hành chính",
        "2.4 Tổ chức bộ máy",
        "2.5 Công vụ",
        "2.6 Tài chính công",
        "2.7 CQĐT, CQS",
        "3 Chuyển đổi số",
        "II Đánh giá chung",
        "III Kiến nghị, đề xuất",
        "Nguồn",
    ]
    sources = list(workbook["Nguồn"].iter_rows(values_only=True))
    header = sources[0]
    assert header[:6] == ("Mục", "Số liệu", "Mã chỉ tiêu", "Giá trị", "Trạng thái", "Mã bản chụp")
    listed = {row[5] for row in sources[1:] if isinstance(row[5], int)}
    assert listed == summary.cited_snapshot_ids()
    with_urls = [row for row in sources[1:] if isinstance(row[5], int)]
    assert all(row[7] and str(row[7]).startswith("http") and row[8] for row in with_urls)
    procedures = list(workbook["2.3 Thủ tục hành chính"].iter_rows(values_only=True))
    apology = next(row for row in procedures if row[1] == "PAR_APOLOGY")
    assert apology[5] == PROVIDED_TEXT  # points: never blank, never zero
    outreach = list(workbook["2.1 Tuyên truyền"].iter_rows(values_only=True))
    news = next(row for row in outreach if row[1] == "PAR_NEWS")
    assert isinstance(news[2], float | int) and news[2] > 0


# --- the command line -------------------------------------------------------------------------------------------


def cchc(config: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return run_cli(
        ["--config", str(config), "report", *args],
        timeout=timeout,
        env=env,
    )


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["html", "pdf", "xlsx"])
def test_cchc_report_writes_a_unit_summary_in_each_format(
    crawled: Crawled, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / f"phuong-3.{kind}"
    result = cchc(crawled.config, WARD, "--format", kind, "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target)
    data = target.read_bytes()
    if kind == "html":
        assert "UBND Phường 3" in data.decode("utf-8") and "2.3. Cải cách thủ tục hành chính" in data.decode(
            "utf-8"
        )
    elif kind == "pdf":
        assert data.startswith(b"%PDF")
    else:
        assert "Nguồn" in load_workbook(target).sheetnames


@pytest.mark.browser
def test_cchc_report_visit_writes_three_files_into_out_visits(crawled: Crawled) -> None:
    result = cchc(crawled.config, WARD, "--visit", WARD_VISIT.isoformat())
    assert result.returncode == 0, result.stderr
    folder = crawled.folder / "out" / "visits"
    expected = [folder / f"phuong-3-2023-09-20.{ext}" for ext in ("html", "pdf", "xlsx")]
    assert result.stdout.split() == [str(p) for p in expected]
    assert all(p.stat().st_size > 1000 for p in expected)
    assert "Ngày Đoàn kiểm tra làm việc" in expected[0].read_text(encoding="utf-8")
    assert "20/09/2023" in expected[0].read_text(encoding="utf-8")


@pytest.mark.browser
def test_cchc_report_all_writes_every_unit_and_the_city_overview(crawled: Crawled, tmp_path: Path) -> None:
    result = cchc(crawled.config, "--all", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    units = load_settings(crawled.config, environ={}).units_in_inspection()
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {f"{u.id}.html" for u in units} | {"tong-hop-thanh-pho.html"}
    overview = (tmp_path / "tong-hop-thanh-pho.html").read_text(encoding="utf-8")
    for heading in (
        "Chỉ số 766 (Cổng DVCQG công bố) – UBND phường, xã",
        "Chỉ số CCHC (minh chứng công khai) – UBND phường, xã",
    ):
        assert heading in overview
    assert "UBND Phường 3" in overview and "Phòng Tư pháp" in overview


@pytest.mark.browser
def test_the_overview_ranks_each_tier_as_the_indicator_table_does(crawled: Crawled) -> None:
    with SummaryInputs.open(
        crawled.settings, engine=crawled.store.engine, blobs=crawled.store.blobs
    ) as inputs:
        overview = build_overview(inputs, PERIOD)
    table = indicators.table(PERIOD, settings=crawled.settings, engine=crawled.store.engine)
    assert {(r.family, r.tier) for r in overview.rankings} == {
        (f, t) for f in ("TOTAL_766", "TOTAL_PAR") for t in ("phong", "phuong_xa")
    }
    for ranking in overview.rankings:
        rows = table[(table["indicator"] == ranking.family) & (table["tier"] == ranking.tier)].set_index(
            "unit"
        )
        assert {r.unit_id for r in ranking.rows} == set(rows.index)
        for row in ranking.rows:
            expected = rows.loc[row.unit_id, "rank"]
            assert (row.rank is None) == (expected is None or math.isnan(expected))
            if row.rank is not None:
                assert row.rank == int(expected)
        ranks = [r.rank for r in ranking.rows if r.rank is not None]
        assert ranks == sorted(ranks)
        assert ranking.chart.data_uri.startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown unit 'nope'; inspected units are "),
        ([WARD, "--period", "2023-13"], "bad period: not a period: '2023-13'"),
        ([WARD, "--visit", "20/09/2023"], "bad visit date '20/09/2023'"),
        ([], "which unit?"),
    ],
)
def test_cchc_report_errors_are_one_line_on_stderr(args: list[str], message: str) -> None:
    from conftest import CONFIG

    result = cchc(CONFIG, *args, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
