"""Time in cchc-watch: aware datetimes, Asia/Ho_Chi_Minh unless stated, and month periods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utc_now() -> datetime:
    return datetime.now(UTC)


def month_key(d: date | datetime) -> str:
    """The month a date falls in, as 'YYYY-MM' (a local date: convert aware datetimes first)."""
    return f"{d.year:04d}-{d.month:02d}"


def months_between(first: date, last: date) -> list[str]:
    """Every month from first's to last's, inclusive, as 'YYYY-MM'."""
    months: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return months
