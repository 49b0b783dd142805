"""What every summary of one evidence store reads once: the raw figures, the news posts and availability
observations, the browser captures with screenshots, the ledger's verified state, and the indicator tables.
`cchc report --all` reads the store once for every unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

import indicators
from cchc.settings import Settings, Unit
from evidence.blobs import BlobStore, LocalBlobStore
from indicators import Period
from indicators.definitions import Definitions, load_definitions
from indicators.news import NewsFinding
from indicators.observed import load_observations, news_findings, raw_figures
from indicators.reconcile import GroupCheck, reconcile
from reports import sources
from reports.model import LedgerState

AVAILABILITY_METRICS = ("site_up", "site_moved", "site_gone", "site_response_ms")
OBSERVATION_COLUMNS = [
    "id",
    "snapshot_id",
    "unit",
    "metric",
    "period",
    "value",
    "text",
    "attributes",
    "fetched_at",
    "seq",
]


@dataclass
class SummaryInputs:
    """The evidence a batch of summaries shares (open it with `SummaryInputs.open`, close it when done)."""

    settings: Settings
    engine: Engine
    blobs: BlobStore
    definitions: Definitions
    units: list[Unit]
    raw: pd.DataFrame  # indicators.observed.raw_figures: unit × metric × period
    posts: pd.DataFrame  # news_post observations
    news_findings: list[
        NewsFinding
    ]  # posts removed, re-dated or backdated between two crawls; zone corrections
    availability: pd.DataFrame  # site_up, site_moved, site_gone, site_response_ms observations
    captures: list[sources.BrowserCapture]
    ledger: LedgerState
    made_at: datetime
    tz: ZoneInfo
    own_engine: bool = False
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    _checks: dict[str, list[GroupCheck]] = field(default_factory=dict)  # by period key, every unit

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        blobs: BlobStore | None = None,
        extra_units: Sequence[Unit] = (),
    ) -> SummaryInputs:
        """Read the store (the configured one unless an engine and blobs are given) and verify its ledger."""
        from evidence.db import open_database

        own = engine is None
        db = engine or open_database(settings.storage.database_url)
        try:
            store = blobs if blobs is not None else LocalBlobStore(settings.storage.blob_dir)
            units = settings.units_in_inspection()
            units += [u for u in extra_units if u.id not in {x.id for x in units}]
            tz = ZoneInfo(settings.inspection.timezone)
            now = datetime.now(UTC)
            return cls(
                settings=settings,
                engine=db,
                blobs=store,
                definitions=load_definitions(settings.indicators.file),
                units=units,
                raw=raw_figures(db, settings, units),
                posts=_observations(db, ("news_post",)),
                news_findings=news_findings(db, settings, units),
                availability=_observations(db, AVAILABILITY_METRICS),
                captures=sources.browser_captures(db),
                ledger=sources.ledger_state(db, store, tz, now),
                made_at=now.astimezone(tz),
                tz=tz,
                own_engine=own,
            )
        except BaseException:
            if own:
                db.dispose()
            raise

    def close(self) -> None:
        if self.own_engine:
            self.engine.dispose()

    def __enter__(self) -> SummaryInputs:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def checks(self, unit: Unit, period: Period) -> list[GroupCheck]:
        """Each month of the period: the unit's published 766 group scores against the public counts. Made for
        every unit at once, the first time a period is asked: a unit's checks depend on its own figures only, and
        a month's figures are gathered once instead of once a unit."""
        if unit.id not in {u.id for u in self.units}:
            return reconcile(self.raw, [unit], self.definitions, period.months, tables=self.table)
        if period.key not in self._checks:
            self._checks[period.key] = reconcile(
                self.raw, self.units, self.definitions, period.months, tables=self.table
            )
        return [check for check in self._checks[period.key] if check.unit == unit.id]

    def compared(self, period: Period) -> pd.DataFrame:
        """The period's table with the same period a year earlier beside it (previous_points, change), for every
        unit at once: the previous inspection's figures, computed once for a batch of summaries."""
        key = f"compared:{period.key}"
        if key not in self._tables:
            self._tables[key] = indicators.with_previous(
                self.table(period), self.raw, self.units, self.definitions, period
            )
        return self._tables[key]

    def table(self, period: Period) -> pd.DataFrame:
        """The indicator table of a period for every unit (ranks are within the tier), computed once."""
        if period.key not in self._tables:
            self._tables[period.key] = indicators.table(
                period.key, settings=self.settings, units=[u.id for u in self.units], raw=self.raw
            )
        return self._tables[period.key]


def _observations(engine: Engine, metrics: Sequence[str]) -> pd.DataFrame:
    frame = load_observations(engine, metrics)
    return pd.DataFrame(columns=OBSERVATION_COLUMNS) if frame.empty else frame
