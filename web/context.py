"""What every request of the web app reads: the settings, a read-only view of the evidence, and the
indicator tables (computed once per state of the evidence, not once per page)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import indicators
from cchc.settings import Settings, Unit
from evidence.blobs import LocalBlobStore
from evidence.db import open_database
from evidence.models import Observation, Snapshot
from indicators.definitions import Definitions, load_definitions
from indicators.observed import raw_figures


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    blobs: LocalBlobStore
    definitions: Definitions
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _figures: tuple[tuple[int, int], pd.DataFrame] | None = None
    _tables: dict[tuple[tuple[int, int], str], pd.DataFrame] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> WebContext:
        return cls(
            settings=settings,
            engine=open_database(settings.storage.database_url),
            blobs=LocalBlobStore(settings.storage.blob_dir, durable=False),
            definitions=load_definitions(settings.indicators.file),
        )

    def close(self) -> None:
        self.engine.dispose()

    def units(self) -> list[Unit]:
        return self.settings.units_in_inspection()

    def unit(self, unit_id: str) -> Unit | None:
        return next((u for u in self.settings.unit if u.id == unit_id), None)

    def _state(self) -> tuple[int, int]:
        """The evidence's state: new observations or snapshots make new tables."""
        with Session(self.engine) as session:
            last_observation = session.exec(select(sa.func.max(Observation.id))).one() or 0
            last_snapshot = session.exec(select(sa.func.max(Snapshot.seq))).one() or 0
        return int(last_observation), int(last_snapshot)

    def figures(self) -> pd.DataFrame:
        state = self._state()
        with self._lock:
            if self._figures is None or self._figures[0] != state:
                self._figures = (state, raw_figures(self.engine, self.settings))
                self._tables.clear()
            return self._figures[1]

    def table(self, period: str) -> pd.DataFrame:
        """The indicator table of a period (raises ValueError for a period that is not one)."""
        figures = self.figures()
        key = (self._figures[0] if self._figures else (0, 0), period)
        with self._lock:
            if key not in self._tables:
                self._tables[key] = indicators.table(period, settings=self.settings, raw=figures)
            return self._tables[key]

    def site_flags(self) -> dict[str, list[str]]:
        """Per unit, what availability says is wrong now: its site down, moved or gone."""
        flags: dict[str, list[str]] = {}
        with Session(self.engine) as session:
            rows = session.exec(
                select(Observation)
                .where(col(Observation.metric).in_(("site_up", "site_moved", "site_gone")))
                .order_by(col(Observation.id).desc())
                .limit(2000)
            ).all()
        seen: set[tuple[str | None, str]] = set()
        for row in rows:
            if row.unit is None or (row.unit, row.metric) in seen:
                continue
            seen.add((row.unit, row.metric))
            if row.metric == "site_up" and row.value == 0:
                flags.setdefault(row.unit, []).append("trang không truy cập được")
            elif row.metric == "site_moved":
                flags.setdefault(row.unit, []).append(f"trang đã chuyển: {row.text}")
            elif row.metric == "site_gone":
                flags.setdefault(row.unit, []).append(f"trang đã ngừng: {row.text}")
        return flags

    def parse_failure_counts(self) -> dict[str, int]:
        query = sa.text("SELECT unit, COUNT(*) FROM parse_failure WHERE unit IS NOT NULL GROUP BY unit")
        with self.engine.connect() as connection:
            return {str(u): int(n) for u, n in connection.execute(query).all()}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with None for NaN (templates and JSON both want that)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()})
    return out
