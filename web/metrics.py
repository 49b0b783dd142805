"""`GET /metrics`: the evidence's numbers for Prometheus, read from the database at each scrape.

    cchc_captures_total{outcome}                     captures stored, by how the fetch ended
    cchc_parse_failures_total{probe}                 pages whose layout a parser did not recognise
    cchc_last_successful_run_timestamp_seconds{probe} end of the newest completed run that included the probe
    cchc_daemon_lease_info{holder,state}             who holds the scheduling lease (1), and in what state
    cchc_daemon_up                                    1 while a daemon holds a live lease
    cchc_verify_ok                                    the last `cchc evidence verify`: 1 clean, 0 problems
    cchc_verify_last_timestamp_seconds               when it ran
    cchc_evidence_snapshots, cchc_evidence_blobs, cchc_evidence_bytes{kind="raw"|"stored"}

Counts come from the evidence itself, so they are right after a restart and the same on every replica.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cchc.settings import Settings
from evidence.lease import LEASE_NAME
from evidence.models import ParseFailure, Run, Snapshot
from evidence.operations import DaemonLease
from evidence.size import evidence_size

router = APIRouter()


def verify_status_file(settings: Settings) -> Path:
    """Where `cchc evidence verify` leaves its verdict for the metrics (beside the evidence)."""
    return settings.storage.blob_dir.parent / "verify-status.json"


class EvidenceCollector(Collector):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            captures = CounterMetricFamily(
                "cchc_captures", "Captures stored, by outcome.", labels=["outcome"]
            )
            for outcome, count in session.exec(
                select(Snapshot.outcome, func.count()).group_by(col(Snapshot.outcome))
            ).all():
                captures.add_metric([outcome], count)
            yield captures
            failures = CounterMetricFamily(
                "cchc_parse_failures", "Pages not recognised by a parser.", labels=["probe"]
            )
            counted = dict(
                session.exec(select(ParseFailure.probe, func.count()).group_by(col(ParseFailure.probe))).all()
            )
            last, ran = self._last_runs(session)
            for probe in sorted(
                ran | set(counted)
            ):  # a probe that ran without a failure counts 0, not nothing
                failures.add_metric([probe], counted.get(probe, 0))
            yield failures
            yield last
            yield from self._lease(session)
            size = evidence_size(session)
        yield GaugeMetricFamily("cchc_evidence_snapshots", "Snapshots in the ledger.", value=size.snapshots)
        yield GaugeMetricFamily("cchc_evidence_blobs", "Blobs in the blob store.", value=size.blobs)
        sizes = GaugeMetricFamily("cchc_evidence_bytes", "Bytes of the blobs.", labels=["kind"])
        sizes.add_metric(["raw"], float(size.raw_bytes))
        sizes.add_metric(["stored"], float(size.stored_bytes))
        yield sizes
        yield from self._verify()

    def _last_runs(self, session: Session) -> tuple[Metric, set[str]]:
        """The newest completed run of each probe, and every probe any recent run included."""
        last = GaugeMetricFamily("cchc_last_successful_run_timestamp_seconds",
                                 "End of the newest completed run that included the probe.", labels=["probe"])  # fmt: skip
        newest: dict[str, datetime] = {}
        runs = session.exec(select(Run).order_by(col(Run.started_at).desc()).limit(500)).all()
        ran: set[str] = set()
        for run in runs:
            ran |= set(run.probes)
            if run.status == "completed" and run.finished_at is not None:
                for probe in run.probes:
                    newest[probe] = max(newest.get(probe, run.finished_at), run.finished_at)
        for probe, moment in sorted(newest.items()):
            last.add_metric([probe], moment.timestamp())
        return last, ran

    def _lease(self, session: Session) -> Iterator[Metric]:
        lease = session.get(DaemonLease, LEASE_NAME)
        alive = lease is not None and lease.expires_at > datetime.now(UTC)
        info = GaugeMetricFamily(
            "cchc_daemon_lease_info", "The scheduling lease's holder.", labels=["holder", "state"]
        )
        if lease is not None:
            info.add_metric([lease.holder, "held" if alive else "released or expired"], 1)
        yield info
        yield GaugeMetricFamily(
            "cchc_daemon_up", "1 while a daemon holds a live lease.", value=1 if alive else 0
        )

    def _verify(self) -> Iterator[Metric]:
        try:
            verdict = json.loads(verify_status_file(self.settings).read_text(encoding="utf-8"))
            ok, at = bool(verdict["ok"]), datetime.fromisoformat(verdict["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # never verified here: no sample, rather than a made-up one
        yield GaugeMetricFamily(
            "cchc_verify_ok", "The last evidence verify: 1 clean, 0 problems.", value=1 if ok else 0
        )
        yield GaugeMetricFamily("cchc_verify_last_timestamp_seconds", "When it ran.", value=at.timestamp())


def write_verify_status(settings: Settings, ok: bool, problems: int) -> None:
    target = verify_status_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = {"ok": ok, "problems": problems, "at": datetime.now(UTC).isoformat()}
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    temporary.replace(target)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EvidenceCollector(ctx.engine, ctx.settings))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
