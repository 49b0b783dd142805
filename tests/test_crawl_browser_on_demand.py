"""A crawl with the browser allowed starts Chromium only for a target that needs a screenshot: pages read over
HTTP, RSS feeds and JSON APIs never open one. Real crawls of the simulation, real Chromium; the processes are
read from /proc while the crawl runs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from probe_helpers import open_test_store, pointed

from cchc.settings import Settings
from cli.wiring import fetch_policy
from evidence.models import Snapshot
from probes import PROBES
from probes._runner import crawl
from sim import Simulation


def chromium_descendants() -> set[int]:
    """Chromium processes (and Playwright's driver) below this process."""
    parents: dict[int, int] = {}
    names: dict[int, bytes] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_bytes()
            names[int(entry.name)] = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    mine = os.getpid()

    def below_me(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == mine:
                return True
        return False

    return {
        pid
        for pid, command in names.items()
        if (b"chromium" in command or b"playwright" in command) and below_me(pid)
    }


def crawl_watching_processes(
    settings: Settings, tmp_path: Path, probe: str, units: list[str]
) -> tuple[bool, set[int], int]:
    store = open_test_store(tmp_path)
    seen: set[int] = set()

    def on_snapshot(_: Snapshot) -> None:
        seen.update(chromium_descendants())

    try:
        report = asyncio.run(
            crawl(settings, store, [PROBES[probe]], [settings.unit_by_id(u) for u in units],
                  policy=fetch_policy(settings), trigger="test", with_browser=True, on_snapshot=on_snapshot)
        )  # fmt: skip
    finally:
        store.close()
    return report.browser_started, seen, sum(report.counts.snapshots.values())


@pytest.mark.browser
def test_pages_and_feeds_read_over_http_never_start_a_browser(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    started, seen, snapshots = crawl_watching_processes(
        pointed(settings, simulation), tmp_path, "news", ["phuong-1", "xa-tan-binh"]
    )
    assert snapshots > 5  # category pages and the RSS feeds were captured
    assert not started and seen == set()


@pytest.mark.browser
def test_a_screenshot_target_starts_the_browser(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    started, seen, snapshots = crawl_watching_processes(
        pointed(settings, simulation), tmp_path, "availability", ["phuong-1"]
    )
    assert started and seen and snapshots >= 2
