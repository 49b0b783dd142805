"""`cchc evidence verify --deep`: parse the stored evidence again with today's parsers and compare with what
the store says they found, without keeping anything.

Only results of the current version of a probe's parser are compared (an older version may rightly differ); a
parser is pure, so the same snapshot and settings give the same observations, and a difference means the stored
rows were changed, or the settings a parser reads (keywords, categories) changed since.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from cchc.settings import Settings
from crawler.content import ContentError
from evidence import EvidenceStore
from evidence.errors import EvidenceError
from evidence.ledger import canonical_json
from evidence.models import Observation, ParseFailure, Snapshot, SnapshotBlob
from probes._base import Found, LayoutNotRecognised
from probes._probe import Probe
from probes._reparse import view_to_parse

BATCH = 200
SHOWN = 3  # differing rows named per snapshot


@dataclass
class RecheckReport:
    compared: int = 0  # snapshots parsed again and compared
    older: int = 0  # snapshots whose stored results come only from other parser versions
    differences: list[tuple[str, str]] = field(default_factory=list)  # (record, what differs)

    @property
    def clean(self) -> bool:
        return not self.differences


def recheck(settings: Settings, store: EvidenceStore, probes: Sequence[Probe]) -> RecheckReport:
    report = RecheckReport()
    for probe in probes:
        stored, failures, older = _stored_results(store, probe)
        report.older += len(older - set(stored) - set(failures))
        ids = sorted(set(stored) | set(failures))
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            with Session(store.engine) as session:
                snapshots = session.exec(select(Snapshot).where(col(Snapshot.id).in_(chunk))).all()
                links: dict[int, list[SnapshotBlob]] = defaultdict(list)
                for link in session.exec(
                    select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(chunk))
                ):
                    links[link.snapshot_id].append(link)
            for snapshot in snapshots:
                report.compared += 1
                sid = snapshot.id or 0
                name = f"snapshot {sid} ({probe.name} parser {probe.version})"
                difference = _compare(
                    settings, store, probe, snapshot, links[sid], stored.get(sid), failures.get(sid)
                )
                if difference:
                    report.differences.append((name, difference))
    return report


def _stored_results(
    store: EvidenceStore, probe: Probe
) -> tuple[dict[int, Counter[bytes]], dict[int, list[str]], set[int]]:
    stored: dict[int, Counter[bytes]] = defaultdict(Counter)
    failures: dict[int, list[str]] = defaultdict(list)
    with Session(store.engine) as session:
        for row in session.exec(
            select(Observation).where(
                Observation.probe == probe.name, Observation.parser_version == probe.version
            )
        ):
            stored[row.snapshot_id][
                _key(row.unit, row.metric, row.period, row.value, row.text, row.attributes)
            ] += 1
        for failure in session.exec(
            select(ParseFailure).where(
                ParseFailure.probe == probe.name, ParseFailure.parser_version == probe.version
            )
        ):
            failures[failure.snapshot_id].append(failure.reason)
        older = set(
            session.exec(
                select(Observation.snapshot_id).where(
                    Observation.probe == probe.name, Observation.parser_version != probe.version
                )
            ).all()
        ) | set(
            session.exec(
                select(ParseFailure.snapshot_id).where(
                    ParseFailure.probe == probe.name, ParseFailure.parser_version != probe.version
                )
            ).all()
        )
    return stored, failures, older


def _key(
    unit: str | None, metric: str, period: str, value: float | None, text: str | None, attributes: object
) -> bytes:
    number = None if value is None else float(value)
    return canonical_json([unit, metric, period, number, text, attributes])


def _found_key(found: Found) -> bytes:
    return _key(
        found.unit,
        found.metric,
        found.period,
        found.value,
        found.text,
        json.loads(json.dumps(found.attributes)),
    )


def _compare(
    settings: Settings,
    store: EvidenceStore,
    probe: Probe,
    snapshot: Snapshot,
    links: list[SnapshotBlob],
    stored: Counter[bytes] | None,
    failures: list[str] | None,
) -> str:
    try:
        view = view_to_parse(settings, store, snapshot, links, probe)
        parsed = probe.parse(view, settings)
    except LayoutNotRecognised as exc:
        if failures:
            return (
                ""
                if exc.reason in failures
                else f"parse failure {failures[0]!r} stored; parsed again: {exc.reason!r}"
            )
        return f"{sum((stored or Counter()).values())} observations stored; parsed again, the layout is not recognised ({exc.reason})"
    except (EvidenceError, ContentError) as exc:
        return f"cannot be parsed again: {exc}"
    if failures and not stored:
        return f"parse failure {failures[0]!r} stored; parsed again, {len(parsed.found)} observations"
    again = Counter(_found_key(f) for f in parsed.found)
    kept = stored or Counter()
    if again == kept:
        return ""
    extra, missing = kept - again, again - kept
    parts = []
    if extra:
        parts.append("stored but not found again: " + "; ".join(_show(k) for k in list(extra)[:SHOWN]))
    if missing:
        parts.append("found again but not stored: " + "; ".join(_show(k) for k in list(missing)[:SHOWN]))
    return " | ".join(parts)


def _show(key: bytes) -> str:
    unit, metric, period, value, text, _ = json.loads(key)
    shown = value if value is not None else text
    return f"{unit or '—'} {metric} {period} = {shown}"
