"""`cchc crawl`, `cchc parse` and `cchc reparse` as a user runs them, against the simulated portals."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import loopback
import pytest
from probe_helpers import observations
from sqlmodel import Session, select

from cchc.settings import Settings, load_settings
from cli.simlink import write_pointed_config
from cli.wiring import open_store
from cli_process import run_cli
from conftest import CONFIG
from evidence import Observation, Run
from probes._reparse import reparse
from probes.news import NewsProbe
from sim import Simulation


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")} | {
        "COLUMNS": "200"
    }
    return run_cli(["--config", str(config), *args], timeout=300, check=False, env=env)


@pytest.fixture
def sim_config(settings: Settings, simulation: Simulation, tmp_path: Path) -> Path:
    """A config whose sites are the running simulation and whose evidence lives in tmp_path."""
    local = settings.model_copy(
        update={"storage": settings.storage.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'e.sqlite3'}",
                                                               "blob_dir": tmp_path / "blobs"}),
                "collector": settings.collector.model_copy(update={"key_file": tmp_path / "k.pem"})}
    )  # fmt: skip
    path = tmp_path / "sim.toml"
    write_pointed_config(local, simulation.urls, path, min_delay_s=0.0, latency_factor=0.0)
    return path


def test_crawl_prints_a_summary_and_keeps_the_evidence(sim_config: Path) -> None:
    result = cchc(sim_config, "crawl", "--probe", "news", "--unit", "phuong-1", "--no-browser", "--surprise")
    assert result.returncode == 0, result.stderr
    assert (
        "Run 1: completed" in result.stdout
        and "snapshots: ok" in result.stdout
        and "parse failures" in result.stdout
    )
    settings = load_settings(sim_config, environ={})
    store = open_store(settings)
    try:
        with Session(store.engine) as session:
            run = session.exec(select(Run)).one()
        assert (
            run.surprise
            and run.trigger == "surprise"
            and run.units == ["phuong-1"]
            and run.probes == ["news"]
        )
        assert observations(store, "news_post")
    finally:
        store.close()
    assert cchc(sim_config, "evidence", "verify").returncode == 0
    deep = cchc(sim_config, "evidence", "verify", "--deep")  # the news parser reads every stored page again
    assert deep.returncode == 0, deep.stderr
    parsed_again = int(deep.stdout.split("deep: ")[1].split(" snapshots")[0])
    assert (
        parsed_again > 0
        and f"deep: {parsed_again} snapshots parsed again with today's parsers, 0 differ" in deep.stdout
    )


def test_crawl_refuses_an_unknown_unit_or_probe(sim_config: Path) -> None:
    unit = cchc(sim_config, "crawl", "--unit", "phuong-99", "--no-browser")
    assert unit.returncode == 1 and unit.stderr.startswith("unknown unit 'phuong-99'")
    probe = cchc(sim_config, "crawl", "--probe", "weather", "--no-browser")
    assert probe.returncode == 2 and "'weather' is not one of 'news', 'availability'" in probe.stderr


def test_crawl_refuses_real_hosts_under_the_placeholder_contact(tmp_path: Path) -> None:
    copy = tmp_path / "config.toml"
    copy.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    result = cchc(copy, "crawl", "--probe", "availability", "--no-browser")
    assert result.returncode == 2 and "collector.contact" in result.stderr and "placeholder" in result.stderr


def test_parse_prints_observations_of_a_saved_page(simulation: Simulation, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(loopback.get(simulation.url("phuong-4") + "/vi/news/thong-bao/").content)
    url = "https://phuong4thanhpho.tayninh.gov.vn/vi/news/thong-bao/"  # the real site's URL: the unit is found by it
    result = cchc(CONFIG, "parse", "news", str(page), "--url", url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"metric": "news_post"' in lines[0] and '"unit": "phuong-4"' in lines[0]


def test_parse_exits_3_on_a_drifted_page(sim_config: Path, tmp_path: Path) -> None:
    page = tmp_path / "drifted.html"
    page.write_text(
        '<html><body><section class="post-grid"><article class="post-card">…</article></section></body></html>',
        encoding="utf-8",
    )
    result = cchc(
        sim_config,
        "parse",
        "news",
        str(page),
        "--url",
        "https://phuong1thanhpho.tayninh.gov.vn/vi/news/thong-bao/",
    )
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith(
        f"{page}: layout not recognised by news/nukeviet-category: no NukeViet list items"
    )


def test_reparse_rederives_and_keeps_earlier_versions(sim_config: Path) -> None:
    assert cchc(sim_config, "crawl", "-p", "news", "-u", "xa-thanh-tan", "--no-browser").returncode == 0
    again = cchc(sim_config, "reparse", "--probe", "news")
    assert again.returncode == 0 and "0 observations and 0 parse failures added" in again.stdout
    settings = load_settings(sim_config, environ={})
    store = open_store(settings)
    try:
        before = observations(store)
        newer = NewsProbe()
        current, improved = NewsProbe.version, str(int(NewsProbe.version) + 1)
        newer.version = improved  # a parser improved: its observations come beside the old ones
        counts = reparse(settings, store, [newer])
        after = observations(store)
        assert counts.observations == len(before) and len(after) == 2 * len(before)
        old = sorted((o.metric, o.period, o.text) for o in after if o.parser_version == current)
        new = sorted((o.metric, o.period, o.text) for o in after if o.parser_version == improved)
        assert old == new
        with Session(store.engine) as session:
            assert {o.parser_version for o in session.exec(select(Observation)).all()} == {current, improved}
    finally:
        store.close()


def test_crawl_says_how_each_unit_was_found_on_the_portals(sim_config: Path) -> None:
    result = cchc(sim_config, "crawl", "--probe", "service_stats", "--unit", "phuong-3", "--no-browser")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "our units on the portals" in result.stdout
    found = [
        line
        for line in result.stdout.splitlines()
        if "phuong-3" in line and "report_by_month_sum_service" in line
    ]
    assert found and " id " in found[0] and "21 of 21" in found[0], result.stdout  # every month, each by id


def test_a_crawl_whose_rows_match_none_of_our_units_exits_non_zero_naming_them(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    unknown = [
        u.model_copy(
            update={"name": "UBND Phường 91", "national_id": "9999991", "ma_coquan": "999.91.99.H53"}
        )
        if u.id == "phuong-1"
        else u
        for u in settings.unit
    ]
    local = settings.model_copy(
        update={"unit": unknown,
                "storage": settings.storage.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'e.sqlite3'}",
                                                               "blob_dir": tmp_path / "blobs"}),
                "collector": settings.collector.model_copy(update={"key_file": tmp_path / "k.pem"})}
    )  # fmt: skip
    path = tmp_path / "sim.toml"
    write_pointed_config(local, simulation.urls, path, min_delay_s=0.0, latency_factor=0.0)
    result = cchc(path, "crawl", "--probe", "service_stats", "--unit", "phuong-1", "--no-browser")
    assert result.returncode == 4, result.stdout + result.stderr
    assert (
        "service_stats: the rows of report_by_month_sum_service, report_tinh_766_service matched none of our 1"
        in (" ".join(result.stderr.split()))
    )
    assert "phuong-1 (UBND Phường 91): no row matches by id 9999991, code 999.91.99.H53 or name" in " ".join(
        result.stderr.split()
    )
    # …and the figures it could not give are listed as missing, with that reason.
    assert "Figures not available" in result.stdout and "missing" in result.stdout
    # The daemon's crawls skip that list (it reads the whole store; their output is not read), not the check.
    quiet = cchc(
        path, "crawl", "--probe", "service_stats", "--unit", "phuong-1", "--no-browser", "--no-why-missing"
    )
    assert quiet.returncode == 4 and "matched none of our 1" in " ".join(quiet.stderr.split())
    assert "Figures not available" not in quiet.stdout and "our units on the portals" in quiet.stdout
