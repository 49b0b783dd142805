"""The national 766 dashboard's JSON API as today's portal serves it: POST /api/v1/reporting/...

Shaped as the real answers are (shared/real/dvcqg-v1, README): status 201, `{"code": "OK", "data": ..., "message":
"OK"}`; the trees (dvc-progress-tree, provide-online-tree, formality-online-payment-tree) with every department
whatever the pageSize, the tables (transparency, handling-satisfaction, dossier-digitized) paged, the procedure
catalogue `formalities` paged. Departments are the province's sở (PROVINCE) and its communes and wards (COMMUNE):
since 2025 there are no districts, so the city and its peers are not listed. Ids are UUIDs, codes "H53.xx".

A department's group score is the world's (the same as rest.jsp's report_tinh_766_service). The tree rows carry
counts the dashboard's formulas turn into that score: for a ward of ours its own dossiers (2.1: on time or still in
time, of every dossier handled); elsewhere, and for the metrics no public count of ours feeds, counts drawn so
that the formula gives the published score to within 0.01. A table row's metric scores add up to its total.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from datetime import date, timedelta
from typing import Any

from sim import scores
from sim.http import Request, Response
from sim.world import NationalAgency, World

PREFIX = "/api/v1/reporting/"
PROVINCE_CODE = "H53"  # Tây Ninh's department code [inferred: Phú Thọ's is H44 in the real answers]
GROUP_MAX = {"CKMB": 18.0, "TDGQ": 20.0, "TTTT": 10.0, "CLGQ": 12.0, "MDHL": 18.0, "MDSH": 22.0}
# Each table endpoint: its group, its source text, and its metrics (code, Vietnamese name, maximum, threshold),
# in the real answers' order.
TABLES: dict[str, tuple[str, str, tuple[tuple[str, str, float, float | None], ...]]] = {
    "transparency": (
        "CKMB",
        "reporting_766_transparency_* and reporting_dvc_calendar Mongo collections",
        (
            ("PUBLISH_ON_TIME", "Tỷ lệ TTHC công bố đúng hạn", 6, None),
            ("PUBLIC_UPDATE_ON_TIME", "Tỷ lệ TTHC cập nhật, công khai đúng hạn", 4, None),
            ("PUBLIC_CONTENT_FULL", "Tỷ lệ TTHC công khai đầy đủ nội dung", 2, None),
            ("DOSSIER_SYNC", "Tỷ lệ đồng bộ hồ sơ lên Cổng Dịch vụ công quốc gia", 6, None),
        ),
    ),
    "handling-satisfaction": (
        "MDHL",
        "reporting_766_satisfaction_petition_months, reporting_766_satisfaction_dossier_periods",
        (
            ("PETITION_CLASSIFICATION_TTHC", "Tỷ lệ PAKN về quy định, thủ tục hành chính", 0, None),
            ("DOSSIER_RECEIVING_SATISFACTION", "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC", 6, 0.9),
            ("PETITION_PROCESSING_ON_TIME", "Tỷ lệ PAKN được xử lý đúng hạn", 6, None),
            ("PETITION_HANDLING_SATISFACTION", "Tỷ lệ hài lòng về xử lý PAKN", 6, None),
            ("PETITION_CLASSIFICATION_STAFF", "Tỷ lệ PAKN về hành vi, thái độ của cán bộ", 0, None),
        ),
    ),
    "dossier-digitized": (
        "MDSH",
        "reporting_digitized_dossiers_daily Mongo collection",
        (
            (
                "ORIGINAL_RESULT_AVAILABLE",
                "Tỷ lệ hồ sơ thủ tục hành chính có cấp kết quả giải quyết thủ tục hành chính điện tử",
                6,
                None,
            ),
            ("SO_HOA_GIAY_TO_GIAI_QUYET", "Tỷ lệ hồ sơ thủ tục hành chính thực hiện số hóa hồ sơ", 4, None),
            ("REUSED_DIGITIZED_DATA", "Tỷ lệ khai thác, sử dụng lại thông tin, dữ liệu số hóa", 2, 0.8),
            (
                "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
                "Tỷ lệ hồ sơ đồng bộ kho dữ liệu cá nhân trên Cổng DVCQG",
                4,
                None,
            ),
            ("CITIZEN_DATA_CONNECTED_DOSSIER", "Tỷ lệ hồ sơ khai thác dữ liệu dân cư", 2, None),
            ("CITIZEN_DATA_CONNECTED_FORMALITY", "Tỷ lệ TTHC kết nối, khai thác dữ liệu dân cư", 2, None),
            ("ELECTRONIC_CERTIFIED_COPY", "Tỷ lệ cấp bản sao điện tử", 2, None),
        ),
    ),
}
CONSTANT = "ELECTRONIC_CERTIFIED_COPY"
TREES = {"dvc-progress-tree": "TDGQ", "provide-online-tree": "CLGQ", "formality-online-payment-tree": "TTTT"}
MAX_PAGE_SIZE = 500


def half_up(value: float) -> float:
    return math.floor(value * 100 + 0.5 + 1e-9) / 100


def _uuid(*parts: object) -> str:
    """A stable UUID of the real ids' form (version 7, 019d… prefixes), from what it names."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))).hex
    return f"019d2be3-{digest[:4]}-7{digest[4:7]}-8{digest[7:10]}-{digest[10:22]}"


def root_id(world: World) -> str:
    """The province's departmentId: the configured one (its root_department_id), else drawn from its id."""
    return world.spec.v1_root or _uuid("province", world.province_id)


class V1Api:
    def __init__(self, world: World) -> None:
        self.world = world
        self.root = root_id(world)
        wards = {u.national_id: u for u in world.spec.units if u.national_id}
        listed = [a for a in world.province_agencies if a.capdonvi in ("1", "2")]
        self.departments: list[tuple[NationalAgency, str, str]] = []  # agency, departmentId, code
        for n, agency in enumerate(a for a in listed if a.capdonvi == "1"):
            self.departments.append((agency, _uuid("department", agency.id), f"{PROVINCE_CODE}.{n + 1:02d}"))
        for n, agency in enumerate(a for a in listed if a.capdonvi == "2"):
            unit = wards.get(agency.id)
            ident = (unit.v1_department_id if unit and unit.v1_department_id else None) or _uuid(
                "commune", agency.id
            )
            code = (
                unit.v1_department_code if unit and unit.v1_department_code else None
            ) or f"{PROVINCE_CODE}.{100 + n}"
            self.departments.append((agency, ident, code))
        self.departments.sort(key=lambda d: d[2])  # ascending code compared as text, as the real answers

    # --- dispatch -------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return _refused(404, "Cannot GET " + request.path)
        try:
            payload = json.loads(request.body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError
        except ValueError:
            return _refused(400, "Bad Request")
        tail = request.path.removeprefix(PREFIX).strip("/")
        if tail == "formalities":
            return _created(self._formalities(payload))
        name = tail.removeprefix("evaluation/")
        if not tail.startswith("evaluation/") or (name not in TREES and name not in TABLES):
            return _refused(404, f"Cannot POST {request.path}")
        if str(payload.get("rootDepartmentId", "")) != self.root:
            return _refused(404, "Department not found")
        period = self._period(payload)
        if period is None:
            return _refused(400, "Bad Request")
        data = self._tree(name, period) if name in TREES else self._table(name, period, payload)
        # A changed envelope on drift: what a parser must refuse, never read as zeros.
        return _created(data, key="result" if request.variant == "drift" else "data")

    def _period(self, payload: dict[str, Any]) -> str | None:
        """The world's period key of a request: a month, quarter or year (by timeType or by its dates)."""
        year = payload.get("year")
        kind = payload.get("timeType")
        if isinstance(kind, str) and isinstance(year, int):
            month, quarter = payload.get("month"), payload.get("quarter")
            if kind == "month" and isinstance(month, int) and 1 <= month <= 12:
                return f"{year}-{month:02d}"
            if kind == "quarter" and isinstance(quarter, int) and 1 <= quarter <= 4:
                return f"{year}-Q{quarter}"
            return str(year) if kind == "year" else None
        try:
            first = date.fromisoformat(str(payload.get("fromDate")))
            last = date.fromisoformat(str(payload.get("toDate")))
        except ValueError:
            return None
        for months in (1, 3, 12):
            start = first.replace(month=1) if months == 12 else first
            following = start.month - 1 + months
            end = date(start.year + following // 12, following % 12 + 1, 1) - timedelta(days=1)
            if first == start and last == end and (months != 3 or first.month % 3 == 1):
                return {
                    1: f"{first.year}-{first.month:02d}",
                    3: f"{first.year}-Q{(first.month + 2) // 3}",
                    12: str(first.year),
                }[months]
        return None

    def _in_range(self, period: str) -> bool:
        year = int(period[:4])
        if "-Q" in period:
            first = date(year, 3 * int(period[-1]) - 2, 1)
        elif "-" in period:
            first = date(year, int(period[5:7]), 1)
        else:
            first = date(year, 1, 1)
        return self.world.spec.first_month.replace(month=1) <= first <= self.world.spec.as_of

    def _listed(self, period: str) -> list[tuple[NationalAgency, str, str]]:
        """The departments of a period the world has data for; none outside it, as rest.jsp answers [] (what the
        real api/v1 answers for a period without data is not known)."""
        return self.departments if self._in_range(period) else []

    def _scores(self, agency: NationalAgency, period: str) -> dict[str, float]:
        return self.world.score(agency.id, period)

    def _supported(self, agency: NationalAgency, period: str) -> dict[str, float]:
        """The group scores the world's own data gives, before any planted discrepancy: what the counts show."""
        if agency.id in self.world.scored_wards():
            return scores.group_scores(self.world.parts(agency.id, period))
        return self.world.score(agency.id, period)

    # --- the trees ------------------------------------------------------------------------------------------

    def _tree(self, name: str, period: str) -> dict[str, Any]:
        group = TREES[name]
        children = []
        for agency, ident, code in self._listed(period):
            score = self._scores(agency, period)[group]
            row: dict[str, Any] = {
                "departmentId": ident,
                "departmentName": agency.name,
                "departmentCode": code,
                "level": "PROVINCE" if agency.capdonvi == "1" else "COMMUNE",
            }
            rng = random.Random(f"{self.world.spec.seed}/{name}/{agency.id}/{period}")
            if name == "dvc-progress-tree":
                received, on_time = self._handled(agency, period, score, rng)
                row.update(
                    {
                        "totalReceived": received,
                        "totalOnTime": on_time,
                        "totalOverdue": received - on_time,
                        "avgProcessingDays": round(rng.uniform(1, 12), 2) if received else 0,
                        "ratio": half_up(100 * on_time / received) if received else 0,
                        "score": score,
                        "maxScore": 20,
                        "scoreDelta": None,
                    }
                )
            elif name == "provide-online-tree":
                row.update(
                    {
                        "totalScore": score,
                        "totalMaxScore": 12,
                        "ratio": half_up(score / 12 * 100),
                        "scoreDelta": None,
                    }
                )
            else:
                row = {
                    **{k: row[k] for k in ("departmentId", "departmentName", "departmentCode", "level")},
                    "totalMaxScore": 10,
                    "ratio": half_up(score * 10),
                    "totalScore": score,
                    **_payment_counts(self._supported(agency, period)[group], rng),
                    "scoreDelta": None,
                }
            children.append(row)
        return {
            "parent": self._tree_parent(name, children),
            "children": children,
            **self._chart(name, period, children),
        }

    def _handled(
        self, agency: NationalAgency, period: str, score: float, rng: random.Random
    ) -> tuple[int, int]:
        """2.1's counts: a ward's own dossiers handled and those on time or still in time; drawn elsewhere."""
        wards = self.world.scored_wards()
        if agency.id in wards:
            c = self.world.period_counts(wards[agency.id].id, period)
            handled = c.on_time + c.late + c.pending_in_time + c.pending_overdue
            return handled, c.on_time + c.pending_in_time
        if score == 0:
            return 0, 0
        received = _exact_denominator(20, None, rng)
        return received, _numerator(score / 20, received, 20, None, score)

    def _tree_parent(self, name: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        province = next(a for a in self.world.provinces if a.id == self.world.province_id)
        head = {
            "departmentId": self.root,
            "departmentName": f"UBND {province.name}",
            "departmentCode": PROVINCE_CODE,
        }
        mean = half_up(sum(c.get("score", c.get("totalScore", 0)) for c in children) / max(1, len(children)))
        if name == "dvc-progress-tree":
            received = sum(c["totalReceived"] for c in children)
            on_time = sum(c["totalOnTime"] for c in children)
            ratio = half_up(100 * on_time / received) if received else 0
            return {
                **head,
                "totalReceived": received,
                "totalOnTime": on_time,
                "totalCompleted": on_time + sum(c["totalOverdue"] for c in children) // 2,
                "avgProcessingDays": half_up(
                    sum(c["avgProcessingDays"] for c in children) / max(1, len(children))
                ),
                "ratio": ratio,
                "totalScore": half_up(20 * on_time / received) if received else 0,
                "totalMaxScore": 20,
            }
        if name == "provide-online-tree":
            online, direct, postal = 150956 // 10, 1639 // 10, 0
            on_time = online * 9 // 10
            return {
                **head,
                "totalScore": mean,
                "totalMaxScore": 12,
                "ratio": half_up(mean / 12 * 100),
                "authorityCount": 56,
                "partialCount": 31,
                "fullCount": 21,
                "onlineDossierCount": 406,
                "onlineServiceTotal": 1968,
                "channelOnlineSum": online,
                "channelDirectSum": direct,
                "channelPostalSum": postal,
                "channelTotalSum": online + direct + postal,
                "onlineOnTimeSum": on_time,
                "onlineOverdueSum": online - on_time,
            }
        counts = {k: sum(c[k] for c in children) for k in _PAYMENT_KEYS}
        total = _payment_score(counts)
        return {**head, "totalMaxScore": 10, "totalScore": total, **counts, "ratio": half_up(total * 10)}

    def _chart(self, name: str, period: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        if name == "formality-online-payment-tree":
            return {}
        month = period[5:7] if len(period) == 7 and "-Q" not in period else ""
        if name == "dvc-progress-tree":
            received = sum(c["totalReceived"] for c in children)
            on_time = half_up(100 * sum(c["totalOnTime"] for c in children) / received) if received else 0
            return {
                "monthlyChart": [
                    {
                        "month": f"{m:02d}",
                        "onTimePct": on_time if f"{m:02d}" == month else 0,
                        "overduePct": half_up(100 - on_time) if f"{m:02d}" == month and received else 0,
                    }
                    for m in range(1, 13)
                ]
            }
        return {
            "monthlyChart": [
                {"label": f"{m:02d}", "onlineDossierPct": 20.63 if f"{m:02d}" == month else 0}
                for m in range(1, 13)
            ]
        }

    # --- the tables -----------------------------------------------------------------------------------------

    def _table(self, name: str, period: str, payload: dict[str, Any]) -> dict[str, Any]:
        group, source, metrics = TABLES[name]
        rows = [
            self._table_row(name, group, metrics, agency, ident, code, period, n)
            for n, (agency, ident, code) in enumerate(self._listed(period), start=1)
        ]
        overview = self._overview(name, group, metrics, rows)
        data: dict[str, Any] = {"overview": overview}
        if name == "transparency":
            data["monthlyChart"] = []
        data["evaluation"], data["pagination"] = _paged(rows, payload)
        data["source"] = source
        return data

    def _table_row(
        self,
        name: str,
        group: str,
        metrics: tuple[tuple[str, str, float, float | None], ...],
        agency: NationalAgency,
        ident: str,
        code: str,
        period: str,
        n: int,
    ) -> dict[str, Any]:
        total = self._scores(agency, period)[group]
        rng = random.Random(f"{self.world.spec.seed}/{name}/{agency.id}/{period}")
        # The certified copy is 2 of 2 with no counts on every real row: the rest of the total is shared out.
        constant = min(2.0, total) if any(m[0] == CONSTANT for m in metrics) else 0.0
        scored = [m for m in metrics if m[2] > 0 and m[0] != CONSTANT]
        shares = _shares(round(total - constant, 2), [m[2] for m in scored])
        by_code = {m[0]: s for m, s in zip(scored, shares, strict=True)}
        # The counts follow the score the world's own data gives; a planted discrepancy moves only the scores.
        supported = self._supported(agency, period)[group]
        counted = _shares(
            round(supported - min(2.0, supported) if constant else supported, 2), [m[2] for m in scored]
        )
        count_of = {m[0]: c for m, c in zip(scored, counted, strict=True)}
        out_metrics: list[dict[str, Any]] = []
        for metric_code, label, top, threshold in metrics:
            if metric_code == CONSTANT:
                ratio = half_up(100 * constant / top)
                out_metrics.append(_metric(metric_code, label, None, None, ratio, constant, top))
                continue
            denominator = _exact_denominator(top, threshold, rng) if top else rng.randint(200, 3000)
            if top == 0:  # informational: counts, no score
                numerator = rng.randint(0, denominator)
                ratio = half_up(100 * numerator / denominator)
                out_metrics.append(_metric(metric_code, label, numerator, denominator, ratio, None, 0))
                continue
            score = by_code[metric_code]
            numerator = _numerator(
                count_of[metric_code] / top, denominator, top, threshold, count_of[metric_code]
            )
            ratio = half_up(100 * numerator / denominator)
            out_metrics.append(_metric(metric_code, label, numerator, denominator, ratio, score, top))
        row = _head(
            name, group, total, stt=n, ident=ident, department=agency.name, code=code,
            kind="PROVINCIAL_DEPARTMENT" if agency.capdonvi == "1" else "COMMUNE_PEOPLE_COMMITTEE",
            level="PROVINCE" if agency.capdonvi == "1" else "COMMUNE", agency_level="level_2",
        )  # fmt: skip
        tail: dict[str, Any] = {}
        if name == "handling-satisfaction":
            petitions = out_metrics[2]["denominator"]
            tail = {"totalPetitions": petitions, "classifiedPetitions": petitions,
                    "totalDossiers": out_metrics[1]["denominator"], "averageScore": None}  # fmt: skip
        return _in_real_order(name, row, out_metrics, tail)

    def _overview(
        self,
        name: str,
        group: str,
        metrics: tuple[tuple[str, str, float, float | None], ...],
        rows: list[dict[str, Any]],
    ) -> dict[str, Any]:
        province = next(a for a in self.world.provinces if a.id == self.world.province_id)
        summed: list[dict[str, Any]] = []
        for k, (metric_code, label, top, threshold) in enumerate(metrics):
            if metric_code == CONSTANT:
                summed.append(_metric(metric_code, label, None, None, 100, top, top))
                continue
            numerator = sum(r["metrics"][k]["numerator"] for r in rows)
            denominator = sum(r["metrics"][k]["denominator"] for r in rows)
            rate = numerator / denominator if denominator else 0.0
            share = min(1.0, rate / threshold) if threshold else min(1.0, rate)
            score = half_up(top * share) if top else None
            summed.append(
                _metric(metric_code, label, numerator, denominator, half_up(100 * rate), score, top)
            )
        total = half_up(sum(m["score"] or 0 for m in summed))
        row = _head(
            name, group, total, stt=1, ident=self.root, department=f"UBND {province.name}", code=PROVINCE_CODE,
            kind="PROVINCE", level="PROVINCE", agency_level="level_1",
        )  # fmt: skip
        tail: dict[str, Any] = {}
        if name == "transparency":
            tail = {"averageScore": half_up(sum(r["totalScore"] for r in rows) / max(1, len(rows)))}
        if name == "handling-satisfaction":
            tail = {"totalPetitions": summed[2]["denominator"], "classifiedPetitions": summed[2]["denominator"],
                    "totalDossiers": summed[1]["denominator"], "averageScore": None}  # fmt: skip
        return _in_real_order(name, row, summed, tail)

    # --- the catalogue --------------------------------------------------------------------------------------

    def _formalities(self, payload: dict[str, Any]) -> dict[str, Any]:
        refs = [r for level in ("huyen", "xa") for r in self.world.reference[level]]
        shown, pagination = _paged(refs, payload)
        applied = [ident for agency, ident, _ in self.departments if agency.capdonvi == "2"]
        items = [
            {
                "id": _uuid("formality", r.id),
                "code": r.code,
                "name": r.name,
                "state": "UPDATED",
                "departmentId": _uuid("ministry", r.ministry),
                "publishingDepartmentIds": [_uuid("ministry", r.ministry)],
                "appliedDepartmentIds": applied if r.level == "xa" else [self.root],
            }
            for r in shown
        ]
        return {"items": items, "pagination": pagination}


# --- the answers' shapes -------------------------------------------------------------------------------------


def _created(data: dict[str, Any], key: str = "data") -> Response:
    """The real envelope of an answer: status 201, `{"code": "OK", "data": …, "message": "OK"}`."""
    return Response.json({"code": "OK", key: data, "message": "OK"}, 201)


def _refused(status: int, message: str) -> Response:
    """A refusal: its status again in the body, with a message."""
    return Response.json({"statusCode": status, "message": message}, status)


def _paged(items: list[Any], payload: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The page a request asks for (10 a page unless it asks for 1 to MAX_PAGE_SIZE), and its pagination."""
    size = payload.get("pageSize")
    page = payload.get("currentPage")
    size = size if isinstance(size, int) and 1 <= size <= MAX_PAGE_SIZE else 10
    page = page if isinstance(page, int) and page >= 1 else 1
    pagination = {
        "total": len(items),
        "currentPage": page,
        "pageSize": size,
        "totalPages": max(1, -(-len(items) // size)),
    }
    return items[(page - 1) * size : page * size], pagination


def _metric(
    code: str,
    label: str,
    numerator: int | None,
    denominator: int | None,
    ratio: float,
    score: float | None,
    top: float,
) -> dict[str, Any]:
    """One metric of a table row or its overview; the dossier sync carries the real rows' note on its count."""
    entry: dict[str, Any] = {"code": code, "name": label, "numerator": numerator, "denominator": denominator,
                             "ratio": ratio, "score": score, "maxScore": top}  # fmt: skip
    if code == "DOSSIER_SYNC":
        entry["dataQualityStatus"] = "TEMP_NATIONAL_REPORT_DENOMINATOR"
        entry["dataQualityMessage"] = "Mẫu số tạm tính theo báo cáo quốc gia"
    return entry


def _head(
    name: str, group: str, total: float, *, stt: int, ident: str, department: str, code: str, kind: str,
    level: str, agency_level: str,
) -> dict[str, Any]:  # fmt: skip
    """A table row's keys before its metrics, for a department or the province's overview: the code only on
    dossier-digitized, as the real answers."""
    head: dict[str, Any] = {"stt": stt, "departmentId": ident, "departmentName": department}
    if name == "dossier-digitized":
        head["departmentCode"] = code
    head.update(
        {
            "departmentType": kind,
            "departmentLevel": level,
            "agencyLevel": agency_level,
            "totalScore": total,
            "totalMaxScore": GROUP_MAX[group],
            "ratio": half_up(100 * total / GROUP_MAX[group]),
        }
    )
    return head


def _in_real_order(
    name: str, head: dict[str, Any], metrics: list[dict[str, Any]], tail: dict[str, Any]
) -> dict[str, Any]:
    """A table row's keys in the real answers' order: scoreDelta before the metrics, or after them on
    dossier-digitized; then the endpoint's own totals."""
    if name == "dossier-digitized":
        return {**head, "metrics": metrics, "scoreDelta": None, **tail}
    return {**head, "scoreDelta": None, "metrics": metrics, **tail}


# --- counts that give a score ---------------------------------------------------------------------------------

_PAYMENT_KEYS = (
    "totalDossierOnlinePaymentSuccess",
    "totalDossierFinancialObligation",
    "totalDossierOnlineFormalityPaymentSuccess",
    "totalFeeDossierFormalityDistinct",
    "totalFeeDossierFormality",
    "totalFeeFormality",
)


def _numerator(share: float, denominator: int, top: float, threshold: float | None, score: float) -> int:
    """The numerator over `denominator` whose rate the formula turns closest to `score` (a share of `top`)."""
    rate = min(1.0, max(0.0, share)) * (threshold or 1.0)
    best = round(rate * denominator)
    candidates = [c for c in (best - 1, best, best + 1) if 0 <= c <= denominator]

    def given(n: int) -> float:
        r = n / denominator
        return half_up(top * (min(1.0, r / threshold) if threshold else min(1.0, r)))

    return min(candidates, key=lambda c: (abs(given(c) - score), abs(c - rate * denominator)))


def _exact_denominator(top: float, threshold: float | None, rng: random.Random) -> int:
    """A denominator over which every score of 2 decimals has a numerator giving it exactly (a numerator of 1
    is worth 0.01 point or a fraction of it), times 1 to 3."""
    base = 100 * top / (threshold or 1.0)
    step = next(m for m in range(1, 101) if abs(base * m - round(base * m)) < 1e-6)
    return round(base * step) * rng.randint(1, 3)


def _payment_counts(score: float, rng: random.Random) -> dict[str, int]:
    """Six counts the three-part payment formula turns into `score` (to within 0.01)."""
    obligation = _exact_denominator(6, None, rng)
    distinct, fees = _exact_denominator(2, 0.8, rng), _exact_denominator(2, 0.8, rng)
    first = min(6.0, score)
    rest = max(0.0, score - first)
    second, third = min(2.0, rest), max(0.0, rest - 2.0)
    return {
        "totalDossierOnlinePaymentSuccess": _numerator(first / 6, obligation, 6, None, half_up(first)),
        "totalDossierFinancialObligation": obligation,
        "totalDossierOnlineFormalityPaymentSuccess": _numerator(
            second / 2, distinct, 2, 0.8, half_up(second)
        ),
        "totalFeeDossierFormalityDistinct": distinct,
        "totalFeeDossierFormality": _numerator(third / 2, fees, 2, 0.8, half_up(third)),
        "totalFeeFormality": fees,
    }


def _payment_score(c: dict[str, int]) -> float:
    def part(n: int, d: int, top: float, threshold: float | None) -> float:
        if not d:
            return 0.0
        r = n / d
        return half_up(top * (min(1.0, r / threshold) if threshold else min(1.0, r)))

    return half_up(
        part(c["totalDossierOnlinePaymentSuccess"], c["totalDossierFinancialObligation"], 6, None)
        + part(c["totalDossierOnlineFormalityPaymentSuccess"], c["totalFeeDossierFormalityDistinct"], 2, 0.8)
        + part(c["totalFeeDossierFormality"], c["totalFeeFormality"], 2, 0.8)
    )


def _shares(total: float, maxima: list[float]) -> list[float]:
    """`total` split over metrics in proportion to their maxima, each to 2 decimals, adding up to it exactly."""
    top = sum(maxima)
    shares = [half_up(total * m / top) if top else 0.0 for m in maxima]
    if shares:
        shares[-1] = round(total - sum(shares[:-1]), 2)
        if shares[-1] > maxima[-1] or shares[-1] < 0:  # move the excess to the metrics with room
            excess = round(shares[-1] - min(max(shares[-1], 0.0), maxima[-1]), 2)
            shares[-1] = round(shares[-1] - excess, 2)
            for k in range(len(shares) - 1):
                room = round(maxima[k] - shares[k], 2) if excess > 0 else round(-shares[k], 2)
                step = min(excess, room) if excess > 0 else max(excess, room)
                shares[k] = round(shares[k] + step, 2)
                excess = round(excess - step, 2)
    return shares
