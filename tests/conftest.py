"""Shared fixtures: the project's real config, simulated portals over real HTTP, Chromium, PostgreSQL."""

from __future__ import annotations

import functools
import gc
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import probe_helpers
import pytest
from probe_helpers import FullCrawl

from cchc.settings import Settings, load_settings
from cli.simlink import world_spec
from cli.startup import after_imports
from sim import FaultSpec, Simulation, WorldSpec
from sim.runner import FrontEndName

# Hypothesis's default deadline (200 ms an example) measures the machine, not the code: on a loaded machine it
# fails good examples. Tests that promise a bound say so with their own deadline.
hypothesis.settings.register_profile("loaded-machine", deadline=None)
hypothesis.settings.load_profile("loaded-machine")

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config.toml"
PG_URL = os.environ.get("CCHC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# The longest modules, longest first. pytest-xdist's loadscope hands out modules in collection order
# (`--no-loadscope-reorder`, in pyproject.toml: by default it orders them by their number of tests, which puts a
# one-test module of five minutes last, with the other workers idle meanwhile): these start first, and the many
# short modules fill in behind them. The daemon's module is the longest by the clock (it waits for fire times and
# leases) though not by CPU: first, so the other workers' modules fill the cores while it waits.
LONGEST_FIRST = (  # by their time on three workers (docs/benchmarks.md), the longest first
    "test_scheduler.py",
    "test_demo_runs.py",
    "test_end_to_end.py",
    "test_reports.py",
    "test_crawler_browser.py",
    "test_web.py",
    "test_hostile.py",
    "test_sim_http.py",
    "test_news_settings.py",
    "test_indicators.py",
    "test_v1_crawl.py",
    "test_web_hardening.py",
    "test_evidence_trust.py",
    "test_crawler_fetcher.py",
    "test_evidence_crash.py",
    "test_inspector_views.py",
)


def free_port() -> int:
    """A loopback port free now (the kernel's choice; a server started next may take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Each test process's collector tuned as the CLI tunes its own (cli/startup.py): what collection imported
    is frozen, and collections come less often (6 % less CPU for two modules in one process, docs/benchmarks.md)."""
    gc.collect()
    after_imports()


@pytest.fixture(scope="session", autouse=True)
def user_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The signing keys and witness files tests make go to folders of the session (XDG_CONFIG_HOME and
    XDG_DATA_HOME, inherited by every process a test starts), never the real ~/.config or ~/.local/share."""
    names = ("XDG_CONFIG_HOME", "XDG_DATA_HOME")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ[name] = str(tmp_path_factory.mktemp(name.lower()))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# httpx gives up after 5 s by default: the tests' calls to a served app wait as long as their other nets do.
HTTP_TIMEOUT_S = 300.0
http_get = functools.partial(httpx.get, timeout=HTTP_TIMEOUT_S)
http_post = functools.partial(httpx.post, timeout=HTTP_TIMEOUT_S)


def patient(settings: Settings) -> Settings:
    """The settings with the web app's per-request deadline (web.request_timeout_s, 30 s in config.toml) far out,
    for tests of what a page shows: on a loaded machine a first page can take longer, and a 503 there would be
    the machine's speed, not the app's behaviour. The deadline's own tests set theirs."""
    return settings.model_copy(update={"web": settings.web.model_copy(update={"request_timeout_s": 900.0})})


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(CONFIG, environ={})


@pytest.fixture(scope="session")
def spec(settings: Settings) -> WorldSpec:
    return world_spec(settings)


@pytest.fixture(scope="session")
def simulation(spec: WorldSpec) -> Iterator[Simulation]:
    """The healthy simulated portals, shared by every test that only reads them."""
    with Simulation(spec) as running:
        yield running


@pytest.fixture(scope="session")
def truth(simulation: Simulation) -> dict[str, Any]:
    return simulation.truth()


@pytest.fixture(scope="session")
def full_crawl(tmp_path_factory: pytest.TempPathFactory, settings: Settings, spec: WorldSpec) -> FullCrawl:
    """One crawl of the whole healthy simulation for the whole run: the modules that read such a crawl each
    take a copy (FullCrawl.copy) instead of crawling again. Under pytest-xdist the first worker that needs it
    makes it in the run's common temporary folder, and the others wait for it and read it."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "full-crawl"
    else:
        folder = tmp_path_factory.mktemp("full-crawl", numbered=True)
    return probe_helpers.full_crawl(settings, spec, folder)


SimulationFactory = Callable[..., AbstractContextManager[Simulation]]


@pytest.fixture
def front_end() -> FrontEndName:
    """The simulation's front end for make_simulation; a module that checks both parametrizes this fixture."""
    return "threads"


@pytest.fixture
def make_simulation(settings: Settings, front_end: FrontEndName) -> SimulationFactory:
    """A fresh simulation with faults, for tests that change the world."""

    @contextmanager
    def factory(*faults: FaultSpec) -> Iterator[Simulation]:
        with Simulation(world_spec(settings, faults), front_end=front_end) as running:
            yield running

    return factory


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "Chromium is not installed: run `sudo apt-get install -y chromium` (make test does it as root)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One real headless Chromium (Debian's), driven by Playwright's sync API. Per module: the sync API keeps
    an event loop running in the main thread, where a later module's asyncio.run() would refuse to start."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path())
        yield PatientBrowser(launched)
        launched.close()


# Playwright waits 30 s by default for a navigation, a click or a download: on a loaded machine the app's first
# page can take longer than that to compute, so the tests' pages wait as long as their other nets do.
PAGE_TIMEOUT_MS = 180_000


class PatientBrowser:
    """The browser, whose new pages and contexts wait PAGE_TIMEOUT_MS: a net for a hang, not a speed limit."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_page(self, **options: Any) -> Any:
        page = self._browser.new_page(**options)
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        return page

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """PostgreSQL for the tests that need it; skipped with the reason when none answers, unless CI requires it."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CCHC_REQUIRE_PG") == "1":
            pytest.fail(f"CCHC_REQUIRE_PG=1 but PostgreSQL at {PG_URL} does not answer: {exc}")
        pytest.skip(
            f"no PostgreSQL at {PG_URL} ({type(exc).__name__}); set CCHC_TEST_PG_URL to run these tests"
        )
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty evidence database: a SQLite file, and a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evidence.sqlite3'}"
        return
    import uuid

    import sqlalchemy

    base = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def sim_fetch_policy(sim: Simulation, **overrides: Any) -> Any:
    """A fetch policy for the simulated sites: every simulated host allowed, politeness off unless asked."""
    from crawler import FetchPolicy, host_key

    values: dict[str, Any] = {
        "user_agent": "cchc-watch/test (+mailto:test@example.invalid)",
        "robots_agent": "cchc-watch",
        "allowed_hosts": frozenset(host_key(url) for url in sim.urls.values()),
        "min_delay_s": 0.0,
        "latency_factor": 0.0,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        # Generous: a loaded machine answers slowly, and a test of a timeout sets its own.
        "connect_timeout_s": 10.0,
        "read_timeout_s": 30.0,
        "total_timeout_s": 60.0,
    }
    values.update(overrides)
    return FetchPolicy(**values)
