"""One unit's raw figures for a period, read off `indicators.figures()` (the public frame: unit, metric, period,
value, status, reason, observed_at, observation_ids, snapshot_ids, detail).

Monthly counts are summed over the period's months; a month without complete evidence makes the sum missing
with that month's reason, never a smaller number. Catalogues ('instant') are taken as last seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from indicators import Period

PER_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def half_up(value: float, decimals: int = 2) -> float:
    """Round half up, as the DVCQG spec displays figures."""
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def tier_of(kind: str) -> str:
    """Ranks are within a tier: phòng, or phường/xã."""
    return "phong" if kind == "phong" else "phuong_xa"


@dataclass
class Cell:
    value: float | None
    status: str  # ok | na | missing
    reason: str = ""
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)
    observed_at: datetime | None = None


def _moment(value: Any) -> datetime | None:
    """An observation time, or None (pandas gives NaT for a figure without one)."""
    if value is None or value is pd.NaT or (not isinstance(value, datetime) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    return value if isinstance(value, datetime) else None


def ids(values: Any) -> list[int]:
    if isinstance(values, list | tuple):
        return [int(v) for v in values]
    if hasattr(values, "tolist"):
        return [int(v) for v in values.tolist()]
    return []


class UnitFigures:
    """The raw figures of one unit: per month, summed over a period, or as last seen."""

    def __init__(self, raw: pd.DataFrame, unit_id: str, period: Period) -> None:
        rows = raw[raw["unit"] == unit_id]
        self.by_key: dict[tuple[str, str], dict[str, Any]] = {
            (str(r["metric"]), str(r["period"])): r for r in rows.to_dict("records")
        }
        self.period = period

    def _cell(self, row: dict[str, Any]) -> Cell:
        ok = row["status"] == "ok"
        return Cell(
            float(row["value"]) if ok else None,
            str(row["status"]),
            "" if ok else str(row["reason"] or ""),
            ids(row["observation_ids"]),
            ids(row["snapshot_ids"]),
            _moment(row.get("observed_at")),
        )

    def month(self, metric: str, month: str) -> Cell:
        row = self.by_key.get((metric, month))
        return Cell(None, "missing", f"no figures for {month}") if row is None else self._cell(row)

    def months(self, metric: str) -> list[tuple[str, Cell]]:
        return [(m, self.month(metric, m)) for m in self.period.months]

    def total(self, metric: str) -> Cell:
        """A monthly count over the period, or a catalogue figure as last seen ('instant')."""
        instant = self.by_key.get((metric, "instant"))
        if instant is not None:
            return self._cell(instant)
        months = self.months(metric)
        observations = sorted({i for _, c in months for i in c.observation_ids})
        snapshots = sorted({i for _, c in months for i in c.snapshot_ids})
        bad = next(((m, c) for m, c in months if c.status != "ok" or c.value is None), None)
        if bad is not None:
            month, cell = bad
            reason = cell.reason if cell.reason.startswith("no figures") else f"{month}: {cell.reason}"
            return Cell(None, cell.status, reason, observations, snapshots)
        return Cell(sum(c.value or 0.0 for _, c in months), "ok", "", observations, snapshots)

    def detail(self, metric: str) -> dict[str, Any]:
        row = self.by_key.get((metric, "instant"))
        if row is None or row["status"] != "ok":
            return {}
        detail = row.get("detail")
        return detail if isinstance(detail, dict) else {}

    def at(self, metric: str, key: str) -> Cell:
        """A figure the national portal publishes for its own period key (a month, quarter, year)."""
        return self.month(metric, key)
