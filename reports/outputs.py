"""Where summaries are written: one unit in one format, a visit's three files (the scheduler's inspection
calendar calls `prepare_visit_summary`), and every inspected unit with the city overview.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

from cchc.settings import Settings
from reports.html import write_html
from reports.inputs import SummaryInputs
from reports.model import Summary
from reports.overview import build_overview, overview_job, write_overview_html
from reports.paths import default_out_dir
from reports.pdf import print_pdfs, summary_job, write_pdf
from reports.summary import build_summary, common_period
from reports.xlsx import write_xlsx

Format = Literal["html", "pdf", "xlsx"]
FORMATS: tuple[Format, ...] = ("html", "pdf", "xlsx")
OVERVIEW_STEM = "tong-hop-thanh-pho"


def write_summary(summary: Summary, kind: Format, path: Path, executable: str = "") -> Path:
    if kind == "html":
        return write_html(summary, path)
    if kind == "pdf":
        return write_pdf(summary, path, executable)
    return write_xlsx(summary, path)


def prepare_visit_summary(
    settings: Settings,
    unit_id: str,
    visit: date,
    out_dir: Path | None = None,
    *,
    period: str | None = None,
    inputs: SummaryInputs | None = None,
) -> list[Path]:
    """A visit's summary as HTML, PDF and XLSX in <out>/visits/<unit>-<visit date>.*; the paths, in that order."""
    folder = (out_dir if out_dir is not None else default_out_dir(settings)) / "visits"
    summary = build_summary(settings, unit_id, period=period, visit=visit, inputs=inputs)
    stem = folder / f"{unit_id}-{visit.isoformat()}"
    return [
        write_html(summary, stem.with_suffix(".html")),
        write_pdf(summary, stem.with_suffix(".pdf"), settings.browser.executable),
        write_xlsx(summary, stem.with_suffix(".xlsx")),
    ]


def write_all(
    settings: Settings,
    kind: Format,
    out_dir: Path,
    period: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[Path]:
    """Every inspected unit's summary in one format, on one common period, plus the city overview (HTML; also
    PDF when the format is PDF). One reading of the store and one Chromium serve them all. `on_step` is told
    each summary built and each file written (the caller's progress: `write_all_steps` of them)."""
    step = on_step or (lambda _: None)
    chosen = period or common_period(settings)
    written: list[Path] = []
    with SummaryInputs.open(settings) as inputs:
        summaries = []
        for unit in settings.units_in_inspection():
            summaries.append(build_summary(settings, unit.id, period=chosen, inputs=inputs))
            step(f"{unit.id} built")
        overview = build_overview(inputs, chosen)
    if kind == "pdf":
        jobs = [summary_job(s, out_dir / f"{s.cover.unit_id}.pdf") for s in summaries]
        jobs.append(overview_job(overview, out_dir / f"{OVERVIEW_STEM}.pdf"))
        written += print_pdfs(jobs, settings.browser.executable, on_step=step)
    else:
        for summary in summaries:
            written.append(write_summary(summary, kind, out_dir / f"{summary.cover.unit_id}.{kind}"))
            step(written[-1].name)
    written.append(write_overview_html(overview, out_dir / f"{OVERVIEW_STEM}.html"))
    return written


def write_all_steps(settings: Settings, kind: Format) -> int:
    """How many steps `write_all` reports: each unit's summary built, then each file written."""
    units = len(settings.units_in_inspection())
    return 2 * units + (1 if kind == "pdf" else 0)
