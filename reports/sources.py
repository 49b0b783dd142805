"""The evidence behind a summary, read from the store: snapshots by id (time, URL, SHA-256 of the body),
screenshots of browser captures as thumbnails, and the ledger's state as `evidence.verify.verify` finds it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.blobs import BlobStore
from evidence.errors import EvidenceError
from evidence.models import Observation, Snapshot, SnapshotBlob
from evidence.verify import verify
from reports.model import LedgerState, Screenshot, SnapshotRef

CHUNK = 500  # ids per IN (…) query: far below SQLite's and PostgreSQL's parameter limits
THUMBNAIL_WIDTH = 360
THUMBNAIL_MAX_HEIGHT = 240
BODY_ROLES = ("response_body", "dom")  # the SHA-256 shown for a capture: its body, else a browser's DOM


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def snapshot_refs(engine: Engine, ids: Iterable[int], tz: ZoneInfo) -> dict[int, SnapshotRef]:
    """The snapshots with these ids, each with the SHA-256 of its response body (or DOM)."""
    found: dict[int, SnapshotRef] = {}
    with Session(engine) as session:
        for chunk in _chunks(ids):
            snapshots = session.exec(select(Snapshot).where(col(Snapshot.id).in_(chunk))).all()
            links = session.exec(
                select(SnapshotBlob).where(
                    col(SnapshotBlob.snapshot_id).in_(chunk), col(SnapshotBlob.role).in_(BODY_ROLES)
                )
            ).all()
            bodies: dict[int, dict[str, str]] = {}
            for link in links:
                bodies.setdefault(link.snapshot_id, {})[link.role] = link.sha256
            for snapshot in snapshots:
                assert snapshot.id is not None
                roles = bodies.get(snapshot.id, {})
                role = next((r for r in BODY_ROLES if r in roles), "")
                found[snapshot.id] = SnapshotRef(
                    id=snapshot.id,
                    seq=snapshot.seq,
                    captured_at=snapshot.fetched_at.astimezone(tz),
                    url=snapshot.final_url or snapshot.url,
                    label=snapshot.label,
                    probe=snapshot.probe,
                    render=snapshot.render,
                    outcome=snapshot.outcome,
                    status_code=snapshot.status_code,
                    sha256=roles.get(role),
                    sha256_role=role,
                    record_hash=snapshot.record_hash,
                )
    return found


def observation_snapshots(engine: Engine, ids: Iterable[int]) -> dict[int, int]:
    """Observation id → the id of the snapshot it was read from."""
    found: dict[int, int] = {}
    with Session(engine) as session:
        for chunk in _chunks(ids):
            rows = session.exec(
                select(Observation.id, Observation.snapshot_id).where(col(Observation.id).in_(chunk))
            ).all()
            found.update({int(i): int(s) for i, s in rows if i is not None})
    return found


@dataclass(frozen=True)
class BrowserCapture:
    """A browser snapshot that kept a screenshot: enough to decide whom and which section it concerns."""

    snapshot_id: int
    seq: int
    probe: str
    unit: str | None
    url: str
    label: str
    target_key: str
    fetched_at: datetime
    sha256: str


def browser_captures(engine: Engine) -> list[BrowserCapture]:
    """Every valid browser capture with a screenshot, newest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(Snapshot, SnapshotBlob.sha256)
            .join(SnapshotBlob, col(SnapshotBlob.snapshot_id) == col(Snapshot.id))
            .where(Snapshot.render == "browser", SnapshotBlob.role == "screenshot", Snapshot.valid == True)  # noqa: E712
            .order_by(col(Snapshot.seq).desc())
        ).all()
        return [
            BrowserCapture(
                s.id or 0,
                s.seq,
                s.probe,
                s.unit,
                s.final_url or s.url,
                s.label,
                s.target_key,
                s.fetched_at,
                sha,
            )
            for s, sha in rows
        ]


def thumbnail(blobs: BlobStore, capture: BrowserCapture, tz: ZoneInfo) -> Screenshot | None:
    """A downscaled top part of a screenshot (JPEG data URI); None when its blob cannot be read."""
    try:
        data = blobs.get(capture.sha256)
        with Image.open(io.BytesIO(data)) as image:
            picture = image.convert("RGB")
    except (EvidenceError, OSError):
        return None
    width = THUMBNAIL_WIDTH
    height = max(1, round(picture.height * width / max(1, picture.width)))
    picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    if height > THUMBNAIL_MAX_HEIGHT:
        picture = picture.crop((0, 0, width, THUMBNAIL_MAX_HEIGHT))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80, optimize=True)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Screenshot(
        snapshot_id=capture.snapshot_id,
        url=capture.url,
        label=capture.label,
        captured_at=capture.fetched_at.astimezone(tz),
        sha256=capture.sha256,
        data_uri=uri,
        width=picture.width,
        height=picture.height,
    )


def ledger_state(engine: Engine, blobs: BlobStore, tz: ZoneInfo, now: datetime) -> LedgerState:
    """Verify the whole ledger now (every blob digest, record hash, link and checkpoint) and keep the result."""
    report = verify(engine, blobs)
    return LedgerState(
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        snapshots=report.snapshots,
        checkpoints=report.checkpoints,
        unsigned_after_last_checkpoint=report.unsigned_after_last_checkpoint,
        problems=len(report.problems),
        first_problems=tuple(str(p) for p in report.problems[:5]),
        verified_at=now.astimezone(tz),
    )


def latest_per_target(captures: Sequence[BrowserCapture]) -> list[BrowserCapture]:
    """The newest capture of each target (captures come newest first)."""
    seen: set[str] = set()
    kept: list[BrowserCapture] = []
    for capture in captures:
        if capture.target_key not in seen:
            seen.add(capture.target_key)
            kept.append(capture)
    return kept
