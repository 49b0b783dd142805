"""HTML of a summary or of the city overview: one self-contained page (CSS in the template, images as data
URIs), print-friendly on A4. The PDF is this same HTML printed by Chromium.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports import vi
from reports.model import NOT_AVAILABLE, PROVIDED_TEXT, Summary
from reports.outline import RECONCILE_TITLE

TEMPLATES = Path(__file__).parent / "templates"
MAX_LINKS_SHOWN = 40  # posts listed per fact on paper; the XLSX lists them all


def _day(value: date | datetime | None) -> str:
    return vi.day(value) if value is not None else "—"


def _percent(value: float | None) -> str:
    return vi.percent(value, 0) if value is not None else NOT_AVAILABLE


@cache
def environment() -> Environment:
    """One Jinja environment per process: templates are compiled once."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        day=_day,
        moment=vi.moment,
        ids=vi.compress_ids,
        percent=_percent,
        number=vi.number,
        month=vi.month_label,
        short_hash=lambda h: f"{h[:12]}…{h[-8:]}" if h else "—",
    )
    env.globals.update(PROVIDED_TEXT=PROVIDED_TEXT, NOT_AVAILABLE=NOT_AVAILABLE, MAX_LINKS=MAX_LINKS_SHOWN,
                       TAGS=vi.CONFIDENCE_VI, RECONCILE_TITLE=RECONCILE_TITLE, PROBE_VI=vi.PROBE_VI,
                       OUTCOME_VI=vi.OUTCOME_VI)  # fmt: skip
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def render_summary(summary: Summary) -> str:
    """The summary as one self-contained HTML page, in the Đề cương's order."""
    return render("summary.html.j2", summary=summary, cover=summary.cover)


def write_html(summary: Summary, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary(summary), encoding="utf-8")
    return path
