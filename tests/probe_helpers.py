"""Helpers for the probe tests: a crawl of the simulation into a fresh SQLite store, and its observations; the
run's one crawl of the whole simulation, kept once and copied for each module that reads it."""

from __future__ import annotations

import asyncio
import fcntl
import pickle
import shutil
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from cchc.settings import Settings
from cli.simlink import point_at
from cli.wiring import fetch_policy
from evidence import EvidenceStore, Observation, ParseFailure, Snapshot
from probes import PROBES
from probes._runner import CrawlReport, crawl
from sim import Simulation, WorldSpec

ALL_PROBES = ["availability", "news", "procedures", "service_stats"]


def pointed(settings: Settings, sim: Simulation | Mapping[str, str], **politeness: Any) -> Settings:
    """The settings aimed at the simulation (or at the URLs it had), with politeness off unless asked (loopback,
    our own servers)."""
    target = point_at(settings, sim.urls if isinstance(sim, Simulation) else sim)
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


@dataclass(frozen=True)
class FullCrawl:
    """The run's one crawl of the whole healthy simulation (every unit in inspection, every probe, Chromium for
    the pages that need it), on a simulation of its own that was stopped after it: where it is kept, and what
    the crawl said."""

    folder: Path  # evidence.sqlite3, blobs/, journal.jsonl and collector.pem, as open_test_store lays them
    urls: dict[str, str]  # the simulation's origins, as the stored snapshots name them
    report: CrawlReport
    traps: dict[str, list[str]]  # the simulation's trap log: every write, payment or login endpoint called

    def copy(self, settings: Settings, folder: Path) -> tuple[Settings, EvidenceStore]:
        """A copy of the evidence in `folder` to read or change, opened, with the settings that crawled it
        (pointed at the crawl's simulation, storage in `folder`). Evidence is never edited: a module gets a
        copy, and the kept crawl stays as the crawl left it."""
        shutil.copytree(self.folder / "store", folder, dirs_exist_ok=True)
        return stored_in(pointed(settings, self.urls), folder), open_test_store(folder)


@contextmanager
def _locked(lock: Path) -> Iterator[None]:
    """An exclusive lock on a file, for the pytest-xdist workers of one run: a worker blocks until it is free."""
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def full_crawl(settings: Settings, spec: WorldSpec, folder: Path) -> FullCrawl:
    """The full crawl kept in `folder`: made by the first caller (under a lock beside the folder), read by the
    others. A folder without its closing record (a worker stopped while crawling) is crawled again."""
    record = folder / "crawl.pickle"
    with _locked(folder.with_name(folder.name + ".lock")):
        if not record.exists():
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "store").mkdir(parents=True)
            with Simulation(spec) as sim:
                target = stored_in(pointed(settings, sim), folder / "store")
                store = open_test_store(folder / "store")
                try:
                    # A thread of its own: a module's Playwright browser may run an event loop in this one.
                    with ThreadPoolExecutor(1) as worker:
                        report = worker.submit(run_probes, target, store, ALL_PROBES, None, True).result()
                finally:
                    store.close()
                made = FullCrawl(folder, dict(sim.urls), report, sim.trap_calls())
            record.write_bytes(pickle.dumps(made))
        loaded: FullCrawl = pickle.loads(record.read_bytes())
    return loaded
