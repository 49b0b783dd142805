"""The national 766 dashboard's JSON API, `POST /api/v1/reporting/...`: its requests and a pure, versioned reader.

Read from the real responses of the live portal (shared/real/dvcqg-v1, README; portals.md §3.5). Every answer is
`{"code": "OK", "data": {...}, "message": "OK"}`; inside `data` there are two families of evaluation answer:

    tree   dvc-progress-tree, provide-online-tree, formality-online-payment-tree: {parent, children[]}
    table  transparency, handling-satisfaction, dossier-digitized: {overview, evaluation[], pagination}

and the procedure catalogue `formalities`: {items[], pagination}. The reader requires only the fields the real
captures carry, and of those only what it uses; anything else it keeps as it came. A changed envelope (no
`data`, a `code` other than OK, a renamed field, a count that is not a number) raises LayoutNotRecognised, which
the session records as a parse failure: never a zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from probes._base import LayoutNotRecognised, SnapshotView
from probes._text import whole_or_none

VERSION = "1"
API_PREFIX = "/api/v1/reporting/"
FORMALITIES: Literal["formalities"] = "formalities"
Family = Literal["tree", "table"]
MAX_DEPARTMENTS = 5000  # a province lists some hundreds; more is not an answer we know
MAX_METRICS = 50


@dataclass(frozen=True)
class Endpoint:
    """An evaluation endpoint: its path under evaluation/, its family, the 766 group whose score it publishes (the
    dashboard's 2023 group fields) and the fields each child row must carry (all seen on every real row)."""

    name: str
    family: Family
    group: str
    max_points: float
    counts: tuple[str, ...] = ()  # number fields of a child row besides its score, ratio and maximum
    parent_counts: tuple[str, ...] = ()  # number fields of the parent (tree) we read when present
    score_field: str = "totalScore"
    max_field: str = "totalMaxScore"
    date_range: bool = False  # fromDate/toDate instead of timeType/year/month

    @property
    def path(self) -> str:
        return f"{API_PREFIX}evaluation/{self.name}"


_PAYMENT_COUNTS = (
    "totalDossierOnlinePaymentSuccess",
    "totalDossierFinancialObligation",
    "totalDossierOnlineFormalityPaymentSuccess",
    "totalFeeDossierFormalityDistinct",
    "totalFeeDossierFormality",
    "totalFeeFormality",
)
ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("transparency", "table", "CKMB", 18),
        Endpoint(
            "dvc-progress-tree",
            "tree",
            "TDGQ",
            20,
            counts=("totalReceived", "totalOnTime", "totalOverdue", "avgProcessingDays"),
            parent_counts=("totalReceived", "totalOnTime", "totalCompleted", "avgProcessingDays"),
            score_field="score",
            max_field="maxScore",
        ),
        Endpoint(
            "provide-online-tree",
            "tree",
            "CLGQ",
            12,
            parent_counts=(
                "authorityCount",
                "partialCount",
                "fullCount",
                "onlineDossierCount",
                "onlineServiceTotal",
                "channelOnlineSum",
                "channelDirectSum",
                "channelPostalSum",
                "channelTotalSum",
                "onlineOnTimeSum",
                "onlineOverdueSum",
            ),
        ),
        Endpoint(
            "formality-online-payment-tree",
            "tree",
            "TTTT",
            10,
            counts=_PAYMENT_COUNTS,
            parent_counts=_PAYMENT_COUNTS,
        ),
        Endpoint("handling-satisfaction", "table", "MDHL", 18, date_range=True),
        Endpoint("dossier-digitized", "table", "MDSH", 22),
    )
}
# Counts a table row may carry beside its metrics (handling-satisfaction); read when present.
TABLE_ROW_COUNTS = ("totalPetitions", "classifiedPetitions", "totalDossiers")


@dataclass(frozen=True)
class Metric:
    """One indicator of a table row: its counts, the published ratio (percent) and score; None where null."""

    code: str
    name: str
    numerator: float | None
    denominator: float | None
    ratio: float | None
    score: float | None
    max_score: float
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. dataQualityStatus of DOSSIER_SYNC

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "ratio": self.ratio,
            "score": self.score,
            "max_score": self.max_score,
            **self.extra,
        }


@dataclass(frozen=True)
class Department:
    """A department (or the province as a whole) as one answer lists it."""

    id: str
    code: str | None  # the table family has it only on dossier-digitized
    name: str
    level: str | None  # PROVINCE | COMMUNE (a child), None for the parent of a tree
    row: int  # 0 for the parent, else the position in the answer from 1
    score: float
    max_score: float
    ratio: float
    counts: Mapping[str, float] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()

    def metric(self, code: str) -> Metric | None:
        return next((m for m in self.metrics if m.code == code), None)

    def values(self) -> dict[str, Any]:
        """Everything this department's row said, flat: score, ratio, maximum, counts, each metric's figures."""
        out: dict[str, Any] = {"score": self.score, "max_score": self.max_score, "ratio": self.ratio}
        out.update(self.counts)
        for m in self.metrics:
            out[m.code] = {k: v for k, v in m.as_dict().items() if k != "code"}
        return out

    @classmethod
    def from_values(
        cls, ident: str, code: str | None, name: str, level: str | None, row: int, values: Mapping[str, Any]
    ) -> Department:
        """The department again from what `values()` kept (a stored report_row): for reconciling stored answers."""
        counts = {k: float(v) for k, v in values.items()
                  if k not in ("score", "max_score", "ratio") and isinstance(v, int | float)}  # fmt: skip
        metrics = tuple(
            Metric(k, "", v.get("numerator"), v.get("denominator"), v.get("ratio"), v.get("score"),
                   float(v.get("max_score") or 0))
            for k, v in values.items()
            if isinstance(v, dict)
        )  # fmt: skip
        return cls(ident, code, name, level, row, float(values["score"]), float(values["max_score"]),
                   float(values["ratio"]), counts, metrics)  # fmt: skip


@dataclass(frozen=True)
class Report:
    """One evaluation answer: the period it is about, the province as a whole, and its departments."""

    endpoint: Endpoint
    period: str  # '2026-08', '2026-Q3', '2026', or 'FROM..TO' for a range that is no calendar period
    root: str  # rootDepartmentId asked for
    parent: Department
    departments: tuple[Department, ...]
    total: int | None  # pagination.total of a table answer; a tree is not paginated
    page: int
    page_size: int


@dataclass(frozen=True)
class Formality:
    id: str
    code: str
    name: str
    state: str
    department_id: str | None
    publishing: tuple[str, ...]
    applied: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    items: tuple[Formality, ...]
    total: int
    page: int
    page_size: int


# --- requests -------------------------------------------------------------------------------------------------


def endpoint_of(url: str) -> Endpoint | Literal["formalities"] | None:
    """Which v1 endpoint a URL is, or None when it is not one."""
    path = urlsplit(url).path
    if API_PREFIX not in path:
        return None
    tail = path.split(API_PREFIX, 1)[1].strip("/")
    if tail == FORMALITIES:
        return FORMALITIES
    if tail.startswith("evaluation/"):
        return ENDPOINTS.get(tail.removeprefix("evaluation/"))
    return None


def evaluation_payload(
    endpoint: Endpoint,
    root: str,
    year: int,
    *,
    month: int = 0,
    quarter: int = 0,
    page: int = 1,
    page_size: int = 200,
) -> dict[str, Any]:
    """The request body the dashboard sends: a month, a quarter or a year (handling-satisfaction: its dates)."""
    payload: dict[str, Any] = {"rootDepartmentId": root, "currentPage": page, "pageSize": page_size}
    if endpoint.date_range:
        first, last = _span(year, month, quarter)
        return {**payload, "fromDate": first.isoformat(), "toDate": last.isoformat()}
    if month:
        return {**payload, "timeType": "month", "year": year, "month": month}
    if quarter:
        return {**payload, "timeType": "quarter", "year": year, "quarter": quarter}
    return {**payload, "timeType": "year", "year": year}


def formalities_payload(page: int = 1, page_size: int = 10) -> dict[str, Any]:
    return {"currentPage": page, "pageSize": page_size}


def _span(year: int, month: int, quarter: int) -> tuple[date, date]:
    if month:
        first, months = date(year, month, 1), 1
    elif quarter:
        first, months = date(year, 3 * quarter - 2, 1), 3
    else:
        first, months = date(year, 1, 1), 12
    following = first.month - 1 + months
    return first, date(first.year + following // 12, following % 12 + 1, 1) - timedelta(days=1)


def request_payload(view: SnapshotView) -> dict[str, Any]:
    """The JSON body a v1 snapshot sent; {} when there is none or it is not a JSON object."""
    try:
        payload = json.loads(view.request_body or b"{}")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def period_of(payload: Mapping[str, Any]) -> str | None:
    """The period a request asked for, as observations key it; None when the request names none we know."""
    year = whole_or_none(payload.get("year"))
    kind = payload.get("timeType")
    if kind is not None and year is not None and 2000 <= year <= 2100:
        month, quarter = whole_or_none(payload.get("month")), whole_or_none(payload.get("quarter"))
        if kind == "month" and month is not None and 1 <= month <= 12:
            return f"{year}-{month:02d}"
        if kind == "quarter" and quarter is not None and 1 <= quarter <= 4:
            return f"{year}-Q{quarter}"
        if kind == "year":
            return str(year)
        return None
    try:
        first = date.fromisoformat(str(payload.get("fromDate")))
        last = date.fromisoformat(str(payload.get("toDate")))
    except ValueError:
        return None
    if last < first or not 2000 <= first.year <= 2100:
        return None
    for months, key in (
        (1, f"{first.year}-{first.month:02d}"),
        (3, f"{first.year}-Q{(first.month + 2) // 3}"),
        (12, str(first.year)),
    ):
        quarter = (first.month + 2) // 3 if months == 3 else 0
        start, end = _span(first.year, first.month if months == 1 else 0, quarter)
        if (first, last) == (start, end):
            return key
    return f"{first.isoformat()}..{last.isoformat()}"


# --- reading --------------------------------------------------------------------------------------------------


class _Reader:
    """Field access that names what is wrong, where: every problem is a LayoutNotRecognised."""

    def __init__(self, view: SnapshotView, parser: str) -> None:
        self.view, self.parser = view, parser
        self.host = urlsplit(view.where).netloc or view.where

    def fail(self, reason: str) -> LayoutNotRecognised:
        return LayoutNotRecognised(self.parser, self.view.where, f"{reason} (api/v1 on {self.host})")

    def obj(self, value: object, what: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{what} is {_shape(value)}, expected an object")
        return value

    def list(self, value: object, what: str, limit: int) -> Sequence[Any]:
        if not isinstance(value, list):
            raise self.fail(f"{what} is {_shape(value)}, expected a list")
        if len(value) > limit:
            raise self.fail(f"{what} has {len(value)} entries, more than the {limit} an answer may have")
        return value

    def text(self, row: Mapping[str, Any], key: str, what: str) -> str:
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{what} has {key} = {_shape(value)}, expected a non-empty string")
        return value.strip()

    def number(self, row: Mapping[str, Any], key: str, what: str, *, nullable: bool = False) -> float | None:
        if key not in row:
            raise self.fail(f"{what} has no {key!r} (keys {sorted(row)[:12]})")
        value = row[key]
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.fail(f"{what} has {key} = {value!r}, expected a number")
        return float(value)

    def required(self, row: Mapping[str, Any], key: str, what: str) -> float:
        value = self.number(row, key, what)
        assert value is not None
        return value


def _shape(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:8]}"
    if value is None:
        return "null / absent"
    return f"a {type(value).__name__} {str(value)[:40]!r}"


def envelope(view: SnapshotView, parser: str) -> Mapping[str, Any]:
    """The `data` of `{"code": "OK", "data": {...}}`; any other envelope is a layout we do not know."""
    reader = _Reader(view, parser)
    try:
        body = view.json()
    except ValueError:
        raise reader.fail("the answer is not JSON") from None
    top = reader.obj(body, "the answer")
    if top.get("code") != "OK":
        raise reader.fail(
            f"the answer's code is {_shape(top.get('code'))}, expected 'OK' "
            f"(message {str(top.get('message'))[:80]!r})"
        )
    return reader.obj(top.get("data"), "the answer's data")


def read_report(view: SnapshotView, parser: str = "v1-evaluation") -> Report:
    """An evaluation answer, with the period and root its own request named."""
    reader = _Reader(view, parser)
    endpoint = endpoint_of(view.url)
    if not isinstance(endpoint, Endpoint):
        raise reader.fail(
            f"{urlsplit(view.url).path} is not one of the evaluation endpoints {sorted(ENDPOINTS)}"
        )
    payload = request_payload(view)
    period = period_of(payload)
    if period is None:
        raise reader.fail(
            f"the request to {endpoint.name} names no period we know ({json.dumps(payload)[:120]}); "
            "expected timeType/year/month|quarter or fromDate/toDate"
        )
    data = envelope(view, parser)
    page = whole_or_none(payload.get("currentPage")) or 1
    size = whole_or_none(payload.get("pageSize")) or 0
    root = str(payload.get("rootDepartmentId") or "")
    if endpoint.family == "tree":
        parent = _tree_row(reader, endpoint, reader.obj(data.get("parent"), "data.parent"), 0)
        children = reader.list(data.get("children"), "data.children", MAX_DEPARTMENTS)
        rows = tuple(
            _tree_row(reader, endpoint, reader.obj(c, f"child {n}"), n)
            for n, c in enumerate(children, start=1)
        )
        return Report(endpoint, period, root, parent, rows, None, page, size)
    overview = _table_row(reader, endpoint, reader.obj(data.get("overview"), "data.overview"), 0)
    evaluation = reader.list(data.get("evaluation"), "data.evaluation", MAX_DEPARTMENTS)
    pagination = reader.obj(data.get("pagination"), "data.pagination")
    total = int(reader.required(pagination, "total", "data.pagination"))
    first = (page - 1) * size if size else 0
    rows = tuple(
        _table_row(reader, endpoint, reader.obj(r, f"evaluation row {n}"), first + n)
        for n, r in enumerate(evaluation, start=1)
    )
    return Report(endpoint, period, root, overview, rows, total, page, size)


def _identity(reader: _Reader, row: Mapping[str, Any], what: str) -> tuple[str, str | None, str]:
    code = row.get("departmentCode")
    if code is not None and not isinstance(code, str):
        raise reader.fail(f"{what} has departmentCode = {_shape(code)}, expected a string")
    return (
        reader.text(row, "departmentId", what),
        (code or "").strip() or None,
        reader.text(row, "departmentName", what),
    )


def _tree_row(reader: _Reader, endpoint: Endpoint, row: Mapping[str, Any], n: int) -> Department:
    what = f"{endpoint.name} parent" if n == 0 else f"{endpoint.name} child {n}"
    ident, code, name = _identity(reader, row, what)
    if code is None:
        raise reader.fail(f"{what} has no departmentCode")
    if n == 0:
        score = reader.required(row, "totalScore", what)
        top = reader.required(row, "totalMaxScore", what)
        counts = {k: reader.required(row, k, what) for k in endpoint.parent_counts if k in row}
        level = None
    else:
        score = reader.required(row, endpoint.score_field, what)
        top = reader.required(row, endpoint.max_field, what)
        counts = {k: reader.required(row, k, what) for k in endpoint.counts}
        level = reader.text(row, "level", what)
    ratio = reader.required(row, "ratio", what)
    return Department(ident, code, name, level, n, score, top, ratio, counts)


def _table_row(reader: _Reader, endpoint: Endpoint, row: Mapping[str, Any], n: int) -> Department:
    what = f"{endpoint.name} overview" if n == 0 else f"{endpoint.name} row {n}"
    ident, code, name = _identity(reader, row, what)
    level = row.get("departmentLevel")
    metrics = tuple(
        _metric(reader, reader.obj(m, f"{what} metric {k}"), f"{what} metric {k}")
        for k, m in enumerate(reader.list(row.get("metrics"), f"{what} metrics", MAX_METRICS), start=1)
    )
    counts = {k: reader.required(row, k, what) for k in TABLE_ROW_COUNTS if row.get(k) is not None}
    return Department(
        ident,
        code,
        name,
        level if isinstance(level, str) else None,
        n,
        reader.required(row, "totalScore", what),
        reader.required(row, "totalMaxScore", what),
        reader.required(row, "ratio", what),
        counts,
        metrics,
    )


def _metric(reader: _Reader, m: Mapping[str, Any], what: str) -> Metric:
    code = reader.text(m, "code", what)
    name = m.get("name")
    extra = {
        k: v for k, v in m.items() if k in ("dataQualityStatus", "dataQualityMessage") and isinstance(v, str)
    }
    return Metric(
        code,
        name.strip() if isinstance(name, str) else "",
        reader.number(m, "numerator", f"{what} ({code})", nullable=True),
        reader.number(m, "denominator", f"{what} ({code})", nullable=True),
        reader.number(m, "ratio", f"{what} ({code})", nullable=True),
        reader.number(m, "score", f"{what} ({code})", nullable=True),
        reader.required(m, "maxScore", f"{what} ({code})"),
        extra,
    )


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def read_formalities(view: SnapshotView, parser: str = "v1-formalities") -> Catalogue:
    """A page of the procedure catalogue: each procedure's id, code, name, state and departments."""
    reader = _Reader(view, parser)
    data = envelope(view, parser)
    items = reader.list(data.get("items"), "data.items", MAX_DEPARTMENTS)
    pagination = reader.obj(data.get("pagination"), "data.pagination")
    out: list[Formality] = []
    for n, raw in enumerate(items, start=1):
        what = f"formality {n}"
        item = reader.obj(raw, what)
        lists = {}
        for key in ("publishingDepartmentIds", "appliedDepartmentIds"):
            ids = reader.list(item.get(key, []), f"{what} {key}", MAX_DEPARTMENTS)
            if not all(isinstance(i, str) for i in ids):
                raise reader.fail(f"{what} {key} holds something other than department ids")
            lists[key] = tuple(ids)
        department = item.get("departmentId")
        out.append(
            Formality(
                reader.text(item, "id", what),
                reader.text(item, "code", what),
                reader.text(item, "name", what),
                reader.text(item, "state", what),
                department if isinstance(department, str) else None,
                lists["publishingDepartmentIds"],
                lists["appliedDepartmentIds"],
            )
        )
    return Catalogue(
        tuple(out),
        int(reader.required(pagination, "total", "data.pagination")),
        int(reader.required(pagination, "currentPage", "data.pagination")),
        int(reader.required(pagination, "pageSize", "data.pagination")),
    )


def is_uuid(text: str | None) -> bool:
    return bool(text) and bool(_UUID.match(text or ""))
