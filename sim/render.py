"""Jinja2 templates of the simulated sites, with the formatting quirks of the real ones."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

WEEKDAYS_VI = ("Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật")

_NV_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#039;",
    "/": "&#x002F;",
    ":": "&#x3A;",
}


def nv_escape(value: object) -> Markup:
    """NukeViet's escaping of titles: the usual five, plus '/' and ':' as numeric references."""
    return Markup("".join(_NV_ESCAPES.get(ch, ch) for ch in str(value)))


def thousands(n: int) -> str:
    """1018 → '1.018' (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def vn_weekday_date(moment: datetime) -> str:
    """'Thứ năm - 21/09/2023 14:20', the header line of a NukeViet 4.5 article."""
    return f"{WEEKDAYS_VI[moment.weekday()]} - {moment:%d/%m/%Y %H:%M}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sim", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["nv"] = nv_escape
    env.globals["thousands"] = thousands
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
