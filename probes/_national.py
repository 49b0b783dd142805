"""Talking to the national portal's gateway the way its own pages do: cookies from a page, then XHR calls.

Some crawlers of dichvucong.gov.vn GET a page first for its session cookies (JSESSIONID, route, the F5 TS…
cookie) and send X-Requested-With and a /p/home/ Referer with every rest.jsp call (portals.md §3.1).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cchc.settings import Settings
from crawler import Target, host_key
from crawler.forms import urlencoded
from probes._base import LayoutNotRecognised, Parser, SnapshotView
from probes._session import CrawlSession

_COOKIE_LOCK = "national-cookies"


def cookie_page_target(settings: Settings, probe: str) -> Target:
    source = settings.sources.dvc_quocgia
    return Target(url=source.base_url + source.bot_cookie_page, probe=probe, label="session cookies")


def rest_target(
    settings: Settings, params: dict[str, Any], *, probe: str, unit: str | None = None, label: str = ""
) -> Target:
    """A POST to rest.jsp with params=<json>, as the dashboards' jQuery sends it."""
    source = settings.sources.dvc_quocgia
    body, content_type = urlencoded({"params": json.dumps(params, ensure_ascii=False, separators=(",", ":"))})
    return Target(
        url=source.base_url + source.rest_path,
        method="POST",
        body=body,
        headers=(
            ("Content-Type", content_type),
            ("X-Requested-With", "XMLHttpRequest"),
            ("Referer", source.base_url + source.bot_cookie_page),
        ),
        probe=probe,
        unit=unit,
        label=label or str(params.get("service", "")),
    )


async def ensure_cookies(session: CrawlSession, probe: Parser) -> None:
    """GET the dashboard page once per crawl, so rest.jsp calls carry the session cookies it hands out."""
    lock = session.shared.setdefault(_COOKIE_LOCK, asyncio.Lock())
    assert isinstance(lock, asyncio.Lock)
    async with lock:
        if session.shared.get("national-cookies-done"):
            return
        snapshot, _ = await session.visit(probe, cookie_page_target(session.settings, probe.name))
        # Only a page that answered hands out cookies; after a failure the next walk tries again.
        session.shared["national-cookies-done"] = snapshot.outcome == "ok"


def rest_params(view: SnapshotView) -> dict[str, Any]:
    """The params a rest.jsp snapshot asked for (its request body), to know which period a report is."""
    try:
        params = json.loads(view.form().get("params", ""))
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def rest_rows(view: SnapshotView, parser: str) -> list[dict[str, Any]]:
    """A `ref` service's bare array of UPPER_SNAKE records; anything else is a layout we do not know."""
    try:
        data = view.json()
    except ValueError:
        raise LayoutNotRecognised(
            parser, view.where, f"rest.jsp on {host_key(view.where)} did not answer JSON"
        ) from None
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        shape = type(data).__name__ + (f" with keys {sorted(data)[:5]}" if isinstance(data, dict) else "")
        raise LayoutNotRecognised(
            parser,
            view.where,
            f"rest.jsp on {host_key(view.where)} answered a {shape}, not an array of records",
        )
    return data
