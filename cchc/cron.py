"""Cron expressions as a crontab reads them, turned into APScheduler 3 triggers.

APScheduler 3 numbers weekdays from Monday (0 = mon), while crontab numbers them from Sunday
(0 and 7 = sun), and `CronTrigger.from_crontab()` passes numbers through unchanged: "0 5 * * 1" would fire
on Tuesdays (agronholm/apscheduler#286, fixed only in 4.x). Numeric weekdays are therefore rewritten as
names here. A six-field expression has seconds first, for the tests' short intervals.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CronError(ValueError):
    pass


def _weekday(token: str) -> str:
    return CRON_WEEKDAYS[int(token)] if token.isdigit() and int(token) <= 7 else token


def crontab_weekdays(field: str) -> str:
    """'1-5' → 'mon-fri', '0,6' → 'sun,sat', '*/2' stays; names stay."""
    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if base == "*":
            parts.append(part)
            continue
        low, dash, high = base.partition("-")
        if dash and low.isdigit() and high.isdigit() and int(low) > int(high):
            raise CronError(f"weekday range {base!r} runs backwards")
        rewritten = _weekday(low) + (f"-{_weekday(high)}" if dash else "")
        parts.append(rewritten + (f"/{step}" if slash else ""))
    return ",".join(parts)


def cron_trigger(expression: str, timezone: tzinfo, jitter_s: int = 0) -> CronTrigger:
    """A trigger for 'minute hour day month weekday' (or 'second minute hour day month weekday')."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise CronError(
            f"expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {expression!r}"
        )
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    if not all(re.fullmatch(r"[\w*/,\-]+", f) for f in (second, *fields)):
        raise CronError(f"unexpected characters in {expression!r}")
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=timezone,
            jitter=jitter_s or None,
        )
    except ValueError as exc:
        raise CronError(f"{expression!r}: {exc}") from None
