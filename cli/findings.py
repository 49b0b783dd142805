"""What `cchc crawl` and `cchc status` say is missing: per probe and unit, whether the portals' rows were
matched to the unit and how, and which figures are not available and why. Read off the evidence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine

from cchc.settings import Settings, Unit
from indicators.observed import (
    DOSSIER_METRICS,
    NEWS_METRICS,
    PROCEDURE_METRICS,
    SCORE_METRICS,
    load_observations,
    raw_figures,
)

PROBE_OF_METRIC = {
    **dict.fromkeys(DOSSIER_METRICS + SCORE_METRICS, "service_stats"),
    **dict.fromkeys(PROCEDURE_METRICS, "procedures"),
    **dict.fromkeys(NEWS_METRICS, "news"),
}


@dataclass(frozen=True)
class UnitMatches:
    """How one of ours was found in one source (a report, a directory) over the reports of a run."""

    probe: str
    unit: str  # a unit id, or "city"
    source: str
    found: int  # reports (periods, pages) that found it
    seen: int  # reports that listed agencies at all
    methods: str  # "id", "name", "id, name"
    finding: str  # the latest report's finding when it did not find the unit

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def unit_matches(engine: Engine, run_ids: Sequence[int] | None = None) -> list[UnitMatches]:
    """Per probe, source and unit: in how many of the run's reports the unit was found, how, and if it was not,
    the finding that names it and the rows. Without runs: each probe's latest run that matched anything."""
    obs = load_observations(engine, ["unit_match"])
    if obs.empty:
        return []
    if run_ids is not None:
        obs = obs[obs["run_id"].isin(list(run_ids))]
    else:
        latest = obs.groupby("probe")["run_id"].transform("max")
        obs = obs[obs["run_id"] == latest]
    rows: list[UnitMatches] = []
    obs = obs.assign(
        wanted=obs["attributes"].map(lambda a: str(a["wanted"])),
        source=obs["attributes"].map(lambda a: str(a.get("service", ""))),
    )
    for (probe, source, wanted), group in obs.sort_values("seq").groupby(["probe", "source", "wanted"]):
        # The pages of one report are one report: found on any page is found.
        by_report = group.groupby("period")
        found = by_report["value"].max()
        methods = Counter(a["method"] for a in group["attributes"] if a.get("method") and a.get("row"))
        failed = group[group["value"] == 0]
        finding = ""
        if (found == 0).any():
            missed = found[found == 0].index
            finding = str(failed[failed["period"].isin(missed)]["text"].iloc[-1])
        else:
            # Found, but not by its configured id, or under another name: the config is worth a look.
            doubtful = group[
                group["attributes"].map(lambda a: bool(a.get("differs") or a.get("name_differs")))
            ]
            finding = str(doubtful["text"].iloc[-1]) if len(doubtful) else ""
        rows.append(UnitMatches(str(probe), str(wanted), str(source), int((found > 0).sum()), len(found),
                                ", ".join(sorted(methods)), finding))  # fmt: skip
    return rows


def matched_none(matches: Sequence[UnitMatches], units: Sequence[Unit]) -> list[str]:
    """Per probe whose rows matched none of our units (the city aside): the message a crawl exits with."""
    ours = {u.id for u in units}
    messages = []
    for probe in sorted({m.probe for m in matches}):
        mine = [m for m in matches if m.probe == probe and m.unit in ours]
        if mine and not any(m.found for m in mine):
            sources = ", ".join(sorted({m.source for m in mine}))
            messages.append(
                f"{probe}: the rows of {sources} matched none of our {len({m.unit for m in mine})} units by id, "
                f"code or name; every figure of theirs is missing (check the ids with `cchc discover`). "
                f"First: {mine[0].finding}"
            )
    return messages


def not_available(
    engine: Engine, settings: Settings, units: Sequence[Unit], probes: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The figures that are N/A or missing, grouped per unit, status and reason (with how many and which)."""
    figures = raw_figures(engine, settings, units)
    if figures.empty:
        return []
    absent = figures[figures["status"] != "ok"]
    if probes is not None:
        absent = absent[absent["metric"].map(lambda m: PROBE_OF_METRIC.get(m) in probes)]
    rows = []
    for (unit, status, reason), group in absent.groupby(["unit", "status", "reason"], sort=False):
        metrics = sorted(set(group["metric"]))
        rows.append({"unit": unit, "probe": PROBE_OF_METRIC.get(metrics[0], ""), "status": status,
                     "figures": len(group), "metrics": ", ".join(metrics), "reason": reason})  # fmt: skip
    return rows


def matches_table(matches: Sequence[UnitMatches], title: str) -> Table:
    table = Table(title=title)
    for column in ("probe", "unit", "source", "found in", "matched by", "finding"):
        table.add_column(column)
    for m in matches:
        table.add_row(*(escape(x) for x in (m.probe, m.unit, m.source, f"{m.found} of {m.seen}",
                                            m.methods or "—", m.finding)))  # fmt: skip
    return table


def not_available_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("unit", "status", "figures", "which", "why"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            *(escape(str(x)) for x in (r["unit"], r["status"], r["figures"], r["metrics"], r["reason"]))
        )
    return table
