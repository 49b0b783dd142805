"""Raw figures per unit, read off the observations: what the probes saw, merged across captures.

Each figure keeps the ids of the observations and snapshots behind it. A figure whose evidence is not
complete (a news walk that did not reach the month, a procedure list not read to its TotalCount) is
`missing` with the reason, never a zero. `indicators/` reads observations only, never pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cchc.settings import Settings, Unit
from indicators.news import NEWS_METRICS as NEWS_METRICS  # re-exported beside the other metric lists
from indicators.news import NewsFinding, news_counts
from probes.national_v1 import ENDPOINTS
from probes.procedures import DETAIL_ENDPOINT
from probes.service_stats import OPTIONAL_DOSSIER_FIELDS
from probes.v1_reports import score_metric

# Dossiers and feedback still open at the month's end: optional in the monthly summary (no public source shows
# them), so a month whose summary lacks them has them N/A with the reason, and 2.1 and 5.2 with them.
PENDING_METRICS = tuple(OPTIONAL_DOSSIER_FIELDS.values())
DOSSIER_METRICS = (
    "hs_received", "hs_received_direct", "hs_received_post", "hs_received_online", "hs_synced",
    "hs_processed_on_time", "hs_processed_late", "hs_returned_on_time", "hs_returned_late",
    "hs_paid_online_dvcqg", "hs_paid_online_local", "pakn_on_time", "pakn_late", *PENDING_METRICS,
)  # fmt: skip
SCORE_METRICS = ("i766_score_tong", "i766_score_ckmb", "i766_score_tdgq", "i766_score_tttt", "i766_score_clgq",
                 "i766_score_mdhl", "i766_score_mdsh")  # fmt: skip
RANK_METRICS = ("i766_rank",)  # the unit's place (ROW_STT) in the province's 766 report, as published
PROCEDURE_METRICS = ("tthc_listed", "tthc_toan_trinh", "tthc_mot_phan", "tthc_cung_cap_thong_tin", "tthc_dvctt",
                     "tthc_complete_7", "tthc_reference", "tthc_reference_complete", "tthc_reference_missing")  # fmt: skip
ONLINE_LEVELS = ("toan_trinh", "mot_phan")  # the highest first: a procedure offered at both counts once
COLUMNS = [
    "unit",
    "metric",
    "period",
    "value",
    "status",
    "reason",
    "observed_at",
    "observation_ids",
    "snapshot_ids",
    "detail",
]


@dataclass
class Figure:
    unit: str
    metric: str
    period: str
    value: float | None
    status: str = "ok"  # ok | na (does not apply to this unit) | missing (no complete evidence)
    reason: str = ""
    observed_at: datetime | None = None
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def load_observations(engine: Engine, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Observations joined to their snapshots; per snapshot, only its newest parser version's."""
    query = (
        "SELECT o.id, o.snapshot_id, o.probe, o.unit, o.metric, o.period, o.value, o.text, o.attributes, "
        "o.parser_version, s.fetched_at, s.run_id, s.seq FROM observation o JOIN snapshot s ON s.id = o.snapshot_id"
    )
    params: dict[str, Any] = {}
    wanted = list(metrics or [])
    if wanted:
        query += " WHERE o.metric IN :metrics"
        params["metrics"] = wanted
    statement = sa.text(query)
    if wanted:
        statement = statement.bindparams(sa.bindparam("metrics", expanding=True))
    with engine.connect() as connection:
        frame = pd.read_sql(statement, connection, params=params)
    if frame.empty:
        return frame
    frame["attributes"] = frame["attributes"].map(
        lambda a: json.loads(a) if isinstance(a, str) else (a or {})
    )
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    version = frame["parser_version"].map(_version_key)
    newest = version.groupby(frame["snapshot_id"]).transform("max")
    return frame[version == newest].reset_index(drop=True)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if str(version).isdigit() else (0, str(version))


def load_failures(engine: Engine) -> pd.DataFrame:
    """Why evidence may be missing: failed captures and parse failures, per unit and probe, newest first."""
    query = sa.text(
        "SELECT s.id AS snapshot_id, s.unit, s.probe, s.url, s.outcome, s.status_code, s.detail, s.fetched_at, "
        "s.seq, f.reason AS parse_reason, f.parser FROM snapshot s LEFT JOIN parse_failure f ON f.snapshot_id = s.id "
        "WHERE s.outcome <> 'ok' OR f.id IS NOT NULL ORDER BY s.seq DESC"
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    frame["why"] = [
        f"{p}: {r}" if isinstance(r, str) and r else f"{o}{f' ({d})' if d else ''} at {u}"
        for p, r, o, d, u in zip(
            frame["parser"],
            frame["parse_reason"],
            frame["outcome"],
            frame["detail"],
            frame["url"],
            strict=True,
        )
    ]
    return frame


def figures_frame(figures: Sequence[Figure]) -> pd.DataFrame:
    return pd.DataFrame([f.__dict__ for f in figures], columns=COLUMNS)


def raw_figures(engine: Engine, settings: Settings, units: Sequence[Unit] | None = None) -> pd.DataFrame:
    """Every raw figure the evidence supports, per inspected unit: one row per unit × metric × period."""
    chosen = list(units) if units is not None else settings.units_in_inspection()
    obs = load_observations(engine)
    failures = load_failures(engine)
    figures: list[Figure] = []
    if not obs.empty:
        figures += latest_values(obs, DOSSIER_METRICS + SCORE_METRICS, chosen)
        figures += v1_totals(figures)
        figures += published_ranks(obs, chosen)
        figures += unmatched_figures(obs, chosen, figures)
        figures += news_figures(obs, settings, chosen, failures)
        figures += procedure_figures(obs, settings, chosen, failures)
    return with_unpublished(figures_frame(figures))


# --- national reports: a unit not matched, or a field the report lacks, is a finding with its reason ---------

SERVICE_METRICS = {
    "report_by_month_sum_service": DOSSIER_METRICS,
    "report_tinh_766_service": SCORE_METRICS,
    **{name: (score_metric(endpoint),) for name, endpoint in ENDPOINTS.items()},  # api/v1: one group each
}


def unmatched_figures(obs: pd.DataFrame, units: Sequence[Unit], known: Sequence[Figure]) -> list[Figure]:
    """Where a report was read but gave a unit no figure: `missing`, with the finding that says why (the unit
    in no row or in two, named with the rows; or the field the report lacks). A figure some capture gave is
    kept as it is: a later page or an earlier run may have found the unit."""
    matches = obs[
        (obs["metric"] == "unit_match") & obs["attributes"].map(lambda a: a.get("scope") == "national")
    ]
    if matches.empty:
        return []
    have = {(f.unit, f.metric, f.period) for f in known}
    wanted = {u.id for u in units if u.kind != "phong"}
    figures: dict[tuple[str, str, str], Figure] = {}
    for r in matches.sort_values("seq").itertuples():
        attributes = r.attributes
        metrics = SERVICE_METRICS.get(str(attributes.get("service")), ())
        if r.unit not in wanted or not metrics:
            continue
        if r.value:
            absent = set(attributes.get("fields_absent") or [])
            reason = f"{attributes['service']} gives no figure for it in this unit's row ({r.text})"
            chosen = [m for m in metrics if m in absent]
        else:
            reason, chosen = str(r.text), list(metrics)
        for metric in chosen:
            key = (str(r.unit), metric, str(r.period))
            if key not in have:
                figures[key] = Figure(*key, None, "missing", reason, observation_ids=[int(r.id)],
                                      snapshot_ids=[int(r.snapshot_id)])  # fmt: skip
    return list(figures.values())


def city_ranks(engine: Engine) -> pd.DataFrame:
    """The city's own rank among the province's districts on the 766 report, per period (the latest capture):
    shown beside the units' ranks. Columns: period, rank, of, by, observation_id, snapshot_id."""
    obs = load_observations(engine, ["i766_rank_district"])
    columns = ["period", "rank", "of", "by", "observation_id", "snapshot_id"]
    if obs.empty:
        return pd.DataFrame(columns=columns)
    latest = obs.sort_values("seq").groupby("period", as_index=False).last()
    return pd.DataFrame(
        [(r.period, int(r.value), int(r.attributes["of"]), r.attributes["by"], int(r.id), int(r.snapshot_id))
         for r in latest.itertuples()],
        columns=columns,
    )  # fmt: skip


def _why(failures: pd.DataFrame, unit: str | None, probe: str) -> str:
    rows = failures[(failures["probe"] == probe) & ((failures["unit"] == unit) | failures["unit"].isna())]
    return str(rows["why"].iloc[0]) if len(rows) else ""


# --- reports: the latest value of each figure -----------------------------------------------------------------


def latest_values(obs: pd.DataFrame, metrics: Sequence[str], units: Sequence[Unit]) -> list[Figure]:
    """Figures a report states outright (dossier counts, 766 scores): the latest capture's value."""
    wanted = obs[obs["metric"].isin(metrics) & obs["unit"].isin([u.id for u in units])]
    if wanted.empty:
        return []
    latest = wanted.sort_values("seq").groupby(["unit", "metric", "period"], as_index=False).last()
    return [
        Figure(
            r.unit,
            r.metric,
            r.period,
            float(r.value),
            observed_at=r.fetched_at.to_pydatetime(),
            observation_ids=[int(r.id)],
            snapshot_ids=[int(r.snapshot_id)],
        )
        for r in latest.itertuples()
    ]


def v1_totals(figures: Sequence[Figure]) -> list[Figure]:
    """api/v1 publishes no total: where a unit's six group scores of a period are all there and no total is, the
    total is their sum (as rest.jsp's TONG_SCORE is), kept with the observations of all six."""
    groups = [m for m in SCORE_METRICS if m != "i766_score_tong"]
    by_key: dict[tuple[str, str], dict[str, Figure]] = {}
    for f in figures:
        if f.metric in SCORE_METRICS and f.status == "ok" and f.value is not None:
            by_key.setdefault((f.unit, f.period), {})[f.metric] = f
    totals = []
    for (unit, period), found in by_key.items():
        if "i766_score_tong" in found or any(m not in found for m in groups):
            continue
        parts = [found[m] for m in groups]
        totals.append(
            Figure(unit, "i766_score_tong", period, round(sum(p.value or 0.0 for p in parts), 2),
                   observed_at=max((p.observed_at for p in parts if p.observed_at is not None), default=None),
                   observation_ids=sorted({i for p in parts for i in p.observation_ids}),
                   snapshot_ids=sorted({i for p in parts for i in p.snapshot_ids}))
        )  # fmt: skip
    return totals


def published_ranks(obs: pd.DataFrame, units: Sequence[Unit]) -> list[Figure]:
    """The unit's place in the province's 766 report (its ROW_STT), per period, from the latest capture."""
    wanted = obs[(obs["metric"] == "i766_score_tong") & obs["unit"].isin([u.id for u in units])]
    if wanted.empty:
        return []
    latest = wanted.sort_values("seq").groupby(["unit", "period"], as_index=False).last()
    return [
        Figure(r.unit, "i766_rank", r.period, float(r.attributes["rank"]), observed_at=r.fetched_at.to_pydatetime(),
               observation_ids=[int(r.id)], snapshot_ids=[int(r.snapshot_id)])
        for r in latest.itertuples()
        if isinstance(r.attributes, dict) and isinstance(r.attributes.get("rank"), int | float)
    ]  # fmt: skip


def with_unpublished(frame: pd.DataFrame) -> pd.DataFrame:
    """Each month a unit's summary gave counts but not the optional open-dossier ones: those are N/A with the
    reason (the source does not publish them), so the indicators that need them say why instead of a gap."""
    received = frame[(frame["metric"] == "hs_received") & (frame["status"] == "ok")]
    if received.empty:
        return frame
    have = set(zip(frame["unit"], frame["metric"], frame["period"], strict=True))
    fields = {metric: field for field, metric in OPTIONAL_DOSSIER_FIELDS.items()}
    added = [
        Figure(unit, metric, period, None, "na",
               f"not published: the monthly summary has no {fields[metric]} (dossiers or feedback still open at "
               "the month's end)")
        for unit, period in zip(received["unit"], received["period"], strict=True)
        for metric in PENDING_METRICS
        if (unit, metric, period) not in have
    ]  # fmt: skip
    return pd.concat([frame, figures_frame(added)], ignore_index=True) if added else frame


def online_distinct(rows: Iterable[tuple[str, str]]) -> int:
    """3.1's numerator: procedures (by code) offered online, toàn trình or một phần, each counted once at its
    highest level ("tính cho mức DVCTT cao nhất", formula description 3.1)."""
    return len({code for code, level in rows if level in ONLINE_LEVELS})


# --- news: distinct posts per month, from each category's latest complete walk (indicators/news.py) ------------


NEWS_OBSERVATIONS = ("news_post", "news_page", "news_article", "news_feed_item", "news_site_moved")


def news_figures(
    obs: pd.DataFrame, settings: Settings, units: Sequence[Unit], failures: pd.DataFrame
) -> list[Figure]:
    return news_counts(obs, settings, units, lambda unit: _why(failures, unit, "news"), Figure).figures


def news_findings(
    engine: Engine,
    settings: Settings,
    units: Sequence[Unit] | None = None,
    months: Sequence[str] | None = None,
) -> list[NewsFinding]:
    """Posts removed, re-dated or backdated between a unit's last two complete walks, and pages corrected from a
    foreign zone (month ""), each with its snapshots; only those of `months` when given."""
    obs = load_observations(engine, NEWS_OBSERVATIONS)
    if obs.empty:
        return []
    chosen = list(units) if units is not None else settings.units_in_inspection()
    found = news_counts(obs, settings, chosen, lambda _: "", Figure).findings
    return [f for f in found if months is None or f.month == "" or f.month in months]


# --- procedures: the latest complete list of each unit, against the national reference ----------------------


def procedure_figures(
    obs: pd.DataFrame, settings: Settings, units: Sequence[Unit], failures: pd.DataFrame
) -> list[Figure]:
    rows = obs[obs["metric"] == "tthc"]
    pages = obs[obs["metric"] == "tthc_list_page"]
    details = obs[obs["metric"] == "tthc_detail"].sort_values("seq")
    references = obs[obs["metric"] == "tthc_reference"]
    reference_pages = obs[obs["metric"] == "tthc_reference_page"]
    directory = _directory_matches(obs)
    field_owners = _field_owners(obs, settings.city.dvc_donvi_id)
    latest_detail = {int(a["procedure_id"]): (float(v), int(i), int(s))
                     for a, v, i, s in zip(details["attributes"], details["value"], details["id"], details["snapshot_id"], strict=True)
                     if a.get("procedure_id") is not None}  # fmt: skip
    figures: list[Figure] = []
    for unit in units:
        donvi = unit.dvc_donvi_id if unit.kind != "phong" else settings.city.dvc_donvi_id
        level = "huyen" if unit.kind == "phong" else "xa"
        if unit.kind == "phong" and not unit.dvc_linh_vuc:
            figures += [Figure(unit.id, m, "instant", None, "na", "no lĩnh vực is attributed to this phòng")
                        for m in PROCEDURE_METRICS]  # fmt: skip
            continue
        doubt = _donvi_doubt(directory.get("city" if unit.kind == "phong" else unit.id))
        if doubt:
            figures += [Figure(unit.id, m, "instant", None, "missing", doubt) for m in PROCEDURE_METRICS]
            continue
        listed = _complete_list(rows, pages, donvi)
        if listed is None:
            why = _why(failures, unit.id if unit.kind != "phong" else None, "procedures")
            reason = f"the procedure list of DonViID {donvi} was never read to its TotalCount" + (
                f": {why}" if why else ""
            )
            figures += [Figure(unit.id, m, "instant", None, "missing", reason) for m in PROCEDURE_METRICS]
            continue
        list_rows, at = listed
        mine = list_rows[_owned_by(list_rows, unit, field_owners)]
        if unit.kind == "phong" and mine.empty and len(list_rows):
            unattributed = list_rows[list_rows["unit"].isna()]
            if len(unattributed) and not any(a.get("field") for a in unattributed["attributes"]):
                reason = ("the city's list gives each procedure's LinhVucID only (no TenLinhVuc), and none of "
                          "this phòng's fields has a known id: no LoadCBoLinhVuc capture and no dvc_linh_vuc_ids "
                          "(run `cchc discover`)")  # fmt: skip
                figures += [Figure(unit.id, m, "instant", None, "missing", reason) for m in PROCEDURE_METRICS]
                continue
        pids = sorted({int(a["procedure_id"]) for a in mine["attributes"]})
        codes = {int(a["procedure_id"]): a.get("code") for a in mine["attributes"]}
        levels = [str(a["level"]) for a in mine["attributes"]]
        ids, snaps = [int(i) for i in mine["id"]], sorted({int(s) for s in mine["snapshot_id"]})
        figures.append(Figure(unit.id, "tthc_listed", "instant", float(len(pids)), observation_ids=ids,
                              snapshot_ids=snaps, observed_at=at))  # fmt: skip
        for name in ("toan_trinh", "mot_phan", "cung_cap_thong_tin"):
            figures.append(Figure(unit.id, f"tthc_{name}", "instant", float(levels.count(name)), observation_ids=ids,
                                  snapshot_ids=snaps, observed_at=at))  # fmt: skip
        offered = online_distinct(
            (str(a.get("code") or a.get("name") or a["procedure_id"]), str(a["level"]))
            for a in mine["attributes"]
        )
        figures.append(Figure(unit.id, "tthc_dvctt", "instant", float(offered), observation_ids=ids,
                              snapshot_ids=snaps, observed_at=at))  # fmt: skip
        known = {pid: latest_detail.get(pid) for pid in pids}
        complete = {pid for pid, d in known.items() if d and d[0] == 1.0}
        detail_ids = [d[1] for d in known.values() if d]
        detail_snaps = sorted({d[2] for d in known.values() if d})
        not_captured = sum(d is None for d in known.values())
        parts_reason = ""
        if not_captured:
            why = _why(failures, unit.id, "procedures") or _why_detail(failures)
            parts_reason = f"the seven parts of {not_captured} listed procedures were not captured" + (
                f": {why}" if why else ""
            )
            figures.append(Figure(unit.id, "tthc_complete_7", "instant", None, "missing", parts_reason))
        else:
            figures.append(Figure(unit.id, "tthc_complete_7", "instant", float(len(complete)), observation_ids=detail_ids,
                                  snapshot_ids=detail_snaps, observed_at=at))  # fmt: skip
        reference = _complete_reference(references, reference_pages, level)
        uncoded = [pid for pid, code in codes.items() if not code]
        if reference is None or uncoded:
            reason = (
                f"the national reference list ({level}) was never read completely"
                if reference is None
                else f"the province list gives no MaThuTuc (an assumed field) for {len(uncoded)} of {len(pids)} "
                "procedures: they cannot be compared with the national database by code"
            )
            figures += [Figure(unit.id, m, "instant", None, "missing", reason)
                        for m in ("tthc_reference", "tthc_reference_missing")]  # fmt: skip
            both = "; ".join(filter(None, (reason, parts_reason)))
            figures.append(Figure(unit.id, "tthc_reference_complete", "instant", None, "missing", both))
            continue
        ref_rows = reference
        if unit.kind == "phong":
            fields = set(unit.dvc_linh_vuc)
            ref_rows = ref_rows[[a.get("field") in fields for a in ref_rows["attributes"]]]
        ref_codes = {str(a["code"]) for a in ref_rows["attributes"]}
        ref_ids, ref_snaps = (
            [int(i) for i in ref_rows["id"]],
            sorted({int(s) for s in ref_rows["snapshot_id"]}),
        )
        listed_codes = {str(code) for code in codes.values()}
        complete_codes = {str(codes[pid]) for pid in complete}
        absent = sorted(ref_codes - listed_codes)
        figures.append(Figure(unit.id, "tthc_reference", "instant", float(len(ref_codes)), observation_ids=ref_ids,
                              snapshot_ids=ref_snaps, observed_at=at))  # fmt: skip
        figures.append(Figure(unit.id, "tthc_reference_missing", "instant", float(len(absent)), observation_ids=ref_ids + ids,
                              snapshot_ids=sorted(set(ref_snaps) | set(snaps)), detail={"codes": absent}, observed_at=at))  # fmt: skip
        if not_captured:
            figures.append(
                Figure(unit.id, "tthc_reference_complete", "instant", None, "missing", parts_reason)
            )
        else:
            figures.append(Figure(unit.id, "tthc_reference_complete", "instant", float(len(ref_codes & complete_codes)),
                                  observation_ids=ref_ids + detail_ids, snapshot_ids=sorted(set(ref_snaps) | set(detail_snaps)),
                                  observed_at=at))  # fmt: skip
    return figures


def _why_detail(failures: pd.DataFrame) -> str:
    """Why procedure details are missing when the unit's own captures do not say: the detail endpoint's
    latest failure, whichever unit it was asked for (a 404 there is the portal's, not one unit's)."""
    rows = failures[(failures["probe"] == "procedures") & failures["url"].str.contains(DETAIL_ENDPOINT)]
    return str(rows["why"].iloc[0]) if len(rows) else ""


def _directory_matches(obs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The latest directory check of each unit's DonViID (the city's under "city"), with its text."""
    found = obs[(obs["metric"] == "unit_match")
                & obs["attributes"].map(lambda a: a.get("scope") == "dvc_donvi_id")].sort_values("seq")  # fmt: skip
    return {
        str(a["wanted"]): {**a, "text": t} for a, t in zip(found["attributes"], found["text"], strict=True)
    }


def _donvi_doubt(match: dict[str, Any] | None) -> str:
    """Why a unit's configured DonViID cannot be trusted, from the portal's directory ("" when it can)."""
    if match is None or (match.get("method") == "id" and not match.get("name_differs")):
        return ""
    return f"the province DVC directory does not confirm the configured DonViID: {match['text']} (run `cchc discover`)"


def _field_owners(obs: pd.DataFrame, city_donvi: int) -> dict[int, str]:
    """LinhVucID → phòng, from the latest capture of the city's fields (LoadCBoLinhVuc)."""
    fields = obs[(obs["metric"] == "linh_vuc") & obs["unit"].notna()].sort_values("seq")
    return {int(a["field_id"]): str(u) for a, u in zip(fields["attributes"], fields["unit"], strict=True)
            if a.get("donvi_id") == city_donvi}  # fmt: skip


def _owned_by(rows: pd.DataFrame, unit: Unit, field_owners: dict[int, str]) -> pd.Series:
    """A listed row counts for a unit when the parser attributed it so, or (a city row that carried only its
    LinhVucID) when the city's field list gives that field to the phòng."""
    by_parser = rows["unit"] == unit.id
    if unit.kind != "phong":
        return by_parser
    by_field = rows["unit"].isna() & rows["attributes"].map(
        lambda a: a.get("field_id") is not None and field_owners.get(int(a["field_id"])) == unit.id
    )
    return by_parser | by_field


def _complete_list(
    rows: pd.DataFrame, pages: pd.DataFrame, donvi: int | None
) -> tuple[pd.DataFrame, datetime] | None:
    """The rows of the latest run that read a DonViID's list to its TotalCount."""
    if donvi is None or pages.empty:
        return None
    mine = pages[pages["attributes"].map(lambda a: a.get("donvi_id") == donvi)]
    list_rows = rows[rows["attributes"].map(lambda a: a.get("donvi_id") == donvi)]
    for run in sorted(mine["run_id"].unique(), reverse=True):
        in_run = list_rows[list_rows["run_id"] == run]
        totals = {int(a["total_count"]) for a in mine[mine["run_id"] == run]["attributes"]}
        distinct = {int(a["procedure_id"]) for a in in_run["attributes"]}
        if len(totals) == 1 and len(distinct) == totals.pop():
            pid = in_run["attributes"].map(lambda a: int(a["procedure_id"]))
            in_run = in_run.assign(pid=pid).sort_values("seq").drop_duplicates("pid", keep="last")
            return in_run, mine[mine["run_id"] == run]["fetched_at"].max().to_pydatetime()
    return None


def _complete_reference(references: pd.DataFrame, pages: pd.DataFrame, level: str) -> pd.DataFrame | None:
    mine = pages[pages["attributes"].map(lambda a: a.get("level") == level)]
    rows = references[references["attributes"].map(lambda a: a.get("level") == level)]
    for run in sorted(mine["run_id"].unique(), reverse=True):
        in_run = rows[rows["run_id"] == run]
        amounts = {int(a["amount"]) for a in mine[mine["run_id"] == run]["attributes"] if a.get("amount")}
        codes = {str(a["code"]) for a in in_run["attributes"]}
        if len(amounts) == 1 and len(codes) == amounts.pop():
            return in_run.drop_duplicates(subset=["id"])
    return None
