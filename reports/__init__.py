"""The inspectors' pre-visit summary per unit, along the plan's Đề cương, with the evidence behind every figure.

>>> from reports import build_summary, write_html, prepare_visit_summary
>>> summary = build_summary(settings, "phuong-3")            # period: January to the month before the visit
>>> write_html(summary, Path("out/phuong-3.html"))
>>> prepare_visit_summary(settings, "phuong-3", date(2023, 9, 20))   # out/visits/phuong-3-2023-09-20.{html,pdf,xlsx}
"""

from reports.html import render_summary, write_html
from reports.inputs import SummaryInputs
from reports.model import PROVIDED_TEXT, Summary
from reports.outputs import prepare_visit_summary, write_all, write_all_steps, write_summary
from reports.overview import build_overview, render_overview
from reports.paths import default_out_dir
from reports.pdf import PdfError, write_pdf
from reports.summary import build_summary, common_period, default_period, due_date, visit_of
from reports.xlsx import write_xlsx

__all__ = [
    "PROVIDED_TEXT",
    "PdfError",
    "Summary",
    "SummaryInputs",
    "build_overview",
    "build_summary",
    "common_period",
    "default_out_dir",
    "default_period",
    "due_date",
    "prepare_visit_summary",
    "render_overview",
    "render_summary",
    "visit_of",
    "write_all",
    "write_all_steps",
    "write_html",
    "write_pdf",
    "write_summary",
    "write_xlsx",
]
