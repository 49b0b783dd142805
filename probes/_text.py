"""Reading what portals print: every date form of portals.md and numbers sent as text.

All functions are pure. Dates without an offset are local time (Asia/Ho_Chi_Minh) and come back aware.
A text that matches no known form raises ValueError naming the text, so a parser can record why.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAY_NAMES = ("thứ hai", "thứ ba", "thứ tư", "thứ năm", "thứ sáu", "thứ bảy", "chủ nhật", "thứ 2", "thứ 3",
                 "thứ 4", "thứ 5", "thứ 6", "thứ 7", "cn")  # fmt: skip
_MONTHS_EN = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

_DMY = re.compile(
    r"(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"
    r"(?:[ ,]+(?P<H>\d{1,2})[:hg](?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<ampm>SA|CH|AM|PM|sa|ch|am|pm))?)?"
)
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$"
)
# NukeViet's article:published_time: date, then the offset, then the time ("2023-09-21+0714:20:00").
_MANGLED = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?P<tz>[+-]\d{2})(?P<time>\d{2}:\d{2}:\d{2})$")
_RFC822 = re.compile(
    r"^(?:\w{3},\s*)?(?P<d>\d{1,2})\s+(?P<mon>\w{3})\w*\s+(?P<y>\d{4})\s+(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"\s*(?P<tz>GMT|UT|UTC|Z|[+-]\d{4})?$"
)


def clean(text: str) -> str:
    """NFC, non-breaking spaces as spaces, runs of whitespace as one."""
    text = unicodedata.normalize("NFC", text).replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip()


def parse_vn_datetime(text: str) -> datetime:
    """A date and time as Vietnamese portals print it, as an aware datetime.

    Reads 'dd/mm/yyyy', 'dd/mm/yyyy HH:MM[:SS]', 'Thứ tư - 23/04/2025 14:41', 'Thứ năm, 15/06/2023 09:30',
    '08/09/2021 10:00 SA' (SA/CH: AM/PM), '• 07/02/2026', '(10/08/2023)', ISO 8601 and NukeViet's
    '2023-09-21+0714:20:00'. A date without a time is midnight, local time.
    """
    raw = clean(text)
    value = raw.strip("•()[] ").strip()
    for separator in (" - ", ", "):
        head, sep, tail = value.partition(separator)
        if sep and head.casefold() in WEEKDAY_NAMES:
            value = tail.strip()
            break
    iso = _ISO.match(value)
    if iso:
        return _from_iso(iso.group("date"), iso.group("time"), iso.group("tz"))
    mangled = _MANGLED.match(value)
    if mangled:
        return _from_iso(mangled.group("date"), mangled.group("time"), mangled.group("tz") + ":00")
    match = _DMY.fullmatch(value) or _DMY.fullmatch(value.rstrip("."))
    if not match:
        raise ValueError(f"not a date this parser knows: {text!r}")
    day, month, year = int(match["d"]), int(match["m"]), int(match["y"])
    hour, minute, second = int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0)
    marker = (match["ampm"] or "").upper()
    if marker:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {marker} in {text!r}")
        hour = hour % 12 + (12 if marker in ("CH", "PM") else 0)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)
    except ValueError as exc:
        raise ValueError(f"impossible date in {text!r}: {exc}") from None


def _from_iso(day: str, clock: str | None, zone: str | None) -> datetime:
    moment = datetime.fromisoformat(f"{day}T{clock or '00:00'}")
    if zone in (None, ""):
        return moment.replace(tzinfo=VN_TZ)
    if zone == "Z":
        return moment.replace(tzinfo=UTC).astimezone(VN_TZ)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset_minutes = sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))
    return moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(VN_TZ)


def parse_rfc822(text: str) -> datetime:
    """An RSS pubDate ('Thu, 15 Jun 2023 09:30:00 +0700', '… GMT'), as an aware datetime in local time."""
    match = _RFC822.match(clean(text))
    if not match or match["mon"][:3].lower() not in _MONTHS_EN:
        raise ValueError(f"not an RFC 822 date: {text!r}")
    zone = match["tz"] or "GMT"
    tz = "+00:00" if zone in ("GMT", "UT", "UTC", "Z") else f"{zone[:3]}:{zone[3:]}"
    moment = datetime(
        int(match["y"]), _MONTHS_EN[match["mon"][:3].lower()], int(match["d"]),
        int(match["H"]), int(match["M"]), int(match["S"] or 0),
    )  # fmt: skip
    return _from_iso(moment.date().isoformat(), moment.time().isoformat(), tz)


def nukeviet_feed_date(text: str) -> tuple[date, int]:
    """What a NukeViet RSS date can be trusted for: the UTC date and hour (its 'minutes' are the month)."""
    moment = parse_rfc822(text).astimezone(UTC)
    return moment.date(), moment.hour


_COUNT = re.compile(r"^\d{1,3}(?:([.,\s])\d{3})?(?:\1\d{3})*$")


def parse_count(text: str) -> int:
    """A whole number as portals print it: '1.018' and '1,018' and '1 018' are 1018; labels are dropped."""
    value = clean(text)
    value = value.split(":")[-1].strip()  # "Xem: 1.018"
    if value.isdigit():
        return int(value)
    if not _COUNT.match(value):
        raise ValueError(f"not a count: {text!r}")
    return int(re.sub(r"[.,\s]", "", value))


def whole_or_none(value: object) -> int | None:
    """A whole number as a JSON API sends it, a number or digits as text ('12', ' 12 '); None for anything
    else (a bool is not a number here, nor is '' or '1.5')."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_decimal(text: str | int | float) -> float:
    """A number sent as text by an API ('84.51', '18', '84,51', ''), as a float; '' is not a number."""
    if isinstance(text, int | float):
        return float(text)
    value = clean(text).replace("%", "")
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    if re.fullmatch(r"-?\d+,\d+", value):
        return float(value.replace(",", "."))
    raise ValueError(f"not a number: {text!r}")
