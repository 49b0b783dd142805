"""The availability probe: is every configured site up, how fast, over what TLS, and where does it send us?

One HTTP capture and one browser screenshot per site, the one-stop system's login page included (never
submitted). A ward site retired in the 2025 reorganisation shows here as moved (with its redirect target)
or gone (404, 410, refused): the news probe's missing months are then explained, never read as zero posts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from cchc.settings import Settings, Unit
from crawler import Outcome, Target, host_key
from probes._base import Found, Parsed, SnapshotView
from probes._probe import Job
from probes._session import CrawlSession

NAME = "availability"
VERSION = "2"  # 2: the server's time from sending the request, not the whole visit with its wait for a turn
GONE_STATUSES = frozenset({404, 410})


def sites(settings: Settings) -> dict[str, str]:
    """Every configured site, by id, with the URL whose availability is checked."""
    src = settings.sources
    found = {
        "dvc_tinh": src.dvc_tinh.base_url + "/",
        "motcua": src.motcua.base_url + src.motcua.login_path,
        "dvc_quocgia": src.dvc_quocgia.base_url + "/",
    }
    found.update({p.id: p.base_url + "/" for p in settings.portal})
    return found


def site_of(url: str, settings: Settings) -> str | None:
    host = host_key(url)
    return next((site for site, base in sites(settings).items() if host_key(base) == host), None)


def unit_of_site(site: str | None, settings: Settings) -> str | None:
    """A ward's own portal speaks for the ward; shared sites (the city portal, the DVC portals) for no one unit."""
    owner = next((u for u in settings.unit if u.portal == site and not u.news_categories), None)
    return owner.id if owner else None


class AvailabilityProbe:
    name = NAME
    version = VERSION
    parses_failures = True  # a failed capture is exactly what this probe reports
    reads_body = False  # status, timing, TLS and redirects: a body that does not decode changes nothing here
    reads_timing = True  # reparse bounds the server's time of snapshots kept before it was measured

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]:
        wanted = {"dvc_tinh", "motcua", "dvc_quocgia"} | {u.portal for u in units}
        return [
            Job(NAME, site, partial(self._check, site, url), tuple(u.id for u in units if u.portal == site))
            for site, url in sites(settings).items()
            if site in wanted
        ]

    async def _check(self, site: str, url: str, session: CrawlSession) -> None:
        unit = unit_of_site(site, session.settings)
        await session.visit(self, Target(url=url, probe=NAME, unit=unit, label=f"{site} home"))
        if session.browser is not None:
            await session.visit(
                self, Target(url=url, probe=NAME, unit=unit, label=f"{site} screenshot", render="browser")
            )

    def parse(self, view: SnapshotView, settings: Settings) -> Parsed:
        site = site_of(view.url, settings)
        unit = unit_of_site(site, settings)
        final_site = site_of(view.where, settings)
        moved = host_key(view.where) != host_key(view.url)
        up = view.outcome == Outcome.OK and (view.status or 0) < 400
        facts: dict[str, Any] = {
            "site": site,
            "render": view.render,
            "outcome": view.outcome,
            "status": view.status,
            "elapsed_ms": view.elapsed_ms,
            "response_ms": view.response_ms,
            "queue_ms": view.queue_ms,
            "final_url": view.where,
            "redirects": [list(hop) for hop in view.redirects],
            "tls": dict(view.tls) if view.tls else None,
        }
        found = [Found("site_up", "instant", unit, value=1.0 if up and not moved else 0.0, attributes=facts)]
        if view.outcome == Outcome.OK and view.response_ms is not None:
            # The server's time, never the whole visit: that includes our own wait for the host's turn.
            found.append(
                Found(
                    "site_response_ms",
                    "instant",
                    unit,
                    value=float(view.response_ms),
                    attributes={"site": site, "basis": view.response_basis, "queue_ms": view.queue_ms,
                                "elapsed_ms": view.elapsed_ms},
                )
            )  # fmt: skip
        if moved:
            found.append(
                Found(
                    "site_moved",
                    "instant",
                    unit,
                    value=1.0,
                    text=view.where,
                    attributes={"site": site, "to_site": final_site, "redirects": facts["redirects"]},
                )
            )
        gone_reason = _gone(view)
        if gone_reason:
            found.append(
                Found("site_gone", "instant", unit, value=1.0, text=gone_reason, attributes={"site": site})
            )
        if view.render == "browser" and view.outcome == Outcome.OK:
            found.append(Found("site_screenshot", "instant", unit, value=1.0, attributes={"site": site}))
        return Parsed(found)


def _gone(view: SnapshotView) -> str:
    if view.status in GONE_STATUSES:
        return f"HTTP {view.status}"
    if view.outcome == Outcome.CONNECTION_ERROR:
        return "connection refused or reset"
    return ""


PROBE = AvailabilityProbe()
