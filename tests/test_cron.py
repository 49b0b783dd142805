"""Cron expressions keep crontab's meaning under APScheduler 3 (whose numeric weekdays start on Monday)."""

from __future__ import annotations

from datetime import datetime

import pytest

from cchc.cron import CronError, cron_trigger
from cchc.timeutil import VN_TZ

WEDNESDAY = datetime(2023, 9, 27, 12, 0, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("expression", "weekday"),
    [
        ("0 5 * * 1", 0),
        ("0 5 * * 0", 6),
        ("0 5 * * 7", 6),
        ("0 5 * * 6", 5),
        ("0 5 * * mon", 0),
        ("0 5 * * 5", 4),
    ],
)
def test_numeric_weekdays_mean_what_crontab_means(expression: str, weekday: int) -> None:
    fire = cron_trigger(expression, VN_TZ).get_next_fire_time(None, WEDNESDAY)
    assert fire is not None and fire.weekday() == weekday and (fire.hour, fire.minute) == (5, 0)


def test_a_weekday_range_and_the_configs_schedules() -> None:
    trigger = cron_trigger("30 6 * * 1-5", VN_TZ)
    fires = []
    last = WEDNESDAY
    for _ in range(5):
        fire = trigger.get_next_fire_time(None, last)
        assert fire is not None
        fires.append(fire.strftime("%a"))
        last = fire.replace(minute=31)
    assert fires == ["Thu", "Fri", "Mon", "Tue", "Wed"]


def test_times_are_local_time() -> None:
    fire = cron_trigger("0 7 * * *", VN_TZ).get_next_fire_time(None, WEDNESDAY)
    assert fire is not None and fire.utcoffset() is not None and fire.utcoffset().total_seconds() == 7 * 3600


def test_six_fields_have_seconds_first() -> None:
    fire = cron_trigger("*/5 * * * * *", VN_TZ).get_next_fire_time(None, WEDNESDAY.replace(second=1))
    assert fire is not None and fire.second == 5


@pytest.mark.parametrize("expression", ["0 5 * *", "61 5 * * *", "0 5 * * 1;rm", "0 5 * * 5-1"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(CronError):
        cron_trigger(expression, VN_TZ)
