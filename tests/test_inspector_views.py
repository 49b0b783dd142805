"""Vietnamese wherever an inspector looks: every inspector-facing page of the web app, the summary and the city
overview, and the headers of both workbooks, rendered from a real crawl of the simulation, hold no indicator or
observation code outside a tag and no English sentence; the one translation table (reports/vi.py) names every
observation the rule set or a probe uses, and every column of the indicator table."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from openpyxl import load_workbook  # type: ignore[import-untyped]
from probe_helpers import open_test_store, pointed, run_probes, stored_in
from sqlmodel import Session, col, select
from vietnamese_check import problems, text_problems

import indicators
from cchc.settings import Settings
from cli.indicators import write_xlsx as write_table_xlsx
from cli_process import run_cli
from conftest import patient
from evidence import EvidenceStore, Observation, Snapshot, SnapshotBlob
from indicators.definitions import load_definitions
from indicators.observed import DOSSIER_METRICS, NEWS_METRICS, PROCEDURE_METRICS, RANK_METRICS, SCORE_METRICS
from indicators.scorecard import COLUMNS
from reports import SummaryInputs, build_overview, build_summary, render_summary, vi, write_xlsx
from reports.overview import render_overview
from sim import Simulation

WARD, PHONG = "phuong-3", "phong-tu-phap"
PERIOD = "2023-01..2023-08"
LOCAL = "http://127.0.0.1"


@dataclass
class Crawled:
    settings: Settings
    store: EvidenceStore


@pytest.fixture(scope="module")
def crawled(
    settings: Settings, simulation: Simulation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crawled]:
    folder = tmp_path_factory.mktemp("vietnamese")
    target = stored_in(pointed(settings, simulation), folder)
    store = open_test_store(folder)
    report = run_probes(target, store, ["availability", "news", "procedures", "service_stats"], [WARD, PHONG])
    assert report.counts.parse_failures == 0
    try:
        yield Crawled(target, store)
    finally:
        store.close()


def test_the_translation_table_names_every_observation_and_column() -> None:
    definitions = load_definitions(Path(__file__).parent.parent / "indicators.toml")
    used = {m.removeprefix("-") for i in definitions.indicator for m in (*i.numerator, *i.denominator)}
    used |= {m for g in definitions.group for m in g.reported}
    used |= {*DOSSIER_METRICS, *SCORE_METRICS, *RANK_METRICS, *PROCEDURE_METRICS, *NEWS_METRICS}
    assert sorted(used - set(vi.METRIC_VI)) == []
    assert sorted({*COLUMNS, "previous_period", "previous_points", "change"} - set(vi.COLUMN_VI)) == []
    for name in vi.COLUMN_VI.values():
        assert text_problems(name) == [], name


def _json_and_page_snapshots(store: EvidenceStore) -> tuple[int, int]:
    with Session(store.engine) as session:
        json_id = session.exec(
            select(Observation.snapshot_id).where(
                Observation.metric == "report_row", Observation.unit == WARD
            )
        ).first()
        page_id = session.exec(
            select(Snapshot.id)
            .join(SnapshotBlob, col(SnapshotBlob.snapshot_id) == col(Snapshot.id))
            .where(Snapshot.probe == "news", Snapshot.valid == True, SnapshotBlob.role == "response_body")  # noqa: E712
            .limit(1)
        ).first()
    assert json_id is not None and page_id is not None
    return int(json_id), int(page_id)


def test_every_inspector_page_reads_in_vietnamese(crawled: Crawled) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    json_id, page_id = _json_and_page_snapshots(crawled.store)
    pages = [
        "/",
        f"/?period={PERIOD}",
        "/?period=2021-Q1",  # the refusal and its footer
        f"/units/{WARD}",
        f"/units/{PHONG}",
        f"/units/{WARD}/sources/I766_2_1",
        f"/units/{WARD}/sources/PAR_NEWS",
        f"/evidence/{json_id}?unit={WARD}",
        f"/evidence/{page_id}",
    ]
    found: dict[str, list[str]] = {}
    with TestClient(create_app(patient(crawled.settings)), base_url=LOCAL) as client:
        for path in pages:
            answer = client.get(path)
            assert answer.status_code in (200, 400), (path, answer.status_code)
            found[path] = problems(answer.text)
            if path.startswith("/evidence/") and "unit=" in path:
                soup = BeautifulSoup(answer.text, "html.parser")
                assert soup.select("#json-rows tr.behind"), "the rows behind the figure are highlighted"
                request_shown = soup.select_one("#json-request")
                assert request_shown is not None and "report_tinh_766_service" in request_shown.get_text()
    assert {p: f for p, f in found.items() if f} == {}


def test_the_summary_overview_and_workbooks_read_in_vietnamese(crawled: Crawled, tmp_path: Path) -> None:
    with SummaryInputs.open(
        crawled.settings, engine=crawled.store.engine, blobs=crawled.store.blobs
    ) as inputs:
        summaries = {
            u: build_summary(crawled.settings, u, inputs=inputs, period=PERIOD) for u in (WARD, PHONG)
        }
        overview = build_overview(inputs, PERIOD)
    found = {f"summary {u}": problems(render_summary(s)) for u, s in summaries.items()}
    found["overview"] = problems(render_overview(overview))
    workbook_path = write_xlsx(summaries[WARD], tmp_path / "summary.xlsx")
    workbook = load_workbook(workbook_path)
    headers = [
        str(cell.value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None and cell.font is not None and cell.font.bold
    ]
    found["summary xlsx headers"] = [p for h in headers for p in text_problems(h)]
    with zipfile.ZipFile(workbook_path) as packed:
        assert any(re.fullmatch(r"xl/charts/chart\d+\.xml", n) for n in packed.namelist())  # a native chart
    sources = workbook["Nguồn"]
    assert sources.freeze_panes == "A2" and sources.auto_filter.ref.startswith("A1:")
    table = indicators.table(
        PERIOD, settings=crawled.settings, engine=crawled.store.engine, units=[WARD, PHONG]
    )
    write_table_xlsx(table, tmp_path / "table.xlsx")
    sheets = pd.read_excel(tmp_path / "table.xlsx", sheet_name=None)
    found["table xlsx headers"] = [
        p for s in sheets.values() for c in s.columns for p in text_problems(str(c))
    ]
    found["table xlsx reasons"] = [
        p for r in sheets["Chỉ số"]["Lý do, ghi chú"].dropna() for p in text_problems(str(r))
    ]
    assert load_workbook(tmp_path / "table.xlsx")["Chỉ số"].freeze_panes == "A2"
    assert {k: v for k, v in found.items() if v} == {}


BANDS = ("Tốt", "Khá", "Trung bình", "Kém", "Yếu")


@pytest.mark.browser
def test_a_low_coverage_unit_has_no_grade_anywhere_and_shows_its_coverage_and_what_is_missing(
    crawled: Crawled, simulation: Simulation, tmp_path: Path
) -> None:
    """Below rule_set.min_coverage the CCHC index keeps its figures but has no grade and no rank: in the table,
    the CLI, the web app, the summary's PDF and XLSX; each shows the coverage and the indicators not covered."""
    import subprocess

    from fastapi.testclient import TestClient

    from cli.simlink import write_pointed_config
    from reports import write_pdf
    from web.app import create_app

    floor = load_definitions(crawled.settings.indicators.file).rule_set.min_coverage
    table = indicators.table(PERIOD, settings=crawled.settings, engine=crawled.store.engine, units=[WARD])
    total = table[table["indicator"] == "TOTAL_PAR"].iloc[0]
    assert total["points"] > 0 and total["coverage"] < floor  # figures, below the floor
    assert total["band"] is None and pd.isna(total["rank"])
    shown = f"{100 * total['coverage']:.0f}%"
    missing = list(
        table[(table["family"] == "PAR") & table["status"].isin(["missing", "provided_by_unit"])]["name_vi"]
    )
    assert missing
    # the CLI
    config = tmp_path / "config.toml"
    write_pointed_config(crawled.settings, simulation.urls, config)
    cli = run_cli(
        ["--config", str(config), "indicators", "--period", PERIOD, "-u", WARD],
        timeout=300,
        check=False,
        env={**__import__("os").environ, "COLUMNS": "400"},
    )
    assert cli.returncode == 0, cli.stderr
    par_line = " ".join(
        line for line in cli.stdout.splitlines() if "TOTAL_PAR" in line or "Chỉ số CCHC" in line
    )
    assert "chưa đủ dữ liệu" in par_line and shown in par_line and not any(b in par_line for b in BANDS)
    # the web app's overview
    with TestClient(create_app(patient(crawled.settings)), base_url=LOCAL) as client:
        home = BeautifulSoup(client.get("/", params={"period": PERIOD}).text, "html.parser")
    row = home.select_one(f"#row-{WARD}")
    assert row is not None
    grade_cell, coverage_cell = row.select_one(".grade"), row.select_one(".coverage")
    assert grade_cell is not None and coverage_cell is not None
    grade = grade_cell.get_text(" ", strip=True)
    assert grade.startswith("chưa đủ dữ liệu") and shown in grade and not any(b in grade for b in BANDS)
    assert coverage_cell.get_text(strip=True) == shown
    assert [li.get_text(strip=True) for li in row.select(".grade li")] == missing
    # the summary: PDF and XLSX
    with SummaryInputs.open(
        crawled.settings, engine=crawled.store.engine, blobs=crawled.store.blobs
    ) as inputs:
        summary = build_summary(crawled.settings, WARD, inputs=inputs, period=PERIOD)
    pdf = write_pdf(summary, tmp_path / "summary.pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert f"Chưa đủ dữ liệu (phủ {shown}, cần {100 * floor:.0f}%)" in flat
    assert all(" ".join(name.split()) in flat for name in missing)
    workbook = load_workbook(write_xlsx(summary, tmp_path / "summary.xlsx"))
    cover = [r for r in workbook["Bìa"].iter_rows(values_only=True) if r and r[0] == total["name_vi"]]
    assert len(cover) == 1 and cover[0][2] == "Chưa đủ dữ liệu" and cover[0][3] == "—"
    assert cover[0][4] == pytest.approx(total["coverage"]) and all(n in str(cover[0][5]) for n in missing)
