"""`cchc evidence …`: verify the ledger and its blobs, show one snapshot, export WARC, print the public key."""

from __future__ import annotations

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
from evidence.blobs import LocalBlobStore
from evidence.db import open_database
from evidence.errors import EvidenceError
from evidence.ledger import record_hash
from evidence.models import Blob, Checkpoint, Run, Snapshot, SnapshotBlob
from evidence.signing import CollectorKey
from evidence.verify import verify

evidence_app = typer.Typer(help="Verify, export and inspect the stored evidence.", no_args_is_help=True)


def _open(settings: Settings) -> tuple[Engine, LocalBlobStore]:
    return open_database(settings.storage.database_url), LocalBlobStore(
        settings.storage.blob_dir, durable=False
    )


def _trusted_keys(settings: Settings, extra: list[str] | None) -> set[str] | None:
    keys = set(extra or [])
    if settings.collector.key_file.exists():
        keys.add(CollectorKey.load_or_create(settings.collector.key_file).public_hex)
    return keys or None


@evidence_app.command("verify")
def evidence_verify(
    trust_key: Annotated[
        list[str] | None,
        typer.Option(help="Also trust checkpoints signed by this Ed25519 public key (hex). Repeatable."),
    ] = None,
) -> None:
    """Recompute every blob digest, record hash and chain link, and check the signed checkpoints.

    Every problem is printed with its record id; the exit code is 0 only when everything is clean.
    """
    settings = current_settings()
    engine, blobs = _open(settings)
    trusted = _trusted_keys(settings, trust_key)
    report = verify(engine, blobs, trusted)
    for problem in report.problems:
        err.print(str(problem), markup=False)
    summary = (
        f"{report.snapshots} snapshots, {report.blobs} blobs, {report.checkpoints} checkpoints; "
        f"chain head seq {report.head_seq} {report.head_hash[:16]}…"
    )
    if report.unsigned_after_last_checkpoint:
        summary += f"; {report.unsigned_after_last_checkpoint} records after the last signed checkpoint"
    if trusted is None:
        summary += "; no collector key found, so signatures were checked but not against a trusted key"
    if report.clean:
        out.print(f"evidence verifies: {summary}")
        return
    out.print(f"evidence does NOT verify: {len(report.problems)} problems; {summary}")
    raise typer.Exit(1)


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
    if not own:
        raise typer.Exit(1)


def _local_start(day: str | None, tz: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(date.fromisoformat(day), time(0), tz)


@evidence_app.command("export")
def evidence_export(
    warc: Annotated[Path, typer.Option("--warc", help="Write a WARC 1.1 file (.warc.gz) here.")],
    since: Annotated[
        str | None, typer.Option(help="Captures from this day on (YYYY-MM-DD, local time).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Captures before this day (YYYY-MM-DD, local time).")
    ] = None,
    unit: Annotated[list[str] | None, typer.Option(help="Only this unit. Repeatable.")] = None,
    probe: Annotated[list[str] | None, typer.Option(help="Only this probe. Repeatable.")] = None,
) -> None:
    """Export captures as WARC 1.1: request and response records from the raw bytes, screenshots and DOMs as
    resource records, SHA-256 digests; readable by warcio and clean under `warcio check`."""
    from evidence.warc import export_warc

    settings = current_settings()
    tz = ZoneInfo(settings.inspection.timezone)
    try:
        start, end = _local_start(since, tz), _local_start(until, tz)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--until") from None
    engine, blobs = _open(settings)
    summary = export_warc(engine, blobs, warc, since=start, until=end, units=unit or (), probes=probe or ())
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
