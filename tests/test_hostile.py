"""A crawl against a hostile site (tests/hostile_server.py, real HTTP on loopback) stays bounded and honest:
a gzip bomb is `too-large` with its raw bytes kept and never parsed, a gzip'd robots.txt is obeyed, a slow
trickle is a `timeout`, an unknown charset is a recorded parse failure, the run ends "completed with
failures" with a non-zero exit, endless pagination does not grow memory, and the evidence verifies after.

Each crawl runs as `cchc crawl` in a child process, so that its peak memory (ru_maxrss from wait4) is its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostile_server
import pytest
from hostile_server import HostileServer
from sqlmodel import Session, select

from cchc.settings import Settings, load_settings
from cli.simlink import write_pointed_config
from cli.wiring import open_store
from cli_process import run_cli
from crawler import FetchPolicy, HttpFetcher, Outcome, Target, host_key
from evidence import Run, Snapshot
from evidence.models import ParseFailure, SnapshotBlob

CRAWL_DEADLINE_S = 240
MAX_BODY_BYTES = 5_000_000
# A hostile crawl may use little more than a benign one (mostly the process's imports: pandas, SQLAlchemy,
# the parsers); inflating the bomb alone would add its 256 MiB.
HEADROOM = 96 * 2**20


@pytest.fixture
def benign_peak(settings: Settings, hostile: HostileServer, tmp_path: Path) -> int:
    """The peak RSS of the same `cchc crawl` of a benign category: the yardstick of the hostile crawls."""
    folder = tmp_path / "benign"
    folder.mkdir()
    crawl = Crawl(hostile_config(settings, hostile, folder, ["binh-thuong"]), folder)
    code, peak = crawl.wait()
    assert code == 0, crawl.stderr.read_text(encoding="utf-8")
    return peak


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = hostile_server.start()
    yield server
    server.stop()


def hostile_config(settings: Settings, server: HostileServer, folder: Path, categories: list[str]) -> Path:
    """A config whose ward phuong-1 has its portal on the hostile server, with these categories; every other
    site points at a loopback port nobody serves (the crawl is of phuong-1's news only)."""
    portals = [
        p.model_copy(update={"categories": categories, "cchc_categories": []}) if p.id == "phuong-1" else p
        for p in settings.portal
    ]
    local = settings.model_copy(
        update={
            "portal": portals,
            "storage": settings.storage.model_copy(
                update={"database_url": f"sqlite:///{folder / 'e.sqlite3'}", "blob_dir": folder / "blobs"}
            ),
            "collector": settings.collector.model_copy(update={"key_file": folder / "collector.pem"}),
        }
    )
    sites = ["dvc_tinh", "motcua", "dvc_quocgia", *(p.id for p in settings.portal)]
    urls = {site: f"http://127.0.0.1:{9 + n}" for n, site in enumerate(sites)} | {"phuong-1": server.url}
    path = folder / "hostile.toml"
    write_pointed_config(local, urls, path, min_delay_s=0.0, latency_factor=0.0, max_retries=1,
                         backoff_base_s=0.05, backoff_max_s=0.2, connect_timeout_s=10.0, read_timeout_s=10.0,
                         total_timeout_s=10.0, max_body_bytes=MAX_BODY_BYTES)  # fmt: skip
    return path


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")}
    return run_cli(["--config", str(config), *args], timeout=120, check=False, env=env)


class Crawl:
    """`cchc crawl -u phuong-1 -p news` in a child process whose output goes to files (never a full pipe)."""

    def __init__(self, config: Path, folder: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")}
        self.stdout, self.stderr = folder / "crawl.out", folder / "crawl.err"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "cli", "--config", str(config), "crawl", "--unit", "phuong-1",
                 "--probe", "news", "--no-browser", "--no-progress"],
                stdout=out, stderr=err, env=env,
            )  # fmt: skip
        # A crawl that hangs is the failure this suite looks for: it is killed, and the wait below ends.
        self._watchdog = threading.Timer(CRAWL_DEADLINE_S, self.child.kill)
        self._watchdog.start()

    def rss_now(self) -> int:
        """The child's resident memory now, in bytes."""
        for line in Path(f"/proc/{self.child.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def wait(self) -> tuple[int, int]:
        """The exit code and the peak resident memory in bytes (this child's own ru_maxrss, via wait4)."""
        _, status, usage = os.wait4(self.child.pid, 0)
        self._watchdog.cancel()
        self.child.returncode = os.waitstatus_to_exitcode(status)
        return self.child.returncode, usage.ru_maxrss * 1024


def outcomes_by_path(settings: Settings) -> dict[str, str]:
    store = open_store(settings)
    try:
        with Session(store.engine) as session:
            snapshots = session.exec(select(Snapshot)).all()
        return {s.url.split(":", 2)[2].split("/", 1)[1]: s.outcome for s in snapshots}
    finally:
        store.close()


def test_a_hostile_site_cannot_flood_hang_or_fool_a_crawl(
    settings: Settings, hostile: HostileServer, benign_peak: int, tmp_path: Path
) -> None:
    config = hostile_config(
        settings, hostile, tmp_path, ["binh-thuong", "bom-gzip", "bang-ma-la", "nho-giot", "cam"]
    )
    crawl = Crawl(config, tmp_path)
    code, peak = crawl.wait()
    stderr = crawl.stderr.read_text(encoding="utf-8")
    assert code == 3, stderr  # completed with failures
    assert "Traceback" not in stderr and "completed with failures" in stderr
    assert peak < benign_peak + HEADROOM, (
        f"peak RSS {peak / 2**20:.0f} MiB, a benign crawl {benign_peak / 2**20:.0f}"
    )

    local = load_settings(config, environ={})
    planted = {
        "vi/news/binh-thuong/": "ok",
        "vi/news/bom-gzip/": "too-large",  # decodes to 256 MiB: stopped at max_body_bytes of output
        "vi/news/bang-ma-la/": "ok",  # fetched fine, then unreadable: a parse failure below
        "vi/news/nho-giot/": "timeout",  # one byte every 0.2 s: stopped at total_timeout_s
        "vi/news/cam/": "robots-disallowed",  # by the gzip'd robots.txt
        "vi/news/rss/": "ok",
    }
    seen = outcomes_by_path(local)
    assert {path: seen.get(path) for path in planted} == planted
    # The news walk also asks for each category's feed and an article or two to learn the portal's time zone;
    # the hostile server has none, and each is recorded as the error it got (docs/news.md).
    extra = {path: outcome for path, outcome in seen.items() if path not in planted}
    assert all(p.startswith("vi/news/rss/") or p.endswith(".html") for p in extra), extra
    assert hostile.served("/vi/news/cam/") == 0 and hostile.served("/robots.txt") >= 1

    store = open_store(local)
    try:
        with Session(store.engine) as session:
            run = session.exec(select(Run)).one()
            snapshots = {s.url.rsplit("/", 2)[1]: s for s in session.exec(select(Snapshot)).all()}
            bomb = snapshots["bom-gzip"]
            kept = session.exec(select(SnapshotBlob).where(SnapshotBlob.snapshot_id == bomb.id)).one()
            failures = session.exec(select(ParseFailure)).all()
        assert run.status == "completed with failures"
        # The bomb's raw bytes are the evidence of what the site sent; nothing ever read them decoded.
        assert kept.sha256 == hashlib.sha256(hostile_server.gzip_bomb()).hexdigest()
        assert "decodes to more than 5000000 bytes" in bomb.detail and not bomb.valid
        assert [(f.parser, f.snapshot_id) for f in failures] == [("news/content", snapshots["bang-ma-la"].id)]
        assert "unknown charset 'x-bang-ma-khong-ai-biet'" in failures[0].reason
    finally:
        store.close()
    verified = cchc(config, "evidence", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_endless_pagination_does_not_grow_the_crawl(
    settings: Settings, hostile: HostileServer, benign_peak: int, tmp_path: Path
) -> None:
    """Every page links to one more. Whatever stops the walk (a page limit, or here SIGTERM after 150 pages),
    memory stays flat while it walks, and what it captured verifies."""
    config = hostile_config(settings, hostile, tmp_path, ["vo-tan"])
    crawl = Crawl(config, tmp_path)
    samples: dict[int, int] = {}
    deadline = time.monotonic() + CRAWL_DEADLINE_S
    while crawl.child.poll() is None and time.monotonic() < deadline:
        served = hostile.served("/vi/news/vo-tan/")
        for mark in (50, 150):
            if served >= mark and mark not in samples:
                samples[mark] = crawl.rss_now()
        if len(samples) == 2:
            crawl.child.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    code, peak = crawl.wait()
    stderr = crawl.stderr.read_text(encoding="utf-8")
    assert "Traceback" not in stderr, stderr
    if len(samples) == 2:  # we stopped it: closed as interrupted, every capture kept
        assert code == 130, stderr
        assert samples[150] - samples[50] < 40 * 2**20, f"grew {(samples[150] - samples[50]) / 2**20:.0f} MiB"
    else:  # the walk stopped itself (a page limit) before 150 pages
        assert code in (0, 3) and hostile.served("/vi/news/vo-tan/") < 150, stderr
    assert peak < benign_peak + HEADROOM, (
        f"peak RSS {peak / 2**20:.0f} MiB, a benign crawl {benign_peak / 2**20:.0f}"
    )
    verified = cchc(config, "evidence", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _policy(server: HostileServer, **overrides: Any) -> FetchPolicy:
    values: dict[str, Any] = {
        "user_agent": "cchc-watch/test (+mailto:test@example.invalid)",
        "robots_agent": "cchc-watch",
        "allowed_hosts": frozenset({host_key(server.url)}),
        "min_delay_s": 0.0,
        "latency_factor": 0.0,
        "max_retries": 0,
        "max_body_bytes": MAX_BODY_BYTES,
    }
    return FetchPolicy(**(values | overrides))


def fetch(server: HostileServer, path: str, **policy: Any) -> Any:
    async def run() -> Any:
        async with HttpFetcher(_policy(server, **policy)) as fetcher:
            return await fetcher.fetch(Target(url=server.url + path))

    return asyncio.run(run())


@pytest.mark.parametrize("robots_mode", ["gzip", "plain"])
def test_robots_txt_is_obeyed_whatever_its_content_encoding(robots_mode: str) -> None:
    server = hostile_server.start(robots_mode)
    try:
        refused = fetch(server, "/vi/news/cam/")
        allowed = fetch(server, "/vi/news/binh-thuong/")
    finally:
        server.stop()
    assert refused.outcome is Outcome.ROBOTS_DISALLOWED and allowed.outcome is Outcome.OK
    assert server.served("/vi/news/cam/") == 0


def test_a_robots_txt_bomb_is_not_inflated_and_means_complete_disallow() -> None:
    server = hostile_server.start("bomb")
    try:
        capture = fetch(server, "/vi/news/binh-thuong/")
    finally:
        server.stop()
    assert capture.outcome is Outcome.ROBOTS_DISALLOWED
    assert capture.detail.startswith(
        "robots.txt could not be read (the gzip body decodes to more than 5000000"
    )
    assert server.served("/vi/news/binh-thuong/") == 0


def test_a_gzip_bomb_is_too_large_and_its_raw_bytes_are_kept(hostile: HostileServer) -> None:
    capture = fetch(hostile, "/vi/news/bom-gzip/")
    assert capture.outcome is Outcome.TOO_LARGE and capture.content is None
    assert capture.body == hostile_server.gzip_bomb() and capture.status == 200
    ordinary = fetch(hostile, "/vi/news/binh-thuong/")
    assert ordinary.outcome is Outcome.OK and ordinary.content == ordinary.body  # identity: decoded as is


def test_a_slow_trickle_ends_at_the_total_timeout(hostile: HostileServer) -> None:
    started = time.monotonic()
    capture = fetch(hostile, "/vi/news/nho-giot/", read_timeout_s=1.0, total_timeout_s=2.0)
    assert capture.outcome is Outcome.TIMEOUT
    # The trickle never ends: the total timeout ends it (robots.txt and a loaded machine's slack beside it).
    assert time.monotonic() - started < 2.0 + 28.0


def test_cookies_are_kept_per_origin() -> None:
    """Two sites on one host, different ports: a cookie one sets never reaches the other."""
    first, second = hostile_server.start(), hostile_server.start()
    hosts = frozenset({host_key(first.url), host_key(second.url)})

    async def run() -> list[Any]:
        async with HttpFetcher(_policy(first, allowed_hosts=hosts)) as fetcher:
            return [
                await fetcher.fetch(Target(url=first.url + "/cookie/set")),
                await fetcher.fetch(Target(url=first.url + "/cookie/echo")),
                await fetcher.fetch(Target(url=second.url + "/cookie/echo")),
            ]

    try:
        _, own, other = asyncio.run(run())
    finally:
        first.stop()
        second.stop()
    assert own.body == b"phien=bi-mat" and other.body == b""
