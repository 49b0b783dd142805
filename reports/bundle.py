"""A unit's (or the whole inspection's) evidence bundle: the indicator table of a period with every figure naming
its snapshots, and those snapshots (plus the unit's site captures of the period) packaged by evidence.wacz.

The bundle is made where the collector's key is (the CLI, the daemon's summary job); the web app only offers
bundles already made, from `out/bundles/`.
"""

from __future__ import annotations

import base64
import json
import math
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from rfc3161_client import decode_timestamp_response
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cchc.settings import Settings, Unit
from cchc.timeutil import VN_TZ
from evidence.blobs import BlobStore
from evidence.models import Snapshot
from evidence.signing import CollectorKey
from evidence.timestamps import Authority
from evidence.wacz import ATTESTATION, BundleFile, BundleSummary, LedgerLines, write_bundle
from indicators import Period, parse_period, table
from reports.model import BundleFacts, Summary
from reports.paths import bundle_path

FIGURE_FIELDS = (
    "unit",
    "indicator",
    "period",
    "status",
    "numerator",
    "denominator",
    "rate",
    "points",
    "max_points",
)
FIGURES_SCHEMA = {
    "fields": [
        *({"name": name, "type": "string"} for name in ("unit", "indicator", "period", "status")),
        *({"name": name, "type": "any"} for name in FIGURE_FIELDS[4:]),
        {"name": "snapshots", "type": "array"},
    ]
}
SITE_PROBES = ("availability",)  # what the summary shows of a unit's sites rests on these captures


def figures_of(frame: pd.DataFrame, units: Sequence[str]) -> list[dict[str, Any]]:
    """Each figure of the units' table, with the snapshots behind it (JSON-ready)."""
    rows = frame[frame["unit"].isin(list(units))]
    figures = []
    for record in rows.to_dict("records"):
        figure = {k: _plain(record.get(k)) for k in FIGURE_FIELDS if k in record}
        figure["snapshots"] = sorted({int(s) for s in (record.get("snapshot_ids") or [])})
        figures.append(figure)
    return figures


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def site_snapshots(engine: Engine, units: Sequence[str]) -> set[int]:
    """The units' latest site captures (availability, screenshots): what the summary shows of their sites."""
    found: set[int] = set()
    with Session(engine) as session:
        for unit in units:
            mine = (col(Snapshot.unit) == unit, col(Snapshot.probe).in_(SITE_PROBES))
            last_run: int | None = session.exec(select(func.max(Snapshot.run_id)).where(*mine)).one()
            if last_run is None:
                continue
            found |= {
                i
                for i in session.exec(select(Snapshot.id).where(*mine, col(Snapshot.run_id) == last_run))
                if i
            }
    return found


def make_bundle(
    settings: Settings,
    engine: Engine,
    blobs: BlobStore,
    key: CollectorKey,
    units: Sequence[Unit],
    period: Period,
    out: Path,
    authorities: Sequence[Authority] = (),
    frame: pd.DataFrame | None = None,
    ledger: LedgerLines | None = None,
) -> BundleSummary:
    """Write the bundle of the units' figures for the period to `out` (one `ledger` for many bundles of a store
    reads each ledger record once)."""
    table_frame = frame if frame is not None else table(period.key, settings=settings, engine=engine)
    ids = [u.id for u in units]
    figures = figures_of(table_frame, ids)
    snapshots = {s for f in figures for s in f["snapshots"]} | site_snapshots(engine, ids)
    who = units[0].name if len(units) == 1 else f"{len(units)} đơn vị"
    figures_file = b"".join(json.dumps(f, ensure_ascii=False).encode() + b"\n" for f in figures)
    return write_bundle(
        engine,
        blobs,
        out,
        snapshot_ids=snapshots,
        key=key,
        title=f"Minh chứng {who}, kỳ {period.key} ({settings.inspection.title})",
        description=(
            "Bằng chứng của các số liệu chỉ số CCHC: các trang đã thu thập (WARC), sổ cái và chữ ký của đơn vị "
            "thu thập, dấu thời gian độc lập. Kiểm tra: `cchc evidence check-bundle <tệp>`."
        ),
        files=[BundleFile("figures/figures.jsonl", figures_file, FIGURES_SCHEMA)],
        authorities=authorities,
        about={"units": ids, "period": period.key, "inspection": settings.inspection.id},
        ledger=ledger,
    )


def bundle_facts(path: Path) -> BundleFacts | None:
    """What the summary's appendix says of a bundle file (None when there is none or it cannot be read)."""
    try:
        with zipfile.ZipFile(path) as bundle:
            digest = json.loads(bundle.read("datapackage-digest.json"))
            package = json.loads(bundle.read("datapackage.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    attestation = digest.get(ATTESTATION) or {}
    stamps = []
    for stamp in attestation.get("rfc3161") or []:
        try:
            reply = decode_timestamp_response(base64.b64decode(stamp["reply"]))
        except (KeyError, ValueError, TypeError):
            continue
        moment = reply.tst_info.gen_time
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        stamps.append((str(stamp.get("authority")), moment.astimezone(VN_TZ)))
    try:
        created: datetime | None = datetime.fromisoformat(
            str(package.get("created", "")).replace("Z", "+00:00")
        )
    except ValueError:
        created = None
    return BundleFacts(
        file_name=path.name,
        digest=str(digest.get("hash")),
        created=created.astimezone(VN_TZ) if created else None,
        collector_key=str((attestation.get("ed25519") or {}).get("publicKey", "")),
        timestamps=tuple(stamps),
        snapshots=len((package.get("cchc") or {}).get("snapshots") or []),
    )


def attach_bundles(settings: Settings, summaries: Sequence[Summary]) -> None:
    """Give each summary the facts of its unit's bundle for its period, when `cchc evidence bundle` made one."""
    for summary in summaries:
        period = parse_period(summary.cover.period_key)
        summary.bundle = bundle_facts(bundle_path(settings, summary.cover.unit_id, period))
