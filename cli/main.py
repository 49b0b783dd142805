"""`cchc …`: every verb is a thin call into the rooms (crawler, evidence, probes, indicators, reports, web, sim).

Errors that cchc-watch raises on purpose become one clear line on stderr and a non-zero exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click: its own classes

from cchc import __version__, logs
from cchc.errors import CchcError
from cchc.settings import Settings, config_path
from cli import discover as cli_discover
from cli import indicators as cli_indicators
from cli import probes as cli_probes
from cli import reports as cli_reports
from cli.alerts import alerts_app
from cli.console import CliState, current_settings, err, out
from cli.db import db_app
from cli.evidence import evidence_app
from cli.failures import describe, traceback_text
from cli.options import tidy_help
from cli.wiring import open_store
from probes import PROBES

app = typer.Typer(
    name="cchc",
    help="cchc-watch: checks the public web for CCHC and digital-transformation evidence, and keeps the proof.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(alerts_app, name="alerts")


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $CCHC_CONFIG, else ./config.toml).", show_default=False
    ),
]


def _print_version(value: bool) -> None:
    if value:
        out.print(f"cchc-watch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    config: ConfigOption = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log JSON lines (with run and job ids) to stderr.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what happens, not only warnings.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    CliState.config = config
    CliState.verbose = verbose
    CliState.log_json = log_json
    logs.configure(json_lines=log_json, level=logging.INFO if (verbose or log_json) else logging.WARNING)


# --- configuration --------------------------------------------------------------------------------------------


@config_app.command("check")
def config_check() -> None:
    """Validate the config file; print a one-line summary, or one line per problem."""
    settings = current_settings()
    kinds = {k: sum(u.kind == k for u in settings.units_in_inspection()) for k in ("phong", "phuong", "xa")}
    out.print(
        f"{config_path(CliState.config)}: ok: inspection {settings.inspection.id}, "
        f"{kinds['phong']} phòng, {kinds['phuong']} phường, {kinds['xa']} xã, {len(settings.portal)} portals, "
        f"{len(settings.schedule)} schedules, {len(settings.visit)} visits"
    )
    asked, wanted = len(settings.timestamp.authority), settings.timestamp.min_authorities
    if asked < wanted:
        err.print(
            f"warning: timestamp.authority names {asked} time-stamping authorities; production should ask at least "
            f"{wanted} (timestamp.min_authorities), or a bundle's time rests on fewer independent witnesses",
            markup=False,
        )


@config_app.command("show")
def config_show() -> None:
    """Print the resolved settings as JSON (paths made absolute, environment overrides applied)."""
    out.print_json(current_settings().model_dump_json())


@app.command()
def units(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    every: Annotated[
        bool,
        typer.Option("--all", help="Also the units outside the inspection year (merged, or created later)."),
    ] = False,
) -> None:
    """The units: id (what --unit and `cchc report` take), name, kind, portal, and whether they are inspected."""
    settings = current_settings()
    inspected = {u.id for u in settings.units_in_inspection()}
    portals = {p.id: p.base_url for p in settings.portal}
    rows = [
        {"id": u.id, "name": u.name, "kind": u.kind, "portal": u.portal, "portal_url": portals.get(u.portal, ""),
         "inspected": u.id in inspected, "valid_from": u.valid_from.isoformat(),
         "valid_to": u.valid_to.isoformat() if u.valid_to else None}
        for u in settings.unit
        if every or u.id in inspected
    ]  # fmt: skip
    if as_json:
        out.print(json.dumps(rows, ensure_ascii=False, indent=1), markup=False)
        return
    table = Table(
        title=f"Units of inspection {settings.inspection.id}" + ("" if every else " (`--all`: every unit)")
    )
    for column in ("id", "name", "kind", "portal", "inspected"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), str(row["name"]), str(row["kind"]), str(row["portal_url"] or row["portal"]),
                      "yes" if row["inspected"] else "no")  # fmt: skip
    out.print(table)


# --- simulation -------------------------------------------------------------------------------------------------


def _parse_faults(values: list[str] | None) -> list[Any]:
    from cli.simlink import parse_fault

    faults = []
    for value in values or []:
        try:
            faults.append(parse_fault(value))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fault") from None
    return faults


ContractOption = Annotated[
    str | None,
    typer.Option(
        "--contract",
        help="full: the APIs also send the fields we assume; public: only those public sources show "
        "(default: sim.contract).",
        show_default=False,
    ),
]
FaultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        "-f",
        help="Inject a fault: SITE=MODE[:first=N,every=N,path=/p,retry_after=S,delay=S]. Repeatable.",
        show_default=False,
    ),
]


PortBaseOption = Annotated[
    int | None,
    typer.Option(
        "--port-base",
        help="Serve the sites on this port and the next ones, the same every run (0: free ports; default: "
        "sim.port_base).",
        min=0,
        max=65000,
        show_default=False,
    ),
]


def _start_simulation(
    settings: Settings,
    faults: list[Any],
    seed: int | None,
    as_of: str | None,
    contract: str | None = None,
    port_base: int | None = None,
    front_end: str = "threads",
) -> Any:
    from cli.simlink import world_spec
    from sim import Simulation

    spec = world_spec(settings, faults)
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if as_of is not None:
        changes["as_of"] = date.fromisoformat(as_of)
    if contract is not None:
        if contract not in ("full", "public"):
            raise typer.BadParameter(f"expected full or public, got {contract!r}", param_hint="--contract")
        changes["contract"] = contract
    if changes:
        from dataclasses import replace

        spec = replace(spec, **changes)
    unknown = sorted({f.site for f in spec.faults} - set(spec.site_ids))
    if unknown:
        raise typer.BadParameter(
            f"unknown site {unknown[0]!r}; sites are {', '.join(spec.site_ids)}", param_hint="--fault"
        )
    base = settings.sim.port_base if port_base is None else port_base
    try:
        return Simulation(spec, host=settings.sim.host, port_base=base, front_end=front_end).start()  # type: ignore[arg-type]
    except OSError as exc:
        if base:
            raise CchcError(
                f"cannot serve the simulation on {settings.sim.host}:{base}–{base + len(spec.site_ids) - 1}: "
                f"{exc.strerror}; is another `cchc sim` or `cchc demo` running? Stop it, or give --port-base "
                "(0: free ports)"
            ) from None
        raise


def _site_table(simulation: Any, settings: Settings) -> Table:
    table = Table(title="Simulated portals", show_lines=False)
    table.add_column("site")
    table.add_column("stands for")
    table.add_column("URL")
    table.add_column("faults")
    real = {
        "dvc_tinh": settings.sources.dvc_tinh.base_url,
        "motcua": settings.sources.motcua.base_url,
        "dvc_quocgia": settings.sources.dvc_quocgia.base_url,
        **{p.id: p.base_url for p in settings.portal},
    }
    for site_id, url in simulation.urls.items():
        faults = ", ".join(f.mode for f in simulation.spec.faults if f.site == site_id)
        table.add_row(site_id, real.get(site_id, ""), url, faults or "—")
    return table


def _truth_sample(truth: dict[str, Any], months: int = 3) -> Table:
    table = Table(title=f"Ground truth (sample, as of {truth['generator']['as_of']})")
    for column in (
        "unit",
        "TTHC",
        "toàn trình",
        "month",
        "posts",
        "CCHC posts",
        "dossiers",
        "on time",
        "late",
    ):
        table.add_column(column, justify="left" if column in ("unit", "month") else "right")
    for unit_id, unit in truth["units"].items():
        procedures = unit["procedures"] or {}
        recent = list(unit["months"].items())[-months:]
        for n, (month, cell) in enumerate(recent):
            table.add_row(
                unit_id if n == 0 else "",
                str(procedures.get("tthc_listed", "—")) if n == 0 else "",
                str(procedures.get("tthc_toan_trinh", "—")) if n == 0 else "",
                month,
                str(cell["news_posts"]),
                str(cell["news_posts_cchc"]),
                str(cell.get("hs_received", "—")),
                str(cell.get("hs_processed_on_time", "—")),
                str(cell.get("hs_processed_late", "—")),
            )
    return table


def _serve_until_interrupted(simulation: Any, seconds: float | None) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        simulation.stop()


@app.command()
def sim(
    fault: FaultOption = None,
    truth: Annotated[Path | None, typer.Option(help="Write the ground truth (JSON) to this file.")] = None,
    write_config: Annotated[
        Path | None, typer.Option(help="Write a copy of the config whose base URLs point at the simulation.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed (default: sim.seed).")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Data as of this date, YYYY-MM-DD (default: sim.as_of).")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="Keep serving until Ctrl-C (--no-serve: write files and exit).")
    ] = True,
    seconds: Annotated[float | None, typer.Option(help="Serve this many seconds, then stop.")] = None,
    contract: ContractOption = None,
    port_base: PortBaseOption = None,
    portals: Annotated[
        int | None,
        typer.Option(
            help="Simulate this many ward/commune units, each with its NukeViet portal, instead of the configured "
            "ones (a scale run; --write-config writes their units and portals).",
            show_default=False,
        ),
    ] = None,
    front_end: Annotated[
        str | None,
        typer.Option(
            "--front-end",
            help="threads (a thread per site and per connection) or event-loop (one thread for every site); "
            "default: event-loop with --portals, threads otherwise.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the simulated portals over HTTP on loopback, with their ground truth and injectable faults."""
    from cli.simlink import write_pointed_config

    settings = current_settings()
    if portals is not None:
        from cli.simscale import scaled_settings

        try:
            settings = scaled_settings(settings, portals)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--portals") from None
    if front_end is None:
        # Thousands of portals need one thread for all; the default simulation's 17 sites are as well served
        # by threads (docs/simulation.md, the two front ends).
        front_end = "event-loop" if portals is not None else "threads"
    if front_end not in ("threads", "event-loop"):
        raise typer.BadParameter(
            f"expected threads or event-loop, got {front_end!r}", param_hint="--front-end"
        )
    simulation = _start_simulation(
        settings, _parse_faults(fault), seed, as_of, contract, port_base, front_end
    )
    try:
        if len(simulation.urls) <= 40:
            out.print(_site_table(simulation, settings))
        else:
            out.print(f"{len(simulation.urls)} simulated sites on {settings.sim.host}")
        if truth is not None:
            truth.parent.mkdir(parents=True, exist_ok=True)
            truth.write_text(json.dumps(simulation.truth(), ensure_ascii=False, indent=1), encoding="utf-8")
            out.print(f"ground truth written to {truth}")
        if write_config is not None:
            write_pointed_config(settings, simulation.urls, write_config)
            out.print(f"config pointing at the simulation written to {write_config}")
    except BaseException:
        simulation.stop()
        raise
    if not serve:
        simulation.stop()
        return
    out.print("serving; Ctrl-C stops" if seconds is None else f"serving for {seconds:g} s")
    _serve_until_interrupted(simulation, seconds)


@app.command()
def demo(
    fault: FaultOption = None,
    browser: Annotated[
        bool, typer.Option(help="Also capture the JavaScript-filled pages with Chromium.")
    ] = True,
    serve: Annotated[
        bool, typer.Option(help="Keep serving the simulation after the crawl, until Ctrl-C.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the indicator table and the summaries (default: out/).",
            show_default=False,
        ),
    ] = None,
    contract: ContractOption = None,
    national_api: Annotated[
        str | None,
        typer.Option(
            "--national-api",
            help="rest.jsp or v1: read every period of the national portal from that API "
            "(default: sources.dvc_quocgia.apis).",
            show_default=False,
        ),
    ] = None,
    port_base: PortBaseOption = None,
) -> None:
    """Start the simulated portals, crawl everything once, show per unit what was found beside the truth, then
    write the indicator table and every unit's pre-visit summary into out/ and print the ranking."""
    from cli.demo import comparison_table, demo_settings, start_demo_authorities, with_national_api
    from indicators.observed import raw_figures

    settings = with_national_api(current_settings(), national_api)
    # The demo meets NukeViet as sites are really set up: each site's settings drawn from the seed (docs/news.md).
    settings = settings.model_copy(
        update={"sim": settings.sim.model_copy(update={"nukeviet_settings": "random"})}
    )
    simulation = _start_simulation(settings, _parse_faults(fault), None, None, contract, port_base)
    authorities = start_demo_authorities(settings)
    try:
        out.print(_site_table(simulation, settings))
        if simulation.spec.contract != "full":
            out.print(
                f"the simulated APIs send only the {simulation.spec.contract} fields (portal-fields.md)"
            )
        pointed = demo_settings(settings, simulation.urls, authorities, simulation.world)
        report = cli_probes.run_crawl(
            pointed,
            list(PROBES.values()),
            pointed.units_in_inspection(),
            trigger="demo",
            with_browser=browser,
        )
        out.print(cli_probes.summary_table(report))
        # Editors at work, then a second news crawl: counts as published now, the changes as findings.
        edits = simulation.edit_news()
        if edits:
            out.print(f"editors removed, re-dated and backdated {len(edits)} posts; crawling the news again")
            again = cli_probes.run_crawl(
                pointed, [PROBES["news"]], pointed.units_in_inspection(), trigger="demo"
            )
            out.print(cli_probes.summary_table(again))
        store = open_store(pointed)
        try:
            figures = raw_figures(store.engine, pointed)
        finally:
            store.close()
        table, differing = comparison_table(figures, simulation.truth(), pointed)
        out.print(table)
        out.print(
            "every headline figure equals the ground truth (N/A: not published in the portals' public fields)"
            if differing == 0
            else f"{differing} figures differ from the ground truth (in red)"
        )
        out.print(
            f"evidence: {pointed.storage.database_url} and {pointed.storage.blob_dir}; check it with `cchc evidence verify`"
        )
        _demo_outputs(pointed, figures, out_dir)
    except BaseException:
        simulation.stop()
        raise
    finally:
        for authority in authorities:
            authority.close()
    if not serve:
        simulation.stop()
        return
    out.print("serving; Ctrl-C stops")
    _serve_until_interrupted(simulation, None)


def _demo_outputs(settings: Settings, figures: Any, out_dir: Path | None) -> None:
    """The indicator table (XLSX, JSON) and every summary (HTML) with the city overview, then the ranking."""
    import indicators
    from cli.indicators import terminal_table, write
    from cli.progress import Steps
    from reports import common_period, default_out_dir, write_all, write_all_steps

    folder = out_dir or default_out_dir(settings)
    period = common_period(settings)
    table = indicators.table(period, settings=settings, raw=figures)
    write(table, "xlsx", folder / f"chi-so-{period.replace('..', '_')}.xlsx")
    write(table, "json", folder / f"chi-so-{period.replace('..', '_')}.json")
    bundles = _demo_bundles(settings, table, period)
    with Steps("summaries", write_all_steps(settings, "html")) as steps:
        written = write_all(settings, "html", folder, period, on_step=steps.advance)
    out.print(terminal_table(table, detailed=False))
    out.print(f"indicator table and {len(written)} summaries (period {period}) written to {folder}")
    if bundles:
        key = bundles[0][1]
        out.print(
            f"{len(bundles)} evidence bundles in {settings.storage.bundle_dir}; check one anywhere, offline:"
        )
        pins = " ".join(f"--tsa {a.name}={a.certificates}" for a in settings.timestamp.authority)
        out.print(f"  cchc evidence check-bundle {bundles[0][0]} --trust-key {key} {pins}", markup=False)


def _demo_bundles(settings: Settings, table: Any, period: str) -> list[tuple[Path, str]]:
    """Each unit's signed, timestamped evidence bundle (WACZ) of the demo's period."""
    from cli.progress import Steps
    from cli.wiring import timestamp_authorities
    from evidence.wacz import LedgerLines
    from indicators import parse_period
    from reports.bundle import make_bundle
    from reports.paths import bundle_path

    chosen = parse_period(period)
    authorities = timestamp_authorities(settings)
    made: list[tuple[Path, str]] = []
    store = open_store(settings)
    try:
        if store.checkpoint_needed():
            store.checkpoint(run_id=None, reason="bundle")
        units = settings.units_in_inspection()
        ledger = LedgerLines(store.engine)  # the units' segments overlap: each record is read once
        with Steps("evidence bundles", len(units)) as steps:
            for unit in units:
                target = bundle_path(settings, unit.id, chosen)
                target.parent.mkdir(parents=True, exist_ok=True)
                summary = make_bundle(settings, store.engine, store.blobs, store.signing_key(), [unit], chosen, target,
                                      authorities, frame=table, ledger=ledger)  # fmt: skip
                made.append((summary.path, store.signing_key().public_hex))
                steps.advance(unit.id)
    finally:
        store.close()
    return made


# --- verbs that later issues build ------------------------------------------------------------------------------


app.command("crawl")(cli_probes.crawl_command)
app.command("discover")(cli_discover.discover_command)
app.command("parse")(cli_probes.parse_command)
app.command("reparse")(cli_probes.reparse_command)


@app.command()
def run(
    standby: Annotated[
        bool,
        typer.Option(help="When another daemon holds the lease, wait to take over (--no-standby: exit 3)."),
    ] = True,
    once: Annotated[
        str | None,
        typer.Option(
            "--once",
            help="Run this one job now (probe:news, visit:UNIT:DATE, timestamps), under the lease, then exit: 0 when "
            "it ended ok, 3 when not.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The scheduled daemon: probes on their schedules and the inspection calendar, one daemon per database."""
    from zoneinfo import ZoneInfo

    from scheduler import Daemon

    settings = current_settings()
    if not CliState.log_json:
        logs.configure(json_lines=False, level=logging.INFO, tz=ZoneInfo(settings.inspection.timezone))
    daemon = Daemon(settings, config_path(CliState.config), standby=standby, log_json=CliState.log_json)
    if once is not None:
        result = daemon.run_once(once)
        if result is None:
            raise typer.Exit(3)
        line = f"job {once}: {result['status']}" + (f" (run {result['run_id']})" if result["run_id"] else "")
        (out if result["status"] == "ok" else err).print(line + (f": {result['detail']}" if result["detail"] else ""),
                                                        markup=False)  # fmt: skip
        raise typer.Exit(0 if result["status"] == "ok" else 3)
    code = daemon.run()
    if daemon.lease_lost:
        err.print("stopped: another daemon took the scheduling lease (this one had stopped renewing it)")
        raise typer.Exit(4)
    raise typer.Exit(code)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Lease holder and heartbeat, next fire times, last runs per probe, missed runs, evidence size, the calendar."""
    from rich.markup import escape
    from rich.table import Table

    from cli.status import as_json as status_json
    from cli.status import daemon_line, display_rows, gather
    from evidence.db import open_database

    settings = current_settings()
    engine = open_database(settings.storage.database_url)
    try:
        state = gather(engine, settings)
    finally:
        engine.dispose()
    if as_json:
        out.print(status_json(state), markup=False)
        return
    out.print(daemon_line(state.daemon), markup=False)
    for title, rows in (("Jobs", state.jobs), ("Last run of each probe (its own captures)", state.probes),
                        ("Missed fire times", state.missed), ("Inspection calendar", state.visits),
                        ("Pending timestamps", state.timestamps),
                        ("Our units on the portals (latest run of each probe)", state.matches),
                        ("Figures not available (N/A), and why", state.not_available)):  # fmt: skip
        if not rows:
            out.print(f"{title}: none")
            continue
        table = Table(title=title)
        shaped = display_rows(rows)
        for column in shaped[0]:
            table.add_column(column)
        for row in shaped:
            table.add_row(*(escape(v) for v in row.values()))
        out.print(table)
    size = state.evidence
    out.print(
        f"evidence: {size['snapshots']} snapshots, {size['blobs']} blobs, {size['raw_bytes'] / 1e6:.1f} MB raw, "
        f"{size['stored_bytes'] / 1e6:.1f} MB stored"
        + (f", database {size['database_bytes'] / 1e6:.1f} MB" if "database_bytes" in size else "")
    )


app.command("indicators")(cli_indicators.indicators_command)


app.command("report")(cli_reports.report_command)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen here (default: web.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port).", min=1, max=65535)] = None,
) -> None:
    """The web app for analysts and inspectors: overview, units, evidence viewer, read-only SQL, JSON API.

    SIGTERM or Ctrl-C stops it within web.shutdown_grace_s and two seconds, whatever is still computing."""
    from web.app import create_app
    from web.server import serve as serve_app

    settings = current_settings()
    bind = host or settings.web.host
    application = create_app(settings, bind)
    out.print(f"cchc-watch on http://{bind}:{port or settings.web.port}/ (Ctrl-C stops)")
    serve_app(application, bind, port or settings.web.port, settings.web.shutdown_grace_s)


def main(args: list[str] | None = None) -> None:
    """Console entry point: a failed command says one line per problem on stderr and exits with the code
    cli/failures.py documents; `-v` adds the traceback."""
    argv = sys.argv[1:] if args is None else args
    command = typer.main.get_command(app)
    tidy_help(command)
    try:
        code = command.main(argv, prog_name="cchc", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(0)
    except SystemExit:
        raise
    except BaseException as exc:
        verbose = CliState.verbose or any(a in ("-v", "--verbose") for a in argv)
        if verbose:
            err.print(traceback_text(exc), markup=False, end="")
        failure = describe(exc, _database_url())
        for line in failure.lines:
            err.print(line, markup=False)
        sys.exit(failure.code)
    sys.exit(code if isinstance(code, int) else 0)


def _database_url() -> str | None:
    """The database the command was using, to name it in the error; None when the config itself fails."""
    try:
        return current_settings().storage.database_url
    except Exception:
        return None


if __name__ == "__main__":
    main()
