"""The service_stats probe on today's national API (api/v1/reporting): what it asks for and what it observes.

For each period the configuration reads from api/v1 (sources.dvc_quocgia.apis), the six evaluation endpoints are
asked for the province's root department (a table answer page by page, to its pagination.total). Each answer
becomes observations (probes/national_v1.py reads it):

    report_row     every department, ours or not, keyed by its departmentId (UUID), code and name, with every
                   figure its row carried
    report_parent  the province as a whole (the tree's parent, the table's overview) with its totals
    unit_match     how each of our wards was found among the departments (id, code, then name), or the finding
    i766_score_*   a ward's published group score (the endpoint's 2023 group field: transparency is CKMB, …)
    v1_*           a ward's published counts (v1_total_received, …) and metric scores (v1_dossier_sync, …),
                   the metric's numerator, denominator, ratio and maximum in its attributes
    report_rows    how many departments the page listed and how many of ours it matched
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from cchc.settings import Settings
from crawler import Target, host_key
from probes._base import Found, LayoutNotRecognised, Parsed, Parser, SnapshotView
from probes._probe import Job
from probes._session import CrawlSession
from probes.matching import Candidate, Match, Wanted, match_agencies
from probes.national_v1 import (
    ENDPOINTS,
    Department,
    Endpoint,
    Report,
    endpoint_of,
    evaluation_payload,
    read_report,
)

log = logging.getLogger("cchc.probes")
PAGE_SIZE = 200  # what the dashboard asks for (the trees ignore it and answer every department)
MAX_PAGES = 20
SERVICE = "service_stats"


class Period(Protocol):
    """A report period (service_stats.ReportPeriod): a year, a quarter or a month."""

    @property
    def year(self) -> int: ...
    @property
    def quarter(self) -> int: ...
    @property
    def month(self) -> int: ...
    @property
    def key(self) -> str: ...


def score_metric(endpoint: Endpoint) -> str:
    """The observation of a group score: the same names as rest.jsp's, so the 766 tables read either."""
    return f"i766_score_{endpoint.group.lower()}"


def count_metric(field: str) -> str:
    """'totalOnTime' → 'v1_total_on_time'."""
    return "v1_" + re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()


def metric_metric(code: str) -> str:
    """'DOSSIER_SYNC' → 'v1_dossier_sync'."""
    return "v1_" + code.lower()


def evaluation_target(settings: Settings, endpoint: Endpoint, period: Period, root: str, page: int) -> Target:
    """A POST of the dashboard's JSON body to one evaluation endpoint."""
    source = settings.sources.dvc_quocgia
    payload = evaluation_payload(
        endpoint,
        root,
        period.year,
        month=period.month,
        quarter=period.quarter,
        page=page,
        page_size=PAGE_SIZE,
    )
    return Target(
        url=source.base_url + endpoint.path,
        method="POST",
        body=json.dumps(payload, separators=(",", ":")).encode(),
        headers=(
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("Referer", source.base_url + "/"),
        ),
        probe=SERVICE,
        label=f"v1 {endpoint.name} {period.key} page {page}",
    )


def v1_jobs(probe: Parser, periods: Sequence[Period], units: tuple[str, ...]) -> list[Job]:
    return [
        Job(SERVICE, f"v1/{endpoint.name}/{period.key}", partial(_walk, probe, endpoint, period), units)
        for period in periods
        for endpoint in ENDPOINTS.values()
    ]


async def _walk(probe: Parser, endpoint: Endpoint, period: Period, session: CrawlSession) -> None:
    """One endpoint for one period: page 1, then on while a table answer says there are more departments."""
    settings = session.settings
    root = settings.sources.dvc_quocgia.root_department_id
    if not root:
        message = (
            f"{SERVICE}: sources.dvc_quocgia.root_department_id is not set: api/v1 {endpoint.name} "
            f"{period.key} not asked for (the province's departmentId, a UUID)"
        )
        if message not in session.counts.failures:
            log.warning("%s", message)
            session.counts.failures.append(message)
        return
    seen = 0
    for page in range(1, MAX_PAGES + 1):
        _, parsed = await session.visit(probe, evaluation_target(settings, endpoint, period, root, page))
        if parsed is None:
            return  # the failure is recorded; the departments of later pages stay missing
        rows = next((f for f in parsed.found if f.metric == "report_rows"), None)
        if rows is None or not rows.value:
            return
        seen += int(rows.value)
        total = rows.attributes.get("total")
        if not isinstance(total, int) or seen >= total:
            return


# --- reading --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    department: Department
    candidate: Candidate


def v1_parse(view: SnapshotView, settings: Settings) -> Parsed | None:
    """The observations of an api/v1 evaluation answer; None when the view is not one."""
    endpoint = endpoint_of(view.url)
    if not isinstance(endpoint, Endpoint):
        return None
    report = read_report(view, "v1-evaluation")
    if not re.fullmatch(r"\d{4}(-\d{2}|-Q[1-4])?", report.period):
        raise LayoutNotRecognised(
            "v1-evaluation",
            view.where,
            f"the request's dates {report.period} are not a month, quarter or year: "
            f"observations are kept by calendar period (api/v1 on {host_key(view.where)})",
        )
    return Parsed(observations(report, settings))


def v1_wanted(settings: Settings, period: str) -> list[Wanted]:
    """Our wards on api/v1 (by their v1 id and code, else by name). Since 2025 there is no district level: the
    city is not looked for."""
    year = int(period[:4])
    return [
        Wanted(u.id, u.name, u.v1_department_id or None, u.v1_department_code or None)
        for u in settings.unit
        if u.kind != "phong" and u.valid_from.year <= year and (u.valid_to is None or u.valid_to.year >= year)
    ]


def observations(report: Report, settings: Settings) -> list[Found]:
    endpoint, period = report.endpoint, report.period
    rows = [
        _Row(
            d,
            Candidate(
                d.id, d.code, d.name, f"row {d.row} of {endpoint.name}", {"row": d.row, "capdonvi": d.level}
            ),
        )
        for d in report.departments
    ]
    if not rows:  # no department listed for the period: N/A, never zeros (as rest.jsp's [])
        return [
            _parent(report),
            Found("report_empty", period, None, attributes={"service": endpoint.name, "api": "v1", "root": report.root}),
            Found("report_rows", period, None, value=0.0,
                  attributes={"service": endpoint.name, "api": "v1", "page": report.page, "total": report.total,
                              "first": None, "root": report.root, "matched": 0}),
        ]  # fmt: skip
    matches = match_agencies(v1_wanted(settings, period), [r.candidate for r in rows])
    by_row = {int(str(m.candidate.extra["row"])): m for m in matches if m.candidate is not None}
    found = [_parent(report)]
    for row in rows:
        match = by_row.get(row.department.row)
        found.append(_row_found(endpoint, period, row, match))
        if match is not None:
            found += _unit_found(endpoint, period, row.department, match)
    found += [
        Found(
            "unit_match",
            period,
            m.wanted.key,
            value=1.0 if m.found else 0.0,
            text=m.describe(),
            attributes={
                **m.as_dict(),
                "service": endpoint.name,
                "api": "v1",
                "scope": "national",
                "page": report.page,
                "fields_absent": [],
            },
        )
        for m in matches
    ]
    found.append(
        Found(
            "report_rows",
            period,
            None,
            value=float(len(rows)),
            attributes={
                "service": endpoint.name,
                "api": "v1",
                "page": report.page,
                "total": report.total,
                "first": rows[0].department.id if rows else None,
                "root": report.root,
                "matched": sum(m.found for m in matches),
            },
        )
    )
    return found


def _parent(report: Report) -> Found:
    d = report.parent
    return Found(
        "report_parent",
        report.period,
        None,
        value=d.score,
        text=d.name,
        attributes={
            "service": report.endpoint.name,
            "api": "v1",
            "national_id": d.id,
            "code": d.code,
            "name": d.name,
            "values": d.values(),
        },
    )


def _row_found(endpoint: Endpoint, period: str, row: _Row, match: Match | None) -> Found:
    d = row.department
    return Found(
        "report_row",
        period,
        match.wanted.key if match is not None else None,
        text=d.name,
        attributes={
            "service": endpoint.name,
            "api": "v1",
            "row": d.row,
            "national_id": d.id,
            "code": d.code,
            "name": d.name,
            "level": d.level,
            "values": d.values(),
            "fields_absent": [],
            "ours": match.wanted.key if match is not None else None,
            "method": match.method if match is not None else None,
        },
    )


def _unit_found(endpoint: Endpoint, period: str, d: Department, match: Match) -> list[Found]:
    identity: dict[str, Any] = {
        "id": d.id,
        "code": d.code or "",
        "name": d.name,
        "service": endpoint.name,
        "api": "v1",
        "match": match.method,
        "agency": d.id,
    }
    found = [
        Found(
            score_metric(endpoint),
            period,
            match.wanted.key,
            value=d.score,
            attributes={**identity, "max_score": d.max_score, "ratio": d.ratio},
        )
    ]
    found += [
        Found(count_metric(k), period, match.wanted.key, value=v, attributes=identity)
        for k, v in d.counts.items()
    ]
    # A metric without a score (null: no data this period) is not an observation: N/A, never 0.
    found += [
        Found(
            metric_metric(m.code),
            period,
            match.wanted.key,
            value=m.score,
            text=m.name or None,
            attributes={**identity, **m.as_dict()},
        )
        for m in d.metrics
        if m.score is not None
    ]
    return found
