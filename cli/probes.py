"""`cchc crawl`, `cchc parse`, `cchc reparse`: one pass of probes now, a saved page parsed offline, and the
stored evidence parsed again with the current parsers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cchc.errors import CchcError
from cchc.settings import Settings, Unit
from cli.console import current_settings, err, out
from cli.options import ProbeName, ProbesOption, UnitsOption, unknown_unit
from cli.progress import Steps
from cli.wiring import check_contact, fetch_policy, open_store, timestamp_authorities
from evidence import EvidenceStore
from evidence.timestamps import stamp_checkpoints
from probes import PROBES, Probe, SnapshotView, get_probe
from probes._base import LayoutNotRecognised
from probes._runner import COMPLETED_WITH_FAILURES, INTERRUPTED, CrawlReport, crawl

EXIT_LAYOUT_NOT_RECOGNISED = 3
EXIT_COMPLETED_WITH_FAILURES = 3  # a page not read or a job failed: recorded, and said in the exit code
EXIT_MATCHED_NONE = 4  # a probe's report rows matched none of our units: every figure of theirs is missing


def chosen_probes(names: Sequence[str] | None) -> list[Probe]:
    return [get_probe(str(n)) for n in names] if names else list(PROBES.values())


def chosen_units(settings: Settings, ids: Sequence[str] | None) -> list[Unit]:
    if not ids:
        return settings.units_in_inspection()
    units = []
    for unit_id in ids:
        try:
            units.append(settings.unit_by_id(unit_id))
        except KeyError:
            raise CchcError(unknown_unit(settings, unit_id)) from None
    return units


log = logging.getLogger("cchc.cli")


def run_crawl(
    settings: Settings,
    probes: Sequence[Probe],
    units: Sequence[Unit],
    *,
    trigger: str,
    surprise: bool = False,
    with_browser: bool = True,
    show_progress: bool = True,
) -> CrawlReport:
    """One crawl with a progress bar; the evidence goes to the configured store."""
    check_contact(settings)
    store = open_store(settings)
    try:
        piped = Steps("crawl jobs", every_s=5.0) if show_progress and not out.is_terminal else None
        with (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[snapshots]} captures"),
                TimeElapsedColumn(),
                console=out,
                disable=not show_progress or piped is not None,
                transient=False,
            ) as progress,
            piped or contextlib.nullcontext(),
        ):
            task = progress.add_task("crawling", total=None, snapshots=0)
            captured = [0]

            def on_snapshot(_: object) -> None:
                captured[0] += 1
                progress.update(task, snapshots=captured[0])

            def on_jobs(total: int) -> None:
                progress.update(task, total=total)
                if piped is not None:
                    piped.set_total(total)

            def on_job_done(_: object) -> None:
                progress.advance(task)
                if piped is not None:
                    piped.advance(f"({captured[0]} captures)")

            async def guarded() -> CrawlReport:
                # SIGTERM (the daemon stopping) and Ctrl-C cancel the crawl, which closes its run as interrupted.
                current = asyncio.current_task()
                assert current is not None
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, current.cancel)
                return await crawl(
                    settings,
                    store,
                    probes,
                    units,
                    policy=fetch_policy(settings),
                    trigger=trigger,
                    surprise=surprise,
                    with_browser=with_browser,
                    on_jobs=on_jobs,
                    on_job_done=on_job_done,
                    on_snapshot=on_snapshot,
                )

            report = asyncio.run(guarded())
        stamp_new_checkpoints(settings, store)
        return report
    finally:
        store.close()


def stamp_new_checkpoints(settings: Settings, store: EvidenceStore) -> None:
    """Ask the time-stamping authorities for the run's checkpoint; one that is down only leaves it pending (it is
    retried by the daemon and by `cchc evidence timestamp`, and shown by `cchc status`)."""
    authorities = timestamp_authorities(settings)
    if not authorities:
        return
    report = stamp_checkpoints(store.engine, authorities, limit=len(authorities) * 4)
    for failure in report.failed:
        log.warning("timestamp pending: %s", failure)


def summary_table(report: CrawlReport) -> Table:
    table = Table(title=f"Run {report.run_id}: {report.status}, {report.jobs} jobs")
    table.add_column("")
    table.add_column("count", justify="right")
    for outcome, count in sorted(report.counts.snapshots.items()):
        table.add_row(f"snapshots: {outcome}", str(count))
    table.add_row("observations", str(report.counts.observations))
    table.add_row("parse failures", str(report.counts.parse_failures))
    if report.counts.job_failures:
        table.add_row("failed jobs", str(report.counts.job_failures))
    return table


def crawl_command(
    probe: ProbesOption = None,
    unit: UnitsOption = None,
    surprise: Annotated[
        bool, typer.Option(help="A surprise inspection: the run is marked surprise.")
    ] = False,
    browser: Annotated[
        bool, typer.Option(help="Also capture the JavaScript-filled pages with Chromium.")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Draw a progress bar.")] = True,
    why_missing: Annotated[
        bool,
        typer.Option(
            help="After the run, list each unit's figures not available (N/A) and why. It reads every stored "
            "observation, so it grows with the store; the daemon's runs, whose output no one reads, skip it. "
            "Units whose rows matched none of ours are reported (exit 4) either way."
        ),
    ] = True,
    trigger: Annotated[
        str, typer.Option(hidden=True, help="What started the crawl (schedule, calendar).")
    ] = "manual",
) -> None:
    """One pass of probes now, with a progress bar, then a summary of snapshots, observations and parse failures.

    Exit 3 when the run completed with failures (a page not read, a job failed), 130 when interrupted.
    """
    settings = current_settings()
    report = run_crawl(
        settings,
        chosen_probes(probe),
        chosen_units(settings, unit),
        trigger="surprise" if surprise else trigger,
        surprise=surprise,
        with_browser=browser,
        show_progress=progress,
    )
    out.print(summary_table(report))
    for failure in report.counts.failures[:20]:
        err.print(f"failure: {failure}", markup=False)
    if len(report.counts.failures) > 20:
        err.print(f"… and {len(report.counts.failures) - 20} more failures")
    if report.status == INTERRUPTED:
        err.print(f"interrupted: run {report.run_id} is closed as interrupted; every capture it made is kept")
        raise typer.Exit(130)
    units = chosen_units(settings, unit)
    unmatched = report_findings(
        settings, report.run_id, units, [p.name for p in chosen_probes(probe)], why_missing=why_missing
    )
    for message in unmatched:
        err.print(message, markup=False)
    if report.status == COMPLETED_WITH_FAILURES:
        err.print(
            f"run {report.run_id} completed with failures: {report.counts.parse_failures} pages not read, "
            f"{report.counts.job_failures} jobs failed; every capture is kept"
        )
    if unmatched:
        raise typer.Exit(EXIT_MATCHED_NONE)
    if report.status == COMPLETED_WITH_FAILURES:
        raise typer.Exit(EXIT_COMPLETED_WITH_FAILURES)


def report_findings(
    settings: Settings, run_id: int, units: Sequence[Unit], probes: Sequence[str], *, why_missing: bool = True
) -> list[str]:
    """After a crawl: per probe and unit, whether the portals' rows were matched to the unit and how, and (with
    `why_missing`) the figures not available with the reason. Returns the messages of probes whose rows matched
    none of ours."""
    if set(probes) <= {"availability"}:
        return []  # availability gives no figure and matches no unit: nothing to say (nor pandas to import)
    from cli.findings import (
        PROBE_OF_METRIC,
        matched_none,
        matches_table,
        not_available,
        not_available_table,
        unit_matches,
    )
    from evidence.db import open_database

    if not set(probes) & set(PROBE_OF_METRIC.values()):
        return []
    engine = open_database(settings.storage.database_url)
    try:
        matches = [m for m in unit_matches(engine, [run_id]) if m.unit in {u.id for u in units} | {"city"}]
        absent = not_available(engine, settings, units, probes) if why_missing else []
    finally:
        engine.dispose()
    if matches:
        out.print(matches_table(matches, f"Run {run_id}: our units on the portals"))
    if absent:
        out.print(not_available_table(absent, "Figures not available (N/A), and why"))
    return matched_none(matches, units)


def parse_command(
    probe: Annotated[ProbeName, typer.Argument(help="Probe whose parser reads the file.")],
    file: Annotated[Path, typer.Argument(help="A saved page or JSON response.", exists=True, dir_okay=False)],
    url: Annotated[
        str | None,
        typer.Option(
            help="The URL the file was fetched from (it tells the parser the site, unit and page). Required.",
            show_default=False,
        ),
    ] = None,
    request: Annotated[
        str | None,
        typer.Option(
            "--request",
            "--payload",
            help="The request body it answered (rest.jsp params=…, a multipart form, api/v1's JSON), or @FILE.",
        ),
    ] = None,
) -> None:
    """Parse a saved page or JSON file offline and print its observations as JSON lines.

    Exit 3, with the reason on stderr, when the parser does not recognise the layout.
    """
    if not url:
        raise typer.BadParameter(
            "give the URL the file was fetched from: the parser learns the site, the unit and the page from it",
            param_hint="--url",
        )
    settings = current_settings()
    chosen = get_probe(str(probe))
    body = file.read_bytes()
    request_body = b""
    if request:
        request_body = Path(request[1:]).read_bytes() if request.startswith("@") else request.encode("utf-8")
    content_type = mimetypes.guess_type(file.name)[0] or "text/html"
    view = SnapshotView(
        url=url,
        method="POST" if request_body else "GET",
        request_body=request_body,
        headers=(("Content-Type", f"{content_type}; charset=utf-8"),),
        body=body,
    )
    try:
        parsed = chosen.parse(view, settings)
    except LayoutNotRecognised as exc:
        err.print(f"{file}: layout not recognised by {chosen.name}/{exc.parser}: {exc.reason}", markup=False)
        raise typer.Exit(EXIT_LAYOUT_NOT_RECOGNISED) from None
    for found in parsed.found:
        record = {"unit": found.unit, "metric": found.metric, "period": found.period, "value": found.value,
                  "text": found.text, "attributes": dict(found.attributes)}  # fmt: skip
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    for next_url in parsed.next_urls:
        sys.stdout.write(json.dumps({"next": next_url}, ensure_ascii=False) + "\n")


def reparse_command(probe: ProbesOption = None) -> None:
    """Re-derive observations from stored evidence with the current parsers; earlier ones stay, by version."""
    from probes._reparse import reparse

    settings = current_settings()
    store = open_store(settings)
    try:
        with Steps("reparse: snapshots read", every_s=5.0) as steps:
            counts = reparse(
                settings, store, chosen_probes(probe), progress=lambda n: steps.advance(count=n - steps.done)
            )
    finally:
        store.close()
    out.print(
        f"{counts.snapshots} snapshots read, {counts.skipped} already parsed by the current parsers; "
        f"{counts.observations} observations and {counts.parse_failures} parse failures added"
    )
