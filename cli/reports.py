"""`cchc report`: a unit's pre-visit summary along the plan's Đề cương (HTML, PDF or XLSX), a visit's three
files (the scheduler's inspection calendar runs `cchc report UNIT --visit DATE`), or every unit and the city
overview (`--all`)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cchc.errors import CchcError
from cli.console import current_settings, out
from cli.options import PERIOD_HELP, complete_units


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"


def _visit_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CchcError(f"bad visit date {text!r}: expected YYYY-MM-DD, e.g. 2023-09-20") from None


def _period_slug(period: str) -> str:
    return period.replace("..", "_")


def report_command(
    unit: Annotated[
        str | None,
        typer.Argument(
            help="Unit id (`cchc units` lists them); omit with --all.",
            show_default=False,
            autocompletion=complete_units,
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help=f"{PERIOD_HELP} (default: January to the last complete month before the unit's visit, "
            "else the inspection's period).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", "-F", help="Output format.")
    ] = ReportFormat.html,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output file (one unit), or folder (--all, --visit); default: out/ beside the config file.",
            show_default=False,
        ),
    ] = None,
    visit: Annotated[
        str | None,
        typer.Option(
            "--visit",
            help="Visit date YYYY-MM-DD: write HTML, PDF and XLSX to out/visits/<unit>-<date>.*",
            show_default=False,
        ),
    ] = None,
    all_units: Annotated[
        bool, typer.Option("--all", help="Every inspected unit's summary and the city overview.")
    ] = False,
) -> None:
    """A unit's pre-visit summary along the plan's outline (HTML, PDF, XLSX), each figure with its evidence."""
    from cli.progress import Steps
    from reports import (
        build_summary,
        default_out_dir,
        prepare_visit_summary,
        write_all,
        write_all_steps,
        write_summary,
    )
    from reports.summary import resolve_period, resolve_unit

    settings = current_settings()
    if all_units and (unit or visit):
        raise CchcError("--all makes every unit's summary: give either a unit (with --visit) or --all")
    if not all_units and not unit:
        raise CchcError("which unit? give a unit id (e.g. `cchc report phuong-3`) or --all")
    if period is not None:
        resolve_period(period, settings)  # a bad period is one clear line before any work
    if all_units:
        with Steps(f"{format.value} summaries", write_all_steps(settings, format.value)) as steps:
            written = write_all(
                settings, format.value, output or default_out_dir(settings), period, on_step=steps.advance
            )
    else:
        assert unit is not None
        resolve_unit(settings, unit)
        if visit is not None:
            written = prepare_visit_summary(settings, unit, _visit_date(visit), output, period=period)
        else:
            summary = build_summary(settings, unit, period=period)
            target = output or default_out_dir(settings) / (
                f"{unit}-{_period_slug(summary.cover.period_key)}.{format.value}"
            )
            written = [write_summary(summary, format.value, target, settings.browser.executable)]
    for path in written:
        out.print(str(path), markup=False)
