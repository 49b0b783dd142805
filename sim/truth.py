"""Ground truth: the exact figures a perfect crawl of the simulated portals must find, per unit and month.

Metric names are the observation names of the probes and indicators (../shared/docs/indicators.md §6).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date
from typing import Any

from sim.spec import ONLINE_LEVELS, PortalSpec, UnitSpec, WorldSpec
from sim.world import CITY, COUNT_FIELDS, NewsPost, World

DOSSIER_METRICS = {
    "hs_received_direct": "received_direct",
    "hs_received_post": "received_post",
    "hs_received_online": "received_online",
    "hs_synced": "synced",
    "hs_processed_on_time": "processed_on_time",
    "hs_processed_late": "processed_late",
    "hs_returned_on_time": "returned_on_time",
    "hs_returned_late": "returned_late",
    "hs_paid_online_dvcqg": "paid_online_dvcqg",
    "hs_paid_online_local": "paid_online_local",
    "pakn_on_time": "pakn_on_time",
    "pakn_late": "pakn_late",
}
# Served only when WorldSpec.national_pending_counts says the monthly summary carries them.
PENDING_METRICS = {
    "hs_pending_in_time": "pending_in_time",
    "hs_pending_overdue": "pending_overdue",
    "pakn_pending_in_time": "pakn_pending_in_time",
    "pakn_pending_overdue": "pakn_pending_overdue",
}
assert set(DOSSIER_METRICS.values()) | set(PENDING_METRICS.values()) == set(COUNT_FIELDS)
SCORE_METRICS = {"TONG": "i766_score_tong", "CKMB": "i766_score_ckmb", "TDGQ": "i766_score_tdgq",
                 "TTTT": "i766_score_tttt", "CLGQ": "i766_score_clgq", "MDHL": "i766_score_mdhl",
                 "MDSH": "i766_score_mdsh"}  # fmt: skip


def is_reform_post(post: NewsPost, portal: PortalSpec, keywords: tuple[str, ...]) -> bool:
    """A post on administrative reform: in one of the portal's reform categories, or a keyword in its title."""
    if any(c in portal.cchc_categories for c in post.categories):
        return True
    title = unicodedata.normalize("NFC", post.title).casefold()
    return any(re.search(r"(?<!\w)" + re.escape(k.casefold()) + r"(?!\w)", title) for k in keywords)


def unit_posts(world: World, unit: UnitSpec) -> list[NewsPost]:
    """A ward's posts are all of its portal's; a phòng's are those listed in its categories of the city portal."""
    posts = world.posts.get(unit.portal, [])
    if unit.news_categories:
        return [p for p in posts if any(c in unit.news_categories for c in p.categories)]
    return posts


def periods(months: list[str]) -> list[str]:
    """Every 766 period that starts inside the data window: years, halves, quarters and months."""
    keys: list[str] = []
    for year in sorted({m[:4] for m in months}):
        present = sorted(int(m[5:]) for m in months if m.startswith(year))
        keys.append(year)
        keys += [f"{year}-H{h}" for h in (1, 2) if 6 * h - 5 <= present[-1]]
        keys += [f"{year}-Q{q}" for q in range(1, 5) if 3 * q - 2 <= present[-1]]
        keys += [f"{year}-{m:02d}" for m in present]
    return keys


def ground_truth(world: World) -> dict[str, Any]:
    spec = world.spec
    units: dict[str, Any] = {}
    for unit in spec.units:
        units[unit.id] = {
            "kind": unit.kind,
            "name": unit.name,
            "procedures": _procedures(world, unit),
            "months": _months(world, unit),
            "i766": _scores(world, unit),
            "i766_rank": _ranks(world, unit),
            "i766_parts": _parts(world, unit),
        }
    return {
        "generator": {
            "seed": spec.seed,
            "as_of": spec.as_of.isoformat(),
            "first_month": spec.first_month.isoformat()[:7],
            "province_id": world.province_id,
        },
        "rules": {
            "cchc_keywords": list(spec.cchc_keywords),
            "news_month": "publication time (Asia/Ho_Chi_Minh) of the post, as published now; a post in several "
            "categories counts once, as reform news when any of them is a CCHC category",
            "phong_procedures": "the city's procedures in the phòng's dvc_linh_vuc",
            "phong_dossiers": "the city one-stop desk's dossiers in the phòng's dvc_linh_vuc",
            "i766": "a ward's group scores follow its own dossiers and procedures (sim/scores.py), except the "
            "planted discrepancies; other agencies' scores are drawn",
        },
        "units": units,
        "i766_discrepancies": [
            {
                "unit": d.unit,
                "period": d.period,
                "group": d.group,
                "published": d.published,
                "computed": d.computed,
                "kind": d.kind,
            }
            for d in world.discrepancies
        ],
        "news_edits": [
            {
                "portal": e.portal,
                "post_id": e.post_id,
                "kind": e.kind,
                "before": e.before.isoformat() if e.before else None,
                "after": e.after.isoformat() if e.after else None,
            }
            for e in world.news_edits
        ],
    }


def _procedures(world: World, unit: UnitSpec) -> dict[str, Any] | None:
    if unit.kind == "phong" and not unit.linh_vuc:
        return None  # no field is attributed to this phòng: its procedure figures do not apply
    if unit.kind == "phong":
        listed = [p for p in world.procedures[world.city_donvi_id()] if p.field_name in unit.linh_vuc]
        reference = [r for r in world.reference["huyen"] if r.field_name in unit.linh_vuc]
    elif unit.dvc_donvi_id is not None:
        listed = world.procedures.get(unit.dvc_donvi_id, [])
        reference = world.reference["xa"]
    else:
        return None
    listed_codes = {p.code: p for p in listed}
    by_level = Counter(p.level for p in listed)
    return {
        "tthc_listed": len(listed),
        **{f"tthc_{level}": by_level.get(level, 0) for level in ONLINE_LEVELS},
        "tthc_dvctt": len({p.code for p in listed if p.level in ("toan_trinh", "mot_phan")}),
        "tthc_complete_7": sum(p.complete for p in listed),
        "tthc_reference": len(reference),
        "tthc_reference_complete": sum(
            1 for r in reference if r.code in listed_codes and listed_codes[r.code].complete
        ),
        "reference_missing": sorted(r.code for r in reference if r.code not in listed_codes),
        "by_field": dict(sorted(Counter(p.field_name for p in listed).items())),
    }


def _months(world: World, unit: UnitSpec) -> dict[str, dict[str, int]]:
    spec: WorldSpec = world.spec
    portal = spec.portal(unit.portal)
    months: dict[str, dict[str, int]] = {m: {"news_posts": 0, "news_posts_cchc": 0} for m in world.months}
    for post in unit_posts(world, unit):
        key = f"{post.published.year:04d}-{post.published.month:02d}"
        if key in months:
            months[key]["news_posts"] += 1
            months[key]["news_posts_cchc"] += is_reform_post(post, portal, spec.cchc_keywords)
    agency: str | None = None
    fields: set[str] | None = None
    if unit.kind == "phong":
        agency, fields = CITY, set(unit.linh_vuc)
    elif unit.dvc_donvi_id is not None:
        agency = unit.id
    published = DOSSIER_METRICS | (PENDING_METRICS if spec.national_pending_counts else {})
    if agency is not None and (fields is None or fields):
        for row in world.dossiers:
            if row.agency != agency or (fields is not None and row.field_name not in fields):
                continue
            cell = months[row.month]
            for metric, attr in published.items():
                cell[metric] = cell.get(metric, 0) + getattr(row, attr)
            cell["hs_received"] = cell.get("hs_received", 0) + row.received
    return months


def _scores(world: World, unit: UnitSpec) -> dict[str, dict[str, float]]:
    if not unit.national_id or unit.kind == "phong":
        return {}
    out: dict[str, dict[str, float]] = {}
    for period in periods(world.months):
        scores = world.score(unit.national_id, period)
        out[period] = {SCORE_METRICS[g]: value for g, value in scores.items()}
    return out


def _ranks(world: World, unit: UnitSpec) -> dict[str, int]:
    """The unit's place (ROW_STT) in the province's 766 report, per period."""
    if not unit.national_id or unit.kind == "phong":
        return {}
    ranks: dict[str, int] = {}
    for period in periods(world.months):
        order = [a.id for a, _ in world.ranked(world.province_agencies, period)]
        ranks[period] = order.index(unit.national_id) + 1
    return ranks


def _parts(world: World, unit: UnitSpec) -> dict[str, dict[str, float]]:
    """A scored ward's points per indicator per month, as the dashboard computed them before any discrepancy."""
    if unit.national_id not in world.scored_wards():
        return {}
    return {month: world.parts(unit.national_id, month) for month in world.months}


def as_of_date(truth: dict[str, Any]) -> date:
    return date.fromisoformat(truth["generator"]["as_of"])
