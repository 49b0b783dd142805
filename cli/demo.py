"""`cchc demo`: the simulated portals, one crawl of everything, and what it found beside the ground truth.

The demo crawls our own loopback servers, so it uses a loopback politeness (10 ms between requests to a
host) instead of the configured one; everything else (storage, probes, parsers) is the real thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import typer
from rich.table import Table

from cchc.settings import NationalApi, Settings
from cchc.settings import TimestampAuthority as TimestampAuthoritySettings
from cli.simlink import point_at
from sim.sites.national_v1 import root_id
from sim.tsa import TimestampAuthority
from sim.world import World

LOOPBACK_POLITENESS = {"min_delay_s": 0.01, "latency_factor": 0.2, "backoff_base_s": 0.2}


DEMO_AUTHORITIES = ("demo-tsa-a", "demo-tsa-b")  # two, as production should ask at least two


def with_national_api(settings: Settings, api: str | None) -> Settings:
    """The settings reading every period of the national portal from one API (`--national-api`)."""
    if api is None:
        return settings
    if api not in ("rest.jsp", "v1"):
        raise typer.BadParameter(f"expected rest.jsp or v1, got {api!r}", param_hint="--national-api")
    rule_set = "dvcqg-v1" if api == "v1" else "tn-2023-inspection"
    national = settings.sources.dvc_quocgia
    apis = [NationalApi.model_validate({"api": api, "rule_set": rule_set, "valid_from": national.valid_from})]
    sources = settings.sources.model_copy(update={"dvc_quocgia": national.model_copy(update={"apis": apis})})
    return settings.model_copy(update={"sources": sources})


def demo_settings(
    settings: Settings,
    urls: dict[str, str],
    authorities: Sequence[TimestampAuthority] = (),
    world: World | None = None,
) -> Settings:
    pointed = point_at(settings, urls)
    national = pointed.sources.dvc_quocgia
    if world is not None and not national.root_department_id:
        # The simulated province's departmentId on api/v1, as an operator would copy it from the dashboard.
        national = national.model_copy(update={"root_department_id": root_id(world)})
        pointed = pointed.model_copy(
            update={"sources": pointed.sources.model_copy(update={"dvc_quocgia": national})}
        )
    stamping = pointed.timestamp.model_copy(
        update={
            "authority": [
                TimestampAuthoritySettings(name=a.name, url=a.url, certificates=a.pinned_file)
                for a in authorities
            ]
        }
    )
    return pointed.model_copy(
        update={
            "politeness": pointed.politeness.model_copy(update=LOOPBACK_POLITENESS),
            "timestamp": stamping,
        }
    )


def start_demo_authorities(settings: Settings) -> list[TimestampAuthority]:
    """Two local time-stamping authorities, kept in data/demo-tsa/ from one demo to the next (their earlier
    tokens must keep verifying against the same roots)."""
    folder = settings.storage.blob_dir.parent / "demo-tsa"
    return [TimestampAuthority(name, folder=folder / name).start() for name in DEMO_AUTHORITIES]


@dataclass(frozen=True)
class Headline:
    """One figure of a unit, as found by the crawl and as the simulation's ground truth has it."""

    label: str
    found: float | None
    expected: float | None
    unavailable: str = ""  # why the crawl could not give it (the portal does not publish it): N/A, not wrong

    @property
    def matches(self) -> bool:
        if self.found is None and self.unavailable:
            return True
        if self.found is None or self.expected is None:
            return self.found is None and self.expected is None
        return abs(self.found - self.expected) < 1e-6

    def cell(self) -> str:
        if self.found is None and self.unavailable:
            return "[yellow]N/A[/yellow]"
        shown = "—" if self.found is None else f"{self.found:g}"
        if self.matches:
            return f"[green]{shown}[/green]"
        return f"[red]{shown} ≠ {'—' if self.expected is None else f'{self.expected:g}'}[/red]"


def headlines(figures: pd.DataFrame, truth: dict[str, Any], unit_id: str, year: int) -> list[Headline]:
    mine = figures[(figures["unit"] == unit_id) & (figures["status"] == "ok")]
    absent = figures[(figures["unit"] == unit_id) & (figures["status"] == "missing")]
    expected = truth["units"][unit_id]
    procedures = expected["procedures"] or {}

    def instant(metric: str) -> float | None:
        rows = mine[(mine["metric"] == metric) & (mine["period"] == "instant")]
        return float(rows["value"].iloc[0]) if len(rows) else None

    def why(metric: str) -> str:
        rows = absent[(absent["metric"] == metric) & (absent["period"] == "instant")]
        return str(rows["reason"].iloc[0]) if len(rows) else ""

    def year_sum(metric: str) -> float | None:
        rows = mine[(mine["metric"] == metric) & mine["period"].str.startswith(f"{year}-")]
        return float(rows["value"].sum()) if len(rows) else None

    def truth_sum(metric: str) -> float | None:
        cells = [c[metric] for m, c in expected["months"].items() if m.startswith(f"{year}-") and metric in c]
        return float(sum(cells)) if cells else None

    score = mine[(mine["metric"] == "i766_score_tong") & (mine["period"] == str(year))]
    return [
        Headline("TTHC", instant("tthc_listed"), _number(procedures.get("tthc_listed"))),
        Headline("toàn trình", instant("tthc_toan_trinh"), _number(procedures.get("tthc_toan_trinh"))),
        Headline(
            "thiếu",
            instant("tthc_reference_missing"),
            _number(len(procedures["reference_missing"])) if procedures else None,
            why("tthc_reference_missing"),
        ),
        Headline("tin bài", year_sum("news_posts"), truth_sum("news_posts")),
        Headline("tin CCHC", year_sum("news_posts_cchc"), truth_sum("news_posts_cchc")),
        Headline("hồ sơ", year_sum("hs_received"), truth_sum("hs_received")),
        Headline("trễ hạn", year_sum("hs_processed_late"), truth_sum("hs_processed_late")),
        Headline(
            "766",
            float(score["value"].iloc[0]) if len(score) else None,
            expected["i766"].get(str(year), {}).get("i766_score_tong"),
        ),
    ]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def comparison_table(figures: pd.DataFrame, truth: dict[str, Any], settings: Settings) -> tuple[Table, int]:
    """Per unit, the headline figures the crawl found (green where they equal the ground truth)."""
    year = settings.inspection.year
    units = settings.units_in_inspection()
    rows = [(u, headlines(figures, truth, u.id, year)) for u in units]
    table = Table(
        title=f"What the crawl found in {year} (TTHC now; posts, dossiers and 766 for the year); red: differs from the truth"
    )
    table.add_column("đơn vị", no_wrap=True)
    for label in (h.label for h in rows[0][1]):
        table.add_column(label, justify="right")
    differing = 0
    for unit, found in rows:
        differing += sum(not h.matches for h in found)
        table.add_row(unit.name.removeprefix("UBND "), *(h.cell() for h in found))
    return table, differing
