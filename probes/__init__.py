"""Probes: one module per kind of public evidence, each with its walks (what to fetch) and a pure parser.

procedures     the procedures (TTHC) a unit lists on the province DVC portal, against the national list
service_stats  dossiers, on-time rates, online payments, feedback and Decision-766 scores (national portal)
news           posts on each unit's portal, by month and category
availability   every configured site: up, response time, TLS, redirects (the 2025 reorganisation), screenshot

matching       our units found among a portal's agencies: by id, then code, then normalised name
discovery      the portals' own directories read for our units' ids (`cchc discover`)
"""

from __future__ import annotations

from cchc.errors import CchcError
from probes._base import Found, LayoutNotRecognised, Parsed, SnapshotView
from probes._probe import Job, Probe
from probes.availability import PROBE as AVAILABILITY
from probes.news import PROBE as NEWS
from probes.procedures import PROBE as PROCEDURES
from probes.service_stats import PROBE as SERVICE_STATS

PROBES: dict[str, Probe] = {
    NEWS.name: NEWS,
    AVAILABILITY.name: AVAILABILITY,
    PROCEDURES.name: PROCEDURES,
    SERVICE_STATS.name: SERVICE_STATS,
}


def get_probe(name: str) -> Probe:
    try:
        return PROBES[name]
    except KeyError:
        raise CchcError(f"unknown probe {name!r}; probes are {', '.join(PROBES)}") from None


__all__ = ["PROBES", "Found", "Job", "LayoutNotRecognised", "Parsed", "Probe", "SnapshotView", "get_probe"]
