"""`cchc evidence …`: verify the ledger and its blobs, show one snapshot, export WARC, print the public key."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cchc.errors import CchcError
from cchc.settings import Settings
from cli.console import current_settings, err, out
from cli.options import PERIOD_HELP, ProbesOption, UnitsOption, check_units, unknown_unit
from cli.progress import Steps
from cli.wiring import open_store, timestamp_authorities
from evidence.blobs import LocalBlobStore
from evidence.db import open_database
from evidence.errors import EvidenceError
from evidence.ledger import FLAGGED, record_hash
from evidence.models import Blob, Checkpoint, Event, Run, Snapshot, SnapshotBlob
from evidence.signing import CollectorKey, parse_public_key
from evidence.store import EvidenceStore
from evidence.verify import VERIFY_STEPS, VerifyReport, verify

evidence_app = typer.Typer(help="Verify, export and inspect the stored evidence.", no_args_is_help=True)


def _open(settings: Settings) -> tuple[Engine, LocalBlobStore]:
    return open_database(settings.storage.database_url), LocalBlobStore(
        settings.storage.blob_dir, durable=False
    )


def _trusted_keys(values: list[str] | None) -> set[str] | None:
    """The keys given with --trust-key, and only those: never the key file beside the evidence."""
    if not values:
        return None
    keys = set()
    for value in values:
        try:
            keys.add(parse_public_key(value))
        except ValueError as exc:
            raise CchcError(f"--trust-key: {exc}") from None
    return keys


@evidence_app.command("verify")
def evidence_verify(
    trust_key: Annotated[
        list[str] | None,
        typer.Option(
            help="Trust checkpoints signed by this Ed25519 public key, and no other: hex, or a file with the hex "
            "or the PEM `cchc evidence public-key` prints. Repeatable (a key used before a rotation)."
        ),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(help="The witness file to check the chains against (default: collector.witness_file)."),
    ] = None,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also parse the stored evidence again with today's parsers and compare the observations.",
        ),
    ] = False,
) -> None:
    """Recompute every blob digest, record hash and link of both chains, check that every run, observation and
    parse failure is what its event says, the signed checkpoints, the unsigned tail against the writer's journal,
    and the chains against the witness.

    Every problem is printed with its record id; the exit code is 0 only when everything is clean. Without
    --trust-key the signatures show that the store agrees with itself, not who made it."""
    settings = current_settings()
    trusted = _trusted_keys(trust_key)
    engine, blobs = _open(settings)
    with Steps("verify", VERIFY_STEPS) as steps:
        report = verify(engine, blobs, trusted, witness_file=witness or settings.collector.witness_file,
                        journal_file=settings.storage.journal, on_step=steps.advance)  # fmt: skip
    problems = [str(p) for p in report.problems]
    deep_line = ""
    if deep:
        deep_line, differences = _recheck(settings)
        problems += differences
    for problem in problems:
        err.print(problem, markup=False)
    from web.metrics import write_verify_status  # imported here: every other verb starts without FastAPI

    write_verify_status(settings, ok=not problems, problems=len(problems))
    if problems:
        _alert_verify_failed(settings, problems)
    out.print(
        ("evidence verifies: " if not problems else f"evidence does NOT verify: {len(problems)} problems; ")
        + _summary(report),
        markup=False,
    )
    for line in (_authenticity(report), report.witness, report.journal, deep_line):
        if line:
            out.print(line, markup=False)
    if problems:
        raise typer.Exit(1)


def _alert_verify_failed(settings: Settings, problems: list[str]) -> None:
    from cchc.alerts import VERIFY_FAILED, Alert, Alerter

    alerter = Alerter.for_settings(settings)
    alerter.raise_alerts([Alert(VERIFY_FAILED, "evidence", f"evidence does not verify: {len(problems)} problems; "
                                f"the first: {problems[0]}", alerter.link("/"))])  # fmt: skip


def _summary(report: VerifyReport) -> str:
    summary = (
        f"{report.snapshots} snapshots, {report.blobs} blobs, {report.checkpoints} checkpoints, {report.events} "
        f"events ({report.runs} runs, {report.observations} observations, {report.parse_failures} parse failures); "
        f"chain head seq {report.head_seq} {report.head_hash[:16]}…, event head seq {report.event_seq}"
    )
    unsigned = report.unsigned_after_last_checkpoint + report.unsigned_events_after_last_checkpoint
    if unsigned:
        summary += (
            f"; {report.unsigned_after_last_checkpoint} snapshots and {report.unsigned_events_after_last_checkpoint}"
            " events after the last signed checkpoint"
        )
    return summary


def _authenticity(report: VerifyReport) -> str:
    if report.trusted_keys is None:
        return (
            "consistency only: no --trust-key was given, so the signatures show that the store agrees with "
            "itself, not that the collector made it; pass the published key to check authenticity"
        )
    keys = ", ".join(f"{k[:16]}…" for k in sorted(report.trusted_keys))
    return f"authenticity: checkpoints checked against the trusted key {keys} and no other"


def _recheck(settings: Settings) -> tuple[str, list[str]]:
    from probes import PROBES
    from probes._recheck import recheck

    store = EvidenceStore.reader(settings.storage.database_url, settings.storage.blob_dir)
    try:
        result = recheck(settings, store, list(PROBES.values()))
    finally:
        store.close()
    line = (
        f"deep: {result.compared} snapshots parsed again with today's parsers, {len(result.differences)} differ; "
        f"{result.older} read only by older parser versions, not compared"
    )
    return line, [f"{record}: {difference}" for record, difference in result.differences]


@evidence_app.command("show")
def evidence_show(snapshot_id: Annotated[int, typer.Argument(help="Snapshot id.")]) -> None:
    """A snapshot's metadata, its place in the chain, its blobs, and whether it verifies."""
    settings = current_settings()
    engine, blobs = _open(settings)
    with Session(engine) as session:
        snapshot = session.get(Snapshot, snapshot_id)
        if snapshot is None:
            raise CchcError(f"no snapshot with id {snapshot_id} in {settings.storage.database_url}")
        links = session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot_id)).all()
        before = session.exec(select(Snapshot.id).where(Snapshot.seq == snapshot.seq - 1)).first()
        after = session.exec(select(Snapshot.id).where(Snapshot.seq == snapshot.seq + 1)).first()
        run = session.get(Run, snapshot.run_id)
        checkpoint = session.exec(
            select(Checkpoint).where(Checkpoint.seq >= snapshot.seq).order_by(col(Checkpoint.seq)).limit(1)
        ).first()
        flags = session.exec(
            select(Event)
            .where(Event.kind == FLAGGED, Event.snapshot_id == snapshot_id)
            .order_by(col(Event.seq))
        ).all()
        sizes = {
            b.sha256: b.size
            for b in session.exec(select(Blob).where(col(Blob.sha256).in_([x.sha256 for x in links])))
        }
    fields = Table(show_header=False, title=f"Snapshot {snapshot.id}")
    rows = [
        ("url", snapshot.url),
        ("final url", snapshot.final_url),
        ("probe / unit", f"{snapshot.probe} / {snapshot.unit or '—'}"),
        ("render / method", f"{snapshot.render} / {snapshot.method}"),
        ("outcome", f"{snapshot.outcome} ({'evidence of content' if snapshot.valid else 'evidence of a failure'})"),
        ("status", f"{snapshot.status_code or '—'} {snapshot.reason}".strip()),
        ("fetched at", f"{snapshot.fetched_at.isoformat()} ({snapshot.fetched_at.astimezone(ZoneInfo(settings.inspection.timezone)):%d/%m/%Y %H:%M:%S} giờ Việt Nam)"),
        ("elapsed / attempts", f"{snapshot.elapsed_ms} ms / {snapshot.attempts}"),
        ("server / queued", "—" if snapshot.response_ms is None and snapshot.queue_ms is None
         else f"{snapshot.response_ms if snapshot.response_ms is not None else '—'} ms / {snapshot.queue_ms} ms"),
        ("peer", snapshot.peer or "—"),
        ("redirects", " → ".join(f"{h['status']} {h['url']}" for h in snapshot.redirects) or "—"),
        ("detail", snapshot.detail or "—"),
        ("run", f"{run.id} ({run.trigger}, {run.status})" if run else str(snapshot.run_id)),
        ("chain", f"seq {snapshot.seq}; previous snapshot {before or '—'}, next {after or '—'}"),
        ("prev hash", snapshot.prev_hash),
        ("record hash", snapshot.record_hash),
        ("signed by checkpoint", f"{checkpoint.id} at seq {checkpoint.seq} ({checkpoint.created_at:%Y-%m-%d %H:%M} UTC)" if checkpoint else "not yet"),
    ]  # fmt: skip
    if snapshot.not_modified_of:
        rows.append(("not modified since", f"snapshot {snapshot.not_modified_of}"))
    for flag in flags:
        rows.append(
            (
                "FLAGGED",
                f"{flag.created_at:%Y-%m-%d %H:%M} UTC, not vouched for by the collector: {flag.detail}",
            )
        )
    for name, value in rows:
        fields.add_row(name, value)
    out.print(fields)
    table = Table(title="Blobs")
    for column in ("role", "sha256", "bytes", "url", "check"):
        table.add_column(column)
    for link in links:
        try:
            blobs.get(link.sha256)
            state = "ok"
        except EvidenceError as exc:
            state = str(exc)
        table.add_row(link.role, link.sha256, str(sizes.get(link.sha256, "?")), link.url or "", state)
    out.print(table)
    own = record_hash(snapshot, list(links)) == snapshot.record_hash
    out.print(
        "record hash: ok" if own else "record hash: MISMATCH (the record or its blob links were changed)"
    )
    if flags:
        out.print(f"flagged {len(flags)} times: the collector could not vouch for this record when it signed")
    if not own or flags:
        raise typer.Exit(1)


def _local_start(day: str | None, tz: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(date.fromisoformat(day), time(0), tz)


@evidence_app.command("export")
def evidence_export(
    warc: Annotated[
        Path,
        typer.Option(
            "--warc", "--out", "-o", help="Write a WARC 1.1 file (.warc.gz) here.", show_default=False
        ),
    ],
    since: Annotated[
        str | None, typer.Option(help="Captures from this day on (YYYY-MM-DD, local time).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Captures before this day (YYYY-MM-DD, local time).")
    ] = None,
    unit: UnitsOption = None,
    probe: ProbesOption = None,
) -> None:
    """Export captures as WARC 1.1: request and response records from the raw bytes, screenshots and DOMs as
    resource records, SHA-256 digests; readable by warcio and clean under `warcio check`."""
    from evidence.warc import export_warc

    settings = current_settings()
    units = check_units(settings, unit)
    tz = ZoneInfo(settings.inspection.timezone)
    try:
        start, end = _local_start(since, tz), _local_start(until, tz)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--until") from None
    if not warc.parent.is_dir():
        raise CchcError(f"{warc.parent}: no such folder; create it first, or write the WARC elsewhere")
    engine, blobs = _open(settings)
    probes = [str(p) for p in probe or ()]
    with Steps("export: snapshots written", every_s=5.0) as steps:
        summary = export_warc(engine, blobs, warc, since=start, until=end, units=units, probes=probes,
                              on_snapshot=steps.advance)  # fmt: skip
    out.print(f"{summary.records} WARC records from {summary.snapshots} snapshots written to {warc}")


@evidence_app.command("public-key")
def evidence_public_key() -> None:
    """Print the collector's Ed25519 public key (PEM), to verify checkpoints elsewhere."""
    settings = current_settings()
    if not settings.collector.key_file.exists():
        raise CchcError(f"{settings.collector.key_file}: no collector key yet; it is made on the first crawl")
    key = CollectorKey.load_or_create(settings.collector.key_file)
    out.print(key.public_pem().strip(), markup=False)
    out.print(f"raw (hex): {key.public_hex}")


@evidence_app.command("timestamp")
def evidence_timestamp() -> None:
    """Ask the configured time-stamping authorities for every token still missing (checkpoints)."""
    from evidence.timestamps import stamp_checkpoints

    settings = current_settings()
    authorities = timestamp_authorities(settings)
    if not authorities:
        out.print(
            "no time-stamping authority is configured ([[timestamp.authority]]): nothing to do", markup=False
        )
        return
    engine, _ = _open(settings)
    report = stamp_checkpoints(engine, authorities)
    for failure in report.failed:
        err.print(failure, markup=False)
    out.print(f"{report.obtained} token(s) obtained; {len(report.failed)} still pending")
    if report.failed:
        raise typer.Exit(1)


@evidence_app.command("bundle")
def evidence_bundle(
    unit: UnitsOption = None,
    all_units: Annotated[
        bool, typer.Option("--all", help="Every unit of the inspection, in one bundle.")
    ] = False,
    period: Annotated[
        str | None,
        typer.Option(
            help=f"The period of the figures: {PERIOD_HELP} (default: the inspection year).",
            show_default=False,
        ),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="The .wacz file to write.")] = None,
) -> None:
    """A signed, timestamped WACZ bundle of the figures of a unit (or of the whole inspection) and the evidence
    behind each, which `cchc evidence check-bundle` verifies anywhere, offline."""
    from evidence.timestamps import stamp_checkpoints
    from evidence.wacz import BundleError
    from indicators import parse_period
    from reports.bundle import make_bundle
    from reports.paths import bundle_path

    settings = current_settings()
    if not unit and not all_units:
        raise typer.BadParameter("name a unit (--unit) or ask for --all", param_hint="--unit")
    try:
        units = settings.units_in_inspection() if all_units else [settings.unit_by_id(u) for u in unit or []]
    except KeyError as exc:
        raise CchcError(unknown_unit(settings, str(exc.args[0]))) from None
    chosen = parse_period(period or str(settings.inspection.year))
    target = out_file or bundle_path(settings, None if all_units else units[0].id, chosen)
    target.parent.mkdir(parents=True, exist_ok=True)
    authorities = timestamp_authorities(settings)
    store = open_store(settings)
    try:
        # Whatever the bundle holds must be under a signed, timestamped checkpoint.
        if store.checkpoint_needed():
            store.checkpoint(run_id=None, reason="bundle")
        if authorities:
            stamp_checkpoints(store.engine, authorities)
        try:
            summary = make_bundle(
                settings, store.engine, store.blobs, store.signing_key(), units, chosen, target, authorities
            )
        except BundleError as exc:
            raise CchcError(str(exc)) from None
    finally:
        store.close()
    out.print(
        f"{summary.path}: {summary.snapshots} snapshots, {summary.records} WARC records, {summary.bytes_written} bytes; "
        f"ledger seq {summary.ledger_range[0]}–{summary.ledger_range[1]} under checkpoint {summary.checkpoint_id}"
    )
    out.print(f"digest {summary.digest}")
    stamped = ", ".join(summary.timestamped_by) or "none"
    out.print(f"timestamped by: {stamped}")
    for failure in summary.timestamp_failures:
        err.print(f"no timestamp: {failure}", markup=False)


@evidence_app.command("check-bundle")
def evidence_check_bundle(
    bundle: Annotated[Path, typer.Argument(help="The .wacz file to check.")],
    trust_key: Annotated[
        list[str] | None, typer.Option(help="The collector's Ed25519 public key (hex) you trust. Repeatable.")
    ] = None,
    tsa: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=FILE: the PEM certificates you pin for a time-stamping authority. Repeatable."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Check a bundle with nothing but the file: digests, index, ledger, signatures, timestamps, figures.

    Needs no database and no network. Authorities are pinned with --tsa, and also from the configuration when
    one is found. Exits 1 when any layer fails."""
    import json as json_module

    from evidence.bundle_check import check_bundle, report_as_json

    if not bundle.is_file():
        raise CchcError(f"{bundle}: no such file")
    pinned: dict[str, bytes] = {}
    with contextlib.suppress(CchcError):  # no usable configuration here: only what the command line pins
        pinned |= {a.name: a.certificates_pem for a in timestamp_authorities(current_settings())}
    for item in tsa or []:
        name, _, file = item.partition("=")
        try:
            pinned[name] = Path(file).read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"{file}: {exc.strerror}", param_hint="--tsa") from None
    report = check_bundle(
        bundle, trusted_keys=set(trust_key) if trust_key else None, pinned_authorities=pinned
    )
    if as_json:
        out.print(json_module.dumps(report_as_json(report), ensure_ascii=False, indent=1), markup=False)
    else:
        for line in report.lines():
            out.print(line, markup=False)
        verdict = "GÓI KHÔNG ĐẠT / BUNDLE FAILS" if report.failed else "gói đạt / bundle passes"
        out.print(verdict)
    if report.failed:
        raise typer.Exit(1)
