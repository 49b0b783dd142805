"""The JSON API: the same data as the pages, described by OpenAPI (/openapi.json, /docs)."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from evidence.models import Observation, Snapshot, SnapshotBlob
from web.access import require_token
from web.context import records
from web.pages import context, default_period, known_id, run_sql, verification

router = APIRouter(prefix="/api", tags=["api"])


class UnitOut(BaseModel):
    id: str
    name: str
    kind: str
    portal: str


class IndicatorRow(BaseModel):
    period: str
    unit: str
    unit_name: str
    tier: str
    family: str
    indicator: str
    name_vi: str
    numerator: float | None
    denominator: float | None
    rate: float | None
    points: float | None
    max_points: float
    status: str
    reason: str
    band: str | None
    rank: float | None
    published_rank: float | None = None
    coverage: float | None
    flag: bool
    reported_value: float | None
    observation_ids: list[int]
    snapshot_ids: list[int]


class ObservationOut(BaseModel):
    id: int
    snapshot_id: int
    probe: str
    unit: str | None
    metric: str
    period: str
    value: float | None
    text: str | None
    parser_version: str


class BlobOut(BaseModel):
    role: str
    sha256: str
    url: str | None
    state: str


class SnapshotOut(BaseModel):
    id: int
    seq: int
    run_id: int
    probe: str
    unit: str | None
    url: str
    final_url: str
    render: str
    outcome: str
    valid: bool
    status_code: int | None
    fetched_at: str
    prev_hash: str
    record_hash: str
    verified: bool
    verification: str
    blobs: list[BlobOut]


class SqlOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: int


class CrawlRequest(BaseModel):
    unit: str = Field(max_length=80)
    probes: list[str] = Field(default=[], max_length=8)


class CrawlStarted(BaseModel):
    unit: str
    pid: int
    message: str


@router.get("/units", response_model=list[UnitOut])
def units(request: Request) -> list[UnitOut]:
    return [UnitOut(id=u.id, name=u.name, kind=u.kind, portal=u.portal) for u in context(request).units()]


@router.get("/indicators", response_model=list[IndicatorRow])
def indicator_table(
    request: Request,
    period: Annotated[
        str | None, Query(max_length=40, description="2023-09, 2023-Q3, 2023-H1, 2023, 2023-01..2023-08")
    ] = None,
    unit: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    ctx = context(request)
    try:
        table = ctx.table(period or default_period(ctx))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if unit:
        table = table[table["unit"].isin(unit)]
    return records(table)


@router.get("/units/{unit_id}/observations", response_model=list[ObservationOut])
def unit_observations(
    request: Request,
    unit_id: str,
    metric: str | None = Query(None, max_length=80),
    limit: int = Query(100, ge=1, le=5000),
) -> list[Observation]:
    ctx = context(request)
    if ctx.unit(unit_id) is None:
        raise HTTPException(404, f"unknown unit {unit_id!r}")
    with Session(ctx.engine) as session:
        query = select(Observation).where(Observation.unit == unit_id)
        if metric:
            query = query.where(Observation.metric == metric)
        return list(session.exec(query.order_by(col(Observation.id).desc()).limit(limit)).all())


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut)
def snapshot(request: Request, snapshot_id: int) -> SnapshotOut:
    ctx = context(request)
    if not known_id(snapshot_id):
        raise HTTPException(404, f"no snapshot {snapshot_id}")
    with Session(ctx.engine) as session:
        found = session.get(Snapshot, snapshot_id)
        if found is None:
            raise HTTPException(404, f"no snapshot {snapshot_id}")
        links = list(session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot_id)).all())
    clean, text, states = verification(ctx, found, links)
    return SnapshotOut(id=snapshot_id, seq=found.seq, run_id=found.run_id, probe=found.probe, unit=found.unit, url=found.url,
                       final_url=found.final_url, render=found.render, outcome=found.outcome, valid=found.valid,
                       status_code=found.status_code, fetched_at=found.fetched_at.isoformat(), prev_hash=found.prev_hash,
                       record_hash=found.record_hash, verified=clean, verification=text,
                       blobs=[BlobOut(**s) for s in states])  # fmt: skip


@router.get("/sql", response_model=SqlOut)
def sql(request: Request, q: str = Query(..., min_length=1, max_length=20000)) -> SqlOut:
    result, error = run_sql(request, q)
    if error:
        raise HTTPException(400, error)
    return SqlOut(columns=list(result.columns), rows=[[_plain(v) for v in r] for r in result.rows], truncated=result.truncated,
                  elapsed_ms=result.elapsed_ms)  # fmt: skip


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)


@router.post("/crawl", response_model=CrawlStarted, status_code=202)
def surprise_crawl(request: Request, body: CrawlRequest) -> CrawlStarted:
    """A surprise inspection: crawl one unit now, marked surprise. Always needs the token."""
    ctx = context(request)
    require_token(request, ctx.settings.web.token)
    if ctx.unit(body.unit) is None:
        raise HTTPException(404, f"unknown unit {body.unit!r}")
    from probes import PROBES  # the crawl's own list: a name it would refuse is refused here, not after 202

    unknown = [p for p in body.probes if p not in PROBES]
    if unknown:
        raise HTTPException(400, f"unknown probe {unknown[0]!r}; probes are {', '.join(PROBES)}")
    command = [
        sys.executable,
        "-m",
        "cli",
        "--config",
        ctx.settings.source_file,
        "crawl",
        "--surprise",
        "--unit",
        body.unit,
        "--no-progress",
    ]
    for probe in body.probes:
        command += ["--probe", probe]
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    return CrawlStarted(
        unit=body.unit, pid=child.pid, message="đã bắt đầu kiểm tra đột xuất / surprise crawl started"
    )


@router.get("/health")
async def health() -> dict[str, str]:
    # async: answered on the event loop, never queued behind worker threads busy with heavy requests
    return {"status": "ok"}
