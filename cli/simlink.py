"""The bridge between settings and the simulated portals: the only place besides tests that imports sim/.

`world_spec()` turns the configured inspection into what the simulation builds; `point_at()` returns the
same settings with every base URL replaced by the simulated site's origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from cchc.settings import Settings
from sim import CitySpec, FaultSpec, PortalSpec, SiteSettings, UnitSpec, WorldSpec
from sim.spec import DVC_SITE, MOTCUA_SITE, NATIONAL_SITE, drawn_site_settings


def world_spec(settings: Settings, extra_faults: Iterable[FaultSpec] = ()) -> WorldSpec:
    sources = settings.sources
    mucdo_codes: dict[str, str] = {}
    for code, level in sorted(
        sources.dvc_tinh.mucdo_map.items(), key=lambda kv: -int(kv[0]) if kv[0].isdigit() else 0
    ):
        mucdo_codes.setdefault(level, code)
    faults = [
        FaultSpec(f.site, f.mode, f.path, f.first, f.every, f.retry_after_s, f.delay_s)
        for f in settings.sim.faults
    ]
    return WorldSpec(
        seed=settings.sim.seed,
        as_of=settings.sim.as_of,
        province_name=sources.dvc_quocgia.province_name,
        city=CitySpec(
            name=settings.city.name,
            portal=settings.city.portal,
            dvc_donvi_id=settings.city.dvc_donvi_id,
            national_id=settings.city.national_id,
            ma_coquan=settings.city.ma_coquan,
        ),
        units=tuple(
            UnitSpec(
                id=u.id,
                kind=u.kind,
                name=u.name,
                portal=u.portal,
                news_categories=tuple(u.news_categories),
                dvc_donvi_id=u.dvc_donvi_id,
                linh_vuc=tuple(u.dvc_linh_vuc),
                national_id=u.national_id,
                ma_coquan=u.ma_coquan,
                v1_department_id=u.v1_department_id,
                v1_department_code=u.v1_department_code,
                valid_from=u.valid_from,
                valid_to=u.valid_to,
            )
            for u in settings.unit
        ),
        portals=tuple(
            PortalSpec(
                id=p.id,
                name=p.name,
                categories=tuple(p.categories),
                cchc_categories=tuple(p.cchc_categories),
                platform=p.platform,
                news_path=p.news_path,
                rss_path=p.rss_path,
                successor=p.successor,
                valid_from=p.valid_from,
                valid_to=p.valid_to,
                site=drawn_site_settings(settings.sim.seed, p.id, tuple(p.categories))
                if settings.sim.nukeviet_settings == "random"
                else SiteSettings(),
            )
            for p in settings.portal
        ),
        cchc_keywords=tuple(settings.news.cchc_keywords),
        mucdo_codes=mucdo_codes,
        impl_level_ids={str(k): v for k, v in sources.dvc_quocgia.impl_level_ids.items()},
        dvc_list_page=sources.dvc_tinh.list_page,
        dashboard_groups=tuple(sources.dvc_quocgia.dashboard_groups),
        national_bot_protection=settings.sim.national_bot_protection,
        national_pending_counts=settings.sim.national_pending_counts,
        i766_discrepancies=settings.sim.i766_discrepancies,
        contract=settings.sim.contract,
        faults=(*faults, *extra_faults),
        v1_root=sources.dvc_quocgia.root_department_id,
    )


def point_at(settings: Settings, urls: Mapping[str, str]) -> Settings:
    """The same settings, with each source's and portal's base URL replaced by its simulated origin."""
    sources = settings.sources
    new_sources = sources.model_copy(
        update={
            "dvc_tinh": sources.dvc_tinh.model_copy(update={"base_url": urls[DVC_SITE]}),
            "motcua": sources.motcua.model_copy(update={"base_url": urls[MOTCUA_SITE]}),
            "dvc_quocgia": sources.dvc_quocgia.model_copy(update={"base_url": urls[NATIONAL_SITE]}),
        }
    )
    portals = [p.model_copy(update={"base_url": urls[p.id]}) for p in settings.portal]
    return settings.model_copy(update={"sources": new_sources, "portal": portals})


def write_pointed_config(
    settings: Settings, urls: Mapping[str, str], target: Path, **politeness: float
) -> Settings:
    """Write a config file whose base URLs point at a running simulation (other settings kept, paths absolute)."""
    pointed = point_at(settings, urls)
    if politeness:
        pointed = pointed.model_copy(update={"politeness": pointed.politeness.model_copy(update=politeness)})
    data = pointed.model_dump(mode="json", exclude_none=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(tomli_w.dumps(data), encoding="utf-8")
    return pointed


def parse_fault(text: str) -> FaultSpec:
    """'SITE=MODE[:first=N|every=N|path=/p|retry_after=S|delay=S,…]' from the command line."""
    site, sep, rest = text.partition("=")
    if not sep or not site or not rest:
        raise ValueError(f"expected SITE=MODE[:key=value,…], got {text!r}")
    mode, _, options = rest.partition(":")
    kwargs: dict[str, object] = {}
    for item in filter(None, options.split(",")):
        key, _, value = item.partition("=")
        if key in ("first", "every"):
            kwargs[key] = int(value)
        elif key == "path":
            kwargs["path"] = value
        elif key in ("retry_after", "delay"):
            kwargs[key + "_s"] = float(value)
        else:
            raise ValueError(
                f"unknown fault option {key!r} in {text!r}; expected first, every, path, retry_after, delay"
            )
    return FaultSpec(site=site, mode=mode, **kwargs)  # type: ignore[arg-type]


def truth_figures(truth: Mapping[str, Any]) -> pd.DataFrame:
    """The simulation's ground truth as raw figures, in the shape indicators/observed.py gives from a crawl,
    so the indicator table can be computed directly from the simulation's own data."""
    from indicators.observed import COLUMNS, with_unpublished

    rows: list[dict[str, Any]] = []

    def add(unit: str, metric: str, period: str, value: float) -> None:
        rows.append({"unit": unit, "metric": metric, "period": period, "value": float(value), "status": "ok", "reason": "",
                     "observed_at": None, "observation_ids": [], "snapshot_ids": [], "detail": {}})  # fmt: skip

    for unit, cell in truth["units"].items():
        for month, counts in cell["months"].items():
            for metric, value in counts.items():
                add(unit, metric, month, value)
        procedures = cell["procedures"]
        if procedures:
            for metric, value in procedures.items():
                if metric == "reference_missing":
                    add(unit, "tthc_reference_missing", "instant", len(value))
                elif metric != "by_field":
                    add(unit, metric, "instant", value)
        for period, scores in cell["i766"].items():
            for metric, value in scores.items():
                add(unit, metric, period, value)
        for period, rank in cell.get("i766_rank", {}).items():
            add(unit, "i766_rank", period, rank)
    return with_unpublished(pd.DataFrame(rows, columns=COLUMNS))
