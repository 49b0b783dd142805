"""Property-based tests (hypothesis) of the date and number readers: every form of portals.md reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes._text import (
    VN_TZ,
    nukeviet_feed_date,
    parse_count,
    parse_decimal,
    parse_rfc822,
    parse_vn_datetime,
    whole_or_none,
)
from sim.render import thousands, vn_weekday_date
from sim.sites.nukeviet import rss_pub_date

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=VN_TZ)
)


@given(moments)
def test_list_dates_with_seconds(moment: datetime) -> None:
    assert parse_vn_datetime(moment.strftime("%d/%m/%Y %H:%M:%S")) == moment


@given(moments)
def test_dates_to_the_minute_and_the_day(moment: datetime) -> None:
    assert parse_vn_datetime(moment.strftime("%d/%m/%Y %H:%M")) == moment.replace(second=0)
    assert parse_vn_datetime(moment.strftime("%d/%m/%Y")) == moment.replace(hour=0, minute=0, second=0)
    assert parse_vn_datetime(moment.strftime("(%d/%m/%Y)")) == moment.replace(hour=0, minute=0, second=0)
    assert parse_vn_datetime(moment.strftime("• %d/%m/%Y")) == moment.replace(hour=0, minute=0, second=0)


@given(moments)
def test_article_header_with_the_weekday(moment: datetime) -> None:
    assert parse_vn_datetime(vn_weekday_date(moment)) == moment.replace(second=0)


@given(moments)
def test_sharepoint_sa_ch(moment: datetime) -> None:
    hour12 = moment.hour % 12 or 12
    marker = "SA" if moment.hour < 12 else "CH"
    text = f"{moment:%d/%m/%Y} {hour12:02d}:{moment:%M} {marker}"
    assert parse_vn_datetime(text) == moment.replace(second=0)


@given(moments, st.sampled_from([7, 0, -5, 9]))
def test_iso_dates_in_any_zone_come_back_in_local_time(moment: datetime, hours: int) -> None:
    text = moment.astimezone(timezone(timedelta(hours=hours))).isoformat()
    parsed = parse_vn_datetime(text.replace("+00:00", "Z"))
    assert parsed == moment and parsed.tzinfo == VN_TZ


@given(moments)
def test_nukeviet_mangled_published_time(moment: datetime) -> None:
    assert parse_vn_datetime(f"{moment:%Y-%m-%d}+07{moment:%H:%M:%S}") == moment


@given(moments)
def test_rfc822_with_an_offset(moment: datetime) -> None:
    assert parse_rfc822(moment.strftime("%a, %d %b %Y %H:%M:%S +0700")) == moment


@given(moments)
def test_nukeviet_feed_date_keeps_only_the_utc_date_and_hour(moment: datetime) -> None:
    day, hour = nukeviet_feed_date(rss_pub_date(moment))
    utc = moment.astimezone(UTC)
    assert (day, hour) == (utc.date(), utc.hour)


@given(st.integers(min_value=0, max_value=10**9))
def test_counts_with_thousands_dots(n: int) -> None:
    assert parse_count(thousands(n)) == n
    assert parse_count(f"Xem: {thousands(n)}") == n
    assert parse_count(f"{n:,}") == n


@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
def test_decimals_sent_as_strings(value: object) -> None:
    text = str(value)
    assert parse_decimal(text) == pytest.approx(float(text))
    assert parse_decimal(text.replace(".", ",")) == pytest.approx(float(text))


@pytest.mark.parametrize(
    "text",
    [
        "32/01/2023",
        "2023/01/15",
        "hôm qua",
        "15/13/2023 10:00",
        "13:00 CH 01/01/2023",
        "",
        "25/12/2023 13:00 CH",
    ],
)
def test_unknown_or_impossible_dates_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"date|hour"):
        parse_vn_datetime(text)


@pytest.mark.parametrize(
    ("value", "whole"),
    [(12, 12), (0, 0), ("12", 12), (" 7 ", 7), (True, None), (False, None), ("", None), ("1.5", None),
     ("-3", None), (1.0, None), (None, None), ([1], None)],
)  # fmt: skip
def test_whole_numbers_as_apis_send_them(value: object, whole: int | None) -> None:
    assert whole_or_none(value) == whole


@pytest.mark.parametrize("text", ["1.01", "abc", "1.0000", "", "12.345.67"])
def test_what_is_not_a_count_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a count"):
        parse_count(text)


def test_a_post_just_after_midnight_keeps_its_local_month() -> None:
    moment = datetime(2023, 7, 1, 0, 15, tzinfo=VN_TZ)
    assert parse_vn_datetime("01/07/2023 00:15:00").month == 7
    assert nukeviet_feed_date(rss_pub_date(moment))[0].month == 6  # the feed's UTC date is in June
    assert moment - timedelta(minutes=15) == datetime(2023, 7, 1, tzinfo=VN_TZ)
