"""PDF: the summary's HTML printed by the system Chromium through Playwright, A4 with margins, the unit and
page numbers in the footer. Chromium embeds (subsets of) every font it uses, so the PDF reads the same
anywhere.

Playwright's sync API runs in a worker thread of its own: it cannot run inside a caller's asyncio loop, nor
beside another sync Playwright in the same thread.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cchc.errors import CchcError
from reports.html import render_summary
from reports.model import Summary

FOOTER = (
    "<div style=\"font-family: 'Noto Sans', 'Liberation Sans', sans-serif; font-size: 7.5px; color: #555; "
    'width: 100%; margin: 0 14mm; display: flex; justify-content: space-between;">'
    '<span>{title}</span><span>Trang <span class="pageNumber"></span>/<span class="totalPages"></span></span></div>'
)


class PdfError(CchcError):
    """Chromium could not print a PDF (the message says which file and why)."""


@dataclass(frozen=True)
class PrintJob:
    html: str
    target: Path
    footer: str  # the document's name in the footer, beside the page number


def print_pdfs(
    jobs: Sequence[PrintJob], executable: str = "", on_step: Callable[[str], None] | None = None
) -> list[Path]:
    """Print each HTML to its PDF with one Chromium (started once for the whole batch); `on_step` is told each
    file printed (the caller's progress)."""
    if not jobs:
        return []
    from crawler.chromium import find_chromium

    chromium = find_chromium(executable)
    for job in jobs:
        job.target.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cchc-pdf") as worker:
        return worker.submit(_print, list(jobs), chromium, on_step).result()


def _print(jobs: list[PrintJob], chromium: str, on_step: Callable[[str], None] | None = None) -> list[Path]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import PdfMargins, sync_playwright

    margin: PdfMargins = {"top": "16mm", "right": "14mm", "bottom": "18mm", "left": "14mm"}

    written: list[Path] = []
    current = jobs[0].target
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            try:
                page = browser.new_page()
                for job in jobs:
                    current = job.target
                    page.set_content(job.html, wait_until="load")
                    page.emulate_media(media="print")
                    page.pdf(
                        path=str(job.target),
                        format="A4",
                        margin=margin,
                        print_background=True,
                        display_header_footer=True,
                        header_template="<span></span>",
                        footer_template=FOOTER.format(title=html.escape(job.footer)),
                    )
                    written.append(job.target)
                    if on_step is not None:
                        on_step(job.target.name)
            finally:
                browser.close()
    except PlaywrightError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PdfError(f"{current}: Chromium could not print the PDF: {first_line}") from None
    return written


def summary_job(summary: Summary, target: Path) -> PrintJob:
    cover = summary.cover
    return PrintJob(render_summary(summary), target, f"{cover.unit_name} – {cover.period_label}")


def write_pdf(summary: Summary, path: Path, executable: str = "") -> Path:
    """The summary as an A4 PDF."""
    print_pdfs([summary_job(summary, path)], executable)
    return path
