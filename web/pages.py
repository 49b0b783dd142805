"""The server-rendered pages, in Vietnamese: the overview, a unit, an indicator's sources, a snapshot, a diff,
and the SQL page. From a score to the page that proves it in two clicks: overview → unit → evidence."""

from __future__ import annotations

import csv
import difflib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from crawler.content import ContentError, ContentTooLarge, decode_content
from evidence.errors import EvidenceError
from evidence.ledger import record_hash
from evidence.models import Blob, Observation, Snapshot, SnapshotBlob
from indicators.observed import news_findings
from indicators.reconcile import reconcile
from reports import vi
from reports.bundle import bundle_facts
from reports.paths import bundle_path
from web.charts import line_chart
from web.context import WebContext, records
from web.json_table import json_table, looks_like_json, request_text

if TYPE_CHECKING:
    from reports.outputs import Format

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TIERS = (("phuong_xa", "UBND phường, xã"), ("phong", "Cơ quan chuyên môn thành phố"))
COLUMNS = (("name", "Đơn vị"), ("i766", "Chỉ số 766 (Cổng DVCQG công bố)"), ("i766_band", "Xếp loại"),
           ("i766_rank", "Hạng"), ("par", "Chỉ số CCHC (tính từ minh chứng)"), ("coverage", "Độ phủ"),
           ("par_band", "Xếp loại"), ("par_rank", "Hạng"))  # fmt: skip
STATUS_LABELS = {"ok": "có minh chứng", "na": "không áp dụng", "missing": "thiếu minh chứng",
                 "reported": "điểm trên bảng 766", "provided_by_unit": "do đơn vị cung cấp"}  # fmt: skip
ROLE_VI = {"response_body": "Nội dung trả về", "request_body": "Nội dung yêu cầu", "dom": "Trang sau khi hiển thị",
           "screenshot": "Ảnh chụp màn hình", "subresponse": "Tài nguyên phụ"}  # fmt: skip
CAPTURE_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL): a larger one names nothing


def known_id(value: int) -> bool:
    """Whether an id from a URL can name a row at all (99999999999999999999 once gave a 500, not a 404)."""
    return 0 < value <= MAX_ID


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def fmt(value: Any, decimals: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, int | float):
        number = f"{value:,.{decimals}f}"
        return number.replace(",", "\u2009").replace(".", ",") if decimals else number.replace(",", ".")
    return str(value)


def change_text(value: Any) -> str:
    """A change in points: '▲ 1,25', '▼ 0,50', '= 0', or '—' where either side is missing."""
    if value is None or value != value:
        return "—"
    if abs(value) < 0.005:
        return "= 0"
    return f"{'▲' if value > 0 else '▼'} {vi.points(abs(float(value)))}"


def pct(value: Any) -> str:
    return "—" if value is None or value != value else f"{100 * value:.1f}%".replace(".", ",")


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    tz = ZoneInfo(ctx.settings.inspection.timezone)
    values.update(fmt=fmt, pct=pct, status_label=lambda s: STATUS_LABELS.get(s, s), reason_vi=vi.reason,
                  metric_vi=vi.metric, probe_vi=lambda p: vi.PROBE_VI.get(p, p), outcome_vi=lambda o: vi.OUTCOME_VI.get(o, o),
                  change=change_text, role_vi=ROLE_VI,
                  local=lambda d: d.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S") if isinstance(d, datetime) else "—",
                  inspection_title=ctx.settings.inspection.title)  # fmt: skip
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def default_period(ctx: WebContext) -> str:
    """The inspection's period (before the first visit, else the inspection year up to the data)."""
    from reports import common_period

    return common_period(ctx.settings, ctx.figures())


def _table(ctx: WebContext, period: str) -> Any:
    try:
        return ctx.table(period)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, period: str | None = None, sort: str = "i766", dir: str = "desc") -> HTMLResponse:
    ctx = context(request)
    chosen = period is not None
    period = period or default_period(ctx)
    rule = ctx.definitions.rule_set
    floor = round(100 * rule.min_coverage)
    try:
        table = ctx.table(period)
    except ValueError as exc:
        return render(request, "home.html", 400, period=period, error=str(exc), tiers=TIERS, rows={t: [] for t, _ in TIERS},
                      columns=COLUMNS, sort=sort, direction=dir, min_coverage=floor, rule_set=rule.id, chosen=chosen,
                      published_month="")  # fmt: skip
    sites = ctx.site_flags()
    failures = ctx.parse_failure_counts()
    rows: dict[str, list[dict[str, Any]]] = {tier: [] for tier, _ in TIERS}
    for unit in ctx.units():
        mine = table[table["unit"] == unit.id]
        totals = {r["family"]: r for r in records(mine[mine["indicator"].str.startswith("TOTAL_")])}
        a, b = totals.get("766", {}), totals.get("PAR", {})
        problems = warnings(mine, sites.get(unit.id, []), failures.get(unit.id, 0))
        rows["phong" if unit.kind == "phong" else "phuong_xa"].append(
            {
                "unit": unit.id,
                "name": unit.name,
                "i766": a.get("points"),
                "i766_band": a.get("band"),
                "i766_rank": a.get("rank"),
                "i766_snapshot": (a.get("snapshot_ids") or [None])[0],
                "par": b.get("points"),
                "par_band": b.get("band"),
                "par_rank": b.get("rank"),
                "coverage": b.get("coverage"),
                "graded": b.get("band") is not None,
                "uncovered": uncovered(mine, "PAR"),
                "flags": problems[:3],
                "more_flags": len(problems) - 3 if len(problems) > 3 else 0,
                "change": _total_change(ctx, unit.id, period, b.get("points")),
            }
        )
    key = sort if sort in {c for c, _ in COLUMNS} else "i766"
    for tier in rows:
        present = [r for r in rows[tier] if r[key] is not None]
        absent = [r for r in rows[tier] if r[key] is None]
        present.sort(key=lambda r: r[key], reverse=dir != "asc")
        rows[tier] = present + absent
    shown = indicators_period(period)
    return render(request, "home.html", period=period, tiers=TIERS, rows=rows, columns=COLUMNS, sort=key, direction=dir,
                  error="", min_coverage=floor, rule_set=rule.id, chosen=chosen,
                  published_month=shown.dvcqg_key or shown.months[-1])  # fmt: skip


def indicators_period(period: str) -> Any:
    import indicators

    return indicators.parse_period(period)


def uncovered(rows: Any, family: str) -> list[str]:
    """What a unit's total of this family does not cover: its indicators that apply but have no score of ours
    (no evidence, or provided by the unit), by name."""
    gaps = rows[(rows["family"] == family) & rows["status"].isin(["missing", "provided_by_unit"])]
    return [str(n) for n in gaps["name_vi"]]


SEVERITY = {"site": 0, "unreadable": 1, "missing": 2, "below": 3}


def warnings(rows: Any, site_flags: list[str], unreadable: int) -> list[str]:
    """A unit's problems, worst first, in words: the site down, pages not read, indicators without evidence,
    then indicators below their target (the largest shortfall of points first)."""
    ranked: list[tuple[int, float, str]] = [(SEVERITY["site"], 0.0, f) for f in site_flags]
    if unreadable:
        ranked.append((SEVERITY["unreadable"], 0.0, f"{unreadable} trang không đọc được (bố cục lạ)"))
    missing = rows[(rows["status"] == "missing") & (rows["scoring"] != "total")]
    if len(missing):
        names = ", ".join(str(n) for n in missing["name_vi"].head(2))
        more = f" và {len(missing) - 2} chỉ tiêu khác" if len(missing) > 2 else ""
        ranked.append((SEVERITY["missing"], 0.0, f"thiếu minh chứng: {names}{more}"))
    below = rows[rows["flag"] & (rows["status"] == "ok") & (rows["scoring"] != "total")]
    for row in records(below):
        shortfall = float(row["max_points"]) - float(row["points"] or 0.0)
        rate = "" if row["rate"] is None else f" ({pct(row['rate'])})"
        ranked.append((SEVERITY["below"], -shortfall, f"dưới chỉ tiêu: {row['name_vi']}{rate}"))
    return [text for _, _, text in sorted(ranked, key=lambda r: (r[0], r[1]))]


def _total_change(ctx: WebContext, unit_id: str, period: str, points: Any) -> float | None:
    """The PAR index's change since the previous period of the same length (None where either is missing)."""
    previous = previous_period(ctx, period)
    if previous is None or points is None:
        return None
    earlier = previous[(previous["unit"] == unit_id) & (previous["indicator"] == "TOTAL_PAR")]
    if earlier.empty or earlier["points"].isna().all():
        return None
    return float(points) - float(earlier["points"].iloc[0])


def previous_period(ctx: WebContext, period: str) -> Any:
    """The table of the period just before this one (of the same length), if the rule set covers it."""
    import indicators

    try:
        return ctx.table(indicators.previous_period(indicators.parse_period(period)))
    except ValueError:
        return None


@router.get("/units/{unit_id}", response_class=HTMLResponse, include_in_schema=False)
def unit_page(request: Request, unit_id: str, period: str | None = None) -> HTMLResponse:
    import indicators

    ctx = context(request)
    unit = ctx.unit(unit_id)
    if unit is None:
        raise HTTPException(404, f"không có đơn vị {unit_id!r}")
    period = period or default_period(ctx)
    table = _table(ctx, period)
    mine = records(table[table["unit"] == unit_id])
    span = indicators.parse_period(period, max_months=ctx.settings.indicators.max_period_months)
    mine = with_changes(ctx, unit, span, mine)
    charts = unit_charts(ctx, unit_id, list(span.months)[-12:])
    with Session(ctx.engine) as session:
        observations = session.exec(
            select(Observation)
            .where(Observation.unit == unit_id)
            .order_by(col(Observation.id).desc())
            .limit(40)
        ).all()
        snapshots = session.exec(
            select(Snapshot).where(Snapshot.unit == unit_id).order_by(col(Snapshot.seq).desc()).limit(20)
        ).all()
    checks = (
        []
        if unit.kind == "phong"
        else reconcile(ctx.figures(), [unit], ctx.definitions, list(indicators.parse_period(period).months),
                       tables=lambda p: ctx.table(p.key))
    )  # fmt: skip
    changes = news_findings(ctx.engine, ctx.settings, [unit], list(span.months))
    return render(request, "unit.html", unit=unit, period=period, news_findings=changes, kind_label={"phong": "Cơ quan chuyên môn", "phuong": "Phường", "xa": "Xã"}[unit.kind],
                  previous_key=indicators.previous_period(span), last_inspection_key=mine[0].get("last_inspection_period") if mine else None,
                  min_coverage=round(100 * ctx.definitions.rule_set.min_coverage), uncovered=uncovered(table[table["unit"] == unit_id], "PAR"),
                  indicators=[r for r in mine if r["scoring"] != "total"],
                  totals=[r for r in mine if r["scoring"] == "total"], charts=charts,
                  findings=[c for c in checks if c.finding], checked=len(checks), tolerance=ctx.definitions.reconciliation.tolerance,
                  observations=observations, snapshots=snapshots, bundle=bundle_facts(_bundle_path(ctx, unit_id, period)))  # fmt: skip


def with_changes(ctx: WebContext, unit: Any, span: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its change since the previous period (when the rule set covers it) and since the same period
    a year earlier, the previous inspection's (scored under today's rule set, to compare like with like)."""
    import indicators

    previous = previous_period(ctx, span.key)
    before: dict[str, Any] = {}
    if previous is not None:
        earlier = previous[previous["unit"] == unit.id]
        before = dict(zip(earlier["indicator"], earlier["points"], strict=True))
    frame = ctx.table(span.key)
    mine = frame[frame["unit"] == unit.id]
    year = indicators.with_previous(mine, ctx.figures(), [unit], ctx.definitions, span)
    last = dict(zip(year["indicator"], year["previous_points"], strict=True))
    last_key = str(year["previous_period"].iloc[0]) if len(year) else None
    out = []
    for row in rows:
        points = row.get("points")
        old, older = before.get(row["indicator"]), last.get(row["indicator"])
        out.append(
            {
                **row,
                "change_previous": _difference(points, old),
                "change_last_inspection": _difference(points, older),
                "last_inspection_period": last_key,
            }
        )
    return out


def _difference(now: Any, then: Any) -> float | None:
    if now is None or then is None or then != then or now != now:
        return None
    return float(now) - float(then)


def unit_charts(ctx: WebContext, unit_id: str, months: list[str]) -> list[str]:
    """The unit's month-by-month charts: indexes out of 100, on-time processing against its target, posts
    against theirs."""
    import pandas as pd

    # the month tables of the whole group, as the reconciliation reads them: computed once for every unit's page
    frames = [ctx.table(m) for m in months]
    long = pd.concat([f[f["unit"] == unit_id] for f in frames], ignore_index=True)
    points, rates, counts = (
        long.pivot_table(index="indicator", columns="period", values=v, aggfunc="first", dropna=False)
        for v in ("points", "rate", "numerator")
    )

    def series(frame: Any, name: str, scale: float = 1.0) -> list[float | None]:
        if name not in frame.index:
            return [None] * len(months)
        return [None if v != v else scale * float(v) for v in frame.loc[name].tolist()]

    definitions = {i.id: i for i in ctx.definitions.indicator}
    ontime = definitions.get("PAR_ONTIME")
    limit = ontime.flag_below if ontime is not None and ontime.flag_below is not None else None
    news = definitions.get("PAR_NEWS")
    bands = ctx.definitions.bands
    good_766 = next((b.min for b in bands.i766 if b.name == "Tốt"), None)
    return [
        line_chart(
            "Chỉ số tổng hợp theo tháng",
            months,
            {
                "Chỉ số 766 do Cổng DVCQG công bố": series(points, "TOTAL_766"),
                "Chỉ số CCHC tính từ minh chứng": series(points, "TOTAL_PAR"),
            },
            100,
            unit="điểm / 100",
            targets=[(good_766, f"ngưỡng xếp loại Tốt của Chỉ số 766 ({vi.number(good_766)})")]
            if good_766
            else [],
        ),
        line_chart(
            "Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn",
            months,
            {"Hồ sơ xử lý trước hạn, đúng hạn": series(rates, "I766_2_1", 100.0)},
            100,
            unit="%",
            targets=[(100 * limit, f"chỉ tiêu {vi.number(100 * limit)}%")] if limit else [],
        ),
        line_chart(
            "Tin, bài đăng trên cổng thông tin điện tử",
            months,
            {
                "Tin, bài": series(counts, "PAR_NEWS"),
                "Tin, bài về CCHC, chuyển đổi số": series(counts, "PAR_CCHC_POSTS"),
            },
            unit="tin, bài / tháng",
            targets=[(news.target, f"chỉ tiêu {vi.number(news.target)} tin, bài/tháng")]
            if news is not None and news.target and news.per == "month"
            else [],
        ),
    ]


def _bundle_path(ctx: WebContext, unit_id: str, period: str) -> Path:
    import indicators

    return bundle_path(ctx.settings, unit_id, indicators.parse_period(period))


@router.get("/units/{unit_id}/bundle.wacz", include_in_schema=False)
def bundle_download(request: Request, unit_id: str, period: str | None = None) -> Response:
    """The unit's evidence bundle for the period, as `cchc evidence bundle` made it (the web app holds no key
    and signs nothing: it only offers what the collector made)."""
    ctx = context(request)
    if ctx.unit(unit_id) is None:
        raise HTTPException(404, f"không có đơn vị {unit_id!r}")
    chosen = period or default_period(ctx)
    path = _bundle_path(ctx, unit_id, chosen)
    if not path.is_file():
        raise HTTPException(
            404,
            f"chưa có gói minh chứng của {unit_id} cho kỳ {chosen}: lập bằng `cchc evidence bundle -u {unit_id} --period {chosen}`",
        )
    return FileResponse(path, media_type="application/wacz", filename=path.name)


@router.get("/units/{unit_id}/sources/{indicator}", response_class=HTMLResponse, include_in_schema=False)
def sources_page(request: Request, unit_id: str, indicator: str, period: str | None = None) -> HTMLResponse:
    ctx = context(request)
    unit = ctx.unit(unit_id)
    if unit is None:
        raise HTTPException(404, f"không có đơn vị {unit_id!r}")
    period = period or default_period(ctx)
    table = _table(ctx, period)
    rows = records(table[(table["unit"] == unit_id) & (table["indicator"] == indicator)])
    if not rows:
        raise HTTPException(404, f"không có chỉ số {indicator!r}")
    row = rows[0]
    with Session(ctx.engine) as session:
        found = session.exec(
            select(Snapshot).where(col(Snapshot.id).in_(row["snapshot_ids"])).order_by(col(Snapshot.seq))
        ).all()
        bodies = {link.snapshot_id: link.sha256 for link in session.exec(
            select(SnapshotBlob).where(col(SnapshotBlob.snapshot_id).in_(row["snapshot_ids"]), SnapshotBlob.role == "response_body"))}  # fmt: skip
    listed = [
        {
            "id": s.id,
            "fetched_at": s.fetched_at,
            "probe": s.probe,
            "url": s.url,
            "sha256": bodies.get(s.id or 0),
        }
        for s in found
    ]
    return render(request, "sources.html", unit=unit, period=period, indicator=indicator, name=row["name_vi"],
                  snapshots=listed, observation_count=len(row["observation_ids"]))  # fmt: skip


def _snapshot(ctx: WebContext, snapshot_id: int) -> tuple[Snapshot, list[SnapshotBlob]]:
    if not known_id(snapshot_id):
        raise HTTPException(404, f"không có bản chụp #{snapshot_id}")
    with Session(ctx.engine) as session:
        snapshot = session.get(Snapshot, snapshot_id)
        if snapshot is None:
            raise HTTPException(404, f"không có bản chụp #{snapshot_id}")
        links = list(session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == snapshot_id)).all())
    return snapshot, links


def verification(
    ctx: WebContext, snapshot: Snapshot, links: list[SnapshotBlob]
) -> tuple[bool, str, list[dict[str, Any]]]:
    """The snapshot's own check: its record hash, its link to the previous record, each blob's digest."""
    states = []
    for link in links:
        try:
            ctx.blobs.get(link.sha256)
            state = "ok"
        except EvidenceError as exc:
            state = str(exc)
        states.append({"role": link.role, "sha256": link.sha256, "url": link.url, "state": state})
    own = record_hash(snapshot, links) == snapshot.record_hash
    with Session(ctx.engine) as session:
        before = session.exec(select(Snapshot.record_hash).where(Snapshot.seq == snapshot.seq - 1)).first()
    linked = snapshot.seq == 1 or before == snapshot.prev_hash
    clean = own and linked and all(s["state"] == "ok" for s in states)
    problems = ([] if own else ["mã băm bản ghi không khớp"]) + (
        [] if linked else ["không nối được với bản ghi trước"]
    )
    problems += [f"tệp {s['role']} lỗi" for s in states if s["state"] != "ok"]
    text = (
        "Đã kiểm chứng: mã băm bản ghi, liên kết chuỗi và các tệp đều khớp."
        if clean
        else "KHÔNG khớp: " + "; ".join(problems)
    )
    return clean, text, states


@router.get("/evidence/{snapshot_id}", response_class=HTMLResponse, include_in_schema=False)
def evidence_page(request: Request, snapshot_id: int, unit: str | None = None) -> HTMLResponse:
    """A snapshot: its record and verification, then what it says: a page in a sandbox, a screenshot, or a JSON
    answer as a table with the rows behind the figure (of `unit`, else of every matched unit) highlighted."""
    ctx = context(request)
    snapshot, links = _snapshot(ctx, snapshot_id)
    clean, text, states = verification(ctx, snapshot, links)
    roles = {link.role for link in links}
    with Session(ctx.engine) as session:
        previous = session.exec(select(Snapshot.id).where(Snapshot.seq == snapshot.seq - 1)).first()
        following = session.exec(select(Snapshot.id).where(Snapshot.seq == snapshot.seq + 1)).first()
        same = _previous_same(session, snapshot)
    kind = _content_type(snapshot, links)
    page = "dom" in roles or ("response_body" in roles and "html" in kind)
    table, request_body, page_shot = None, "", None
    if "response_body" in roles and not page and snapshot.valid:
        try:
            body = _body(ctx, snapshot, links)
        except (HTTPException, EvidenceError):
            body = b""
        if body and looks_like_json(kind, body):
            table = json_table(body)
    if table is not None:
        table.highlighted = _rows_behind(ctx, snapshot_id, unit)
        sent = next((link for link in links if link.role == "request_body"), None)
        if sent is not None:
            try:
                request_body = request_text(ctx.blobs.get(sent.sha256))
            except EvidenceError:
                request_body = ""
        page_shot = _page_screenshot(ctx, snapshot)
    chosen = ctx.unit(unit) if unit else None
    return render(request, "evidence.html", s=snapshot, blobs=states, verified=clean, verification=text, previous=previous,
                  following=following, previous_same=same, has_screenshot="screenshot" in roles, has_page=page,
                  table=table, request_body=request_body, page_shot=page_shot, chosen_unit=chosen,
                  probe_label=vi.PROBE_VI.get(snapshot.probe, snapshot.probe))  # fmt: skip


def _rows_behind(ctx: WebContext, snapshot_id: int, unit: str | None) -> set[int]:
    """The rows of a report the figures were read from: those matched to `unit`, else to any unit of ours."""
    with Session(ctx.engine) as session:
        found = session.exec(
            select(Observation).where(
                Observation.snapshot_id == snapshot_id, Observation.metric == "report_row"
            )
        ).all()
    rows = set()
    for observation in found:
        attributes = observation.attributes if isinstance(observation.attributes, dict) else {}
        position = attributes.get("row")
        if (
            isinstance(position, int)
            and observation.unit is not None
            and (unit is None or observation.unit == unit)
        ):
            rows.add(position)
    return rows


def _page_screenshot(ctx: WebContext, snapshot: Snapshot) -> int | None:
    """A screenshot of a page the same run captured for the same probe (the page whose script asked), if any."""
    with Session(ctx.engine) as session:
        return session.exec(
            select(Snapshot.id).join(SnapshotBlob, col(SnapshotBlob.snapshot_id) == col(Snapshot.id))
            .where(Snapshot.run_id == snapshot.run_id, Snapshot.probe == snapshot.probe, SnapshotBlob.role == "screenshot")
            .order_by(col(Snapshot.seq).desc()).limit(1)
        ).first()  # fmt: skip


def _previous_same(session: Session, snapshot: Snapshot) -> int | None:
    return session.exec(
        select(Snapshot.id).where(Snapshot.target_key == snapshot.target_key, Snapshot.seq < snapshot.seq, Snapshot.valid == True)  # noqa: E712
        .order_by(col(Snapshot.seq).desc()).limit(1)
    ).first()  # fmt: skip


def _content_type(snapshot: Snapshot, links: list[SnapshotBlob]) -> str:
    body = next((link for link in links if link.role == "response_body"), None)
    if body is not None and body.info.get("content_type"):
        return str(body.info["content_type"])
    return next((v for k, v in snapshot.response_headers if k.lower() == "content-type"), "")


def _body(
    ctx: WebContext, snapshot: Snapshot, links: list[SnapshotBlob], role: str = "response_body"
) -> bytes:
    link = next((item for item in links if item.role == role), None)
    if link is None:
        raise HTTPException(404, f"bản chụp #{snapshot.id} không có {role}")
    data = ctx.blobs.get(link.sha256)
    if role != "response_body":
        return data
    # The body as the server meant it, within the crawl's own bound: a gzip bomb is never inflated here.
    raw = f"/evidence/{snapshot.id}/raw"
    if snapshot.outcome == "too-large":
        raise HTTPException(
            422, f"bản chụp #{snapshot.id} quá lớn để hiển thị ({snapshot.detail}); tải bản gốc: {raw}"
        )
    encoding = next((v for k, v in snapshot.response_headers if k.lower() == "content-encoding"), None)
    try:
        return decode_content(data, encoding, max_bytes=ctx.settings.politeness.max_body_bytes,
                              already_decoded=snapshot.render == "browser")  # fmt: skip
    except ContentTooLarge as exc:
        raise HTTPException(
            422, f"bản chụp #{snapshot.id} quá lớn để hiển thị ({exc}); tải bản gốc: {raw}"
        ) from None
    except ContentError as exc:
        raise HTTPException(
            422, f"không giải mã được nội dung bản chụp #{snapshot.id} ({exc}); tải bản gốc: {raw}"
        ) from None


@router.get("/evidence/{snapshot_id}/capture", include_in_schema=False)
def evidence_capture(request: Request, snapshot_id: int) -> Response:
    """The captured page, shown without running any of it: its own path, and a CSP sandbox without scripts."""
    ctx = context(request)
    snapshot, links = _snapshot(ctx, snapshot_id)
    roles = {link.role for link in links}
    data = _body(ctx, snapshot, links, "dom" if "dom" in roles else "response_body")
    return Response(data, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": CAPTURE_CSP, "X-Content-Type-Options": "nosniff"})  # fmt: skip


@router.get("/evidence/{snapshot_id}/screenshot.png", include_in_schema=False)
def evidence_screenshot(request: Request, snapshot_id: int) -> Response:
    ctx = context(request)
    snapshot, links = _snapshot(ctx, snapshot_id)
    return Response(_body(ctx, snapshot, links, "screenshot"), media_type="image/png")


@router.get("/evidence/{snapshot_id}/raw", include_in_schema=False)
def evidence_raw(request: Request, snapshot_id: int) -> Response:
    """The response body exactly as stored (still content-encoded), as a download, never rendered."""
    ctx = context(request)
    _, links = _snapshot(ctx, snapshot_id)
    link = next((item for item in links if item.role == "response_body"), None)
    if link is None:
        raise HTTPException(404, f"bản chụp #{snapshot_id} không có nội dung")
    return Response(ctx.blobs.get(link.sha256), media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="snapshot-{snapshot_id}-{link.sha256[:12]}.bin"'})  # fmt: skip


@router.get("/evidence/{snapshot_id}/blob/{sha256}", include_in_schema=False)
def evidence_blob(request: Request, snapshot_id: int, sha256: str) -> Response:
    ctx = context(request)
    _, links = _snapshot(ctx, snapshot_id)
    if sha256 not in {link.sha256 for link in links}:
        raise HTTPException(404, f"tệp {sha256} không thuộc bản chụp #{snapshot_id}")
    with Session(ctx.engine) as session:
        if session.get(Blob, sha256) is None:
            raise HTTPException(404, f"không có tệp {sha256}")
    return Response(ctx.blobs.get(sha256), media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{sha256[:16]}.bin"'})  # fmt: skip


@router.get("/evidence/{snapshot_id}/diff", response_class=HTMLResponse, include_in_schema=False)
def evidence_diff(request: Request, snapshot_id: int) -> HTMLResponse:
    ctx = context(request)
    snapshot, links = _snapshot(ctx, snapshot_id)
    with Session(ctx.engine) as session:
        same = _previous_same(session, snapshot)
    if same is None:
        raise HTTPException(404, f"bản chụp #{snapshot_id} chưa có bản chụp trước của cùng trang")
    older, older_links = _snapshot(ctx, same)
    role = "dom" if snapshot.render == "browser" else "response_body"
    lines_old = _readable(_body(ctx, older, older_links, role))
    lines_new = _readable(_body(ctx, snapshot, links, role))
    rows = []
    for line in difflib.unified_diff(lines_old, lines_new, f"#{same}", f"#{snapshot_id}", lineterm="", n=2):
        kind = (
            "diff-add"
            if line.startswith("+") and not line.startswith("+++")
            else ("diff-del" if line.startswith("-") and not line.startswith("---") else "")
        )
        rows.append((kind, line))
    return render(
        request, "diff.html", older=same, newer=snapshot_id, lines=rows, changed=sum(1 for k, _ in rows if k)
    )


def _readable(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=1, sort_keys=True).splitlines()
    except ValueError:
        return text.replace("><", ">\n<").splitlines()


# --- the analysts' SQL ------------------------------------------------------------------------------------------


def run_sql(request: Request, query: str) -> Any:
    from web.sql import SqlError

    sql = request.app.state.sql
    try:
        return sql.run(query), ""
    except SqlError as exc:  # refused, stopped at its timeout, or rejected as written: the reason, shown
        return None, str(exc)


@router.get("/sql", response_class=HTMLResponse, include_in_schema=False)
def sql_page(request: Request, q: str = "") -> HTMLResponse:
    from web.sql import EXAMPLES, SqlError

    ctx = context(request)
    result, error = run_sql(request, q) if q.strip() else (None, "")
    try:
        schema = request.app.state.sql.schema()
    except SqlError as exc:
        schema, error = [], error or str(exc)
    return render(request, "sql.html", 400 if error else 200, query=q, result=result, error=error, examples=EXAMPLES,
                  schema=schema, timeout=ctx.settings.web.sql_timeout_s, limit=ctx.settings.web.sql_row_limit,
                  max_bytes=ctx.settings.web.sql_max_bytes)  # fmt: skip


@router.get("/sql.csv", include_in_schema=False)
def sql_csv(request: Request, q: str) -> Response:
    result, error = run_sql(request, q)
    if error:
        raise HTTPException(400, error)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="truy-van.csv"'})  # fmt: skip


@router.get("/sql.json", include_in_schema=False)
def sql_json(request: Request, q: str) -> Response:
    result, error = run_sql(request, q)
    if error:
        raise HTTPException(400, error)
    body = {"columns": result.columns, "rows": [list(r) for r in result.rows], "truncated": result.truncated}
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type="application/json")


@router.get("/units/{unit_id}/summary.{kind}", include_in_schema=False)
def summary_download(request: Request, unit_id: str, kind: str, period: str | None = None) -> Response:
    """The unit's pre-visit summary (HTML, PDF or XLSX), made from the evidence as it is now."""
    import tempfile

    from cchc.errors import CchcError
    from reports import build_summary, write_summary

    ctx = context(request)
    if ctx.unit(unit_id) is None:
        raise HTTPException(404, f"không có đơn vị {unit_id!r}")
    media = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip
    if kind not in media:
        raise HTTPException(404, "định dạng: html, pdf hoặc xlsx")
    try:
        summary = build_summary(ctx.settings, unit_id, period=period)
    except (CchcError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    with tempfile.TemporaryDirectory() as folder:
        chosen = cast("Format", kind)
        path = write_summary(
            summary, chosen, Path(folder) / f"{unit_id}.{kind}", ctx.settings.browser.executable
        )
        data = path.read_bytes()
    headers = (
        {} if kind == "html" else {"Content-Disposition": f'attachment; filename="bao-cao-{unit_id}.{kind}"'}
    )
    return Response(data, media_type=media[kind], headers=headers)
