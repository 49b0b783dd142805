"""Helpers for the probe tests: a crawl of the simulation into a fresh SQLite store, and its observations."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from cchc.settings import Settings
from cli.simlink import point_at
from cli.wiring import fetch_policy
from evidence import EvidenceStore, Observation, ParseFailure, Snapshot
from probes import PROBES
from probes._runner import CrawlReport, crawl
from sim import Simulation


def pointed(settings: Settings, sim: Simulation, **politeness: Any) -> Settings:
    """The settings aimed at the simulation, with politeness off unless asked (loopback, our own servers)."""
    target = point_at(settings, sim.urls)
    values = {
        "min_delay_s": 0.0,
        "latency_factor": 0.0,
        "backoff_base_s": 0.05,
        "read_timeout_s": 30.0,  # a loaded machine answers slowly: no probe test waits on a read timeout
        **politeness,
    }
    return target.model_copy(update={"politeness": target.politeness.model_copy(update=values)})


def open_test_store(folder: Path) -> EvidenceStore:
    return EvidenceStore.open(
        f"sqlite:///{folder / 'evidence.sqlite3'}", folder / "blobs", folder / "collector.pem"
    )


def stored_in(settings: Settings, folder: Path) -> Settings:
    """The settings whose storage is the test store in `folder` (see open_test_store), so that a command run
    from them reads that store and never the checkout's own data/."""
    storage = settings.storage.model_copy(
        update={"database_url": f"sqlite:///{folder / 'evidence.sqlite3'}", "blob_dir": folder / "blobs"}
    )
    return settings.model_copy(update={"storage": storage})


def run_probes(
    settings: Settings, store: EvidenceStore, probes: Sequence[str], unit_ids: Sequence[str] | None = None,
    with_browser: bool = False,
) -> CrawlReport:  # fmt: skip
    units = [settings.unit_by_id(u) for u in unit_ids] if unit_ids else settings.units_in_inspection()
    return asyncio.run(
        crawl(
            settings,
            store,
            [PROBES[p] for p in probes],
            units,
            policy=fetch_policy(settings),
            trigger="test",
            with_browser=with_browser,
        )
    )


def observations(store: EvidenceStore, metric: str | None = None) -> list[Observation]:
    with Session(store.engine) as session:
        query = select(Observation)
        if metric is not None:
            query = query.where(Observation.metric == metric)
        return list(session.exec(query).all())


def parse_failures(store: EvidenceStore) -> list[tuple[ParseFailure, Snapshot]]:
    with Session(store.engine) as session:
        rows = session.exec(select(ParseFailure, Snapshot).join(Snapshot)).all()
        return [(f, s) for f, s in rows]


def posts_by_month(
    store: EvidenceStore,
) -> tuple[dict[tuple[str | None, str], set[int]], dict[tuple[str | None, str], set[int]]]:
    """Distinct posts per (unit, month), and the reform posts among them, from news_post observations."""
    posts: dict[tuple[str | None, str], set[int]] = defaultdict(set)
    reform: dict[tuple[str | None, str], set[int]] = defaultdict(set)
    for o in observations(store, "news_post"):
        posts[(o.unit, o.period)].add(int(o.attributes["post_id"]))
        if o.attributes["cchc"]:
            reform[(o.unit, o.period)].add(int(o.attributes["post_id"]))
    return posts, reform
