"""`cchc sim --portals N`: N generated ward/commune units, each with its NukeViet portal, whose settings hold
together, whose portals serve over real HTTP, and whose posts a crawl counts as the simulation's truth says.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from probe_helpers import observations, open_test_store, pointed, run_probes

from cchc.settings import Settings
from cli.simlink import world_spec
from cli.simscale import MAX_PORTALS, scaled_settings
from cli_process import run_cli
from conftest import REPO
from sim import Simulation


def test_the_generated_units_and_portals_hold_together(settings: Settings) -> None:
    scaled = scaled_settings(settings, 450)  # past the 400 name combinations: numbered names follow
    assert len(scaled.unit) == len(scaled.portal) == 450
    assert scaled.reference_problems() == []
    assert len({u.name for u in scaled.unit}) == 450
    assert len({p.base_url for p in scaled.portal}) == 450
    assert {u.kind for u in scaled.unit} == {"phuong", "xa"}
    assert all(u.portal == u.id for u in scaled.unit)


@pytest.mark.parametrize("count", [0, MAX_PORTALS + 1])
def test_a_count_out_of_bounds_is_refused_in_one_line(count: int, tmp_path: Path) -> None:
    done = run_cli(
        ["--config", str(REPO / "config.toml"), "sim", "--portals", str(count),
         "--no-serve", "--write-config", str(tmp_path / "scale.toml")],
        timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"expected 1 to {MAX_PORTALS}, got {count}" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "scale.toml").exists()


def test_the_command_writes_the_units_and_portals_it_serves(tmp_path: Path) -> None:
    target = tmp_path / "scale.toml"
    run_cli(
        ["--config", str(REPO / "config.toml"), "sim", "--portals", "7",
         "--no-serve", "--write-config", str(target)],
        timeout=300, cwd=REPO, check=True,
    )  # fmt: skip
    written = tomllib.loads(target.read_text(encoding="utf-8"))
    assert len(written["unit"]) == len(written["portal"]) == 7
    assert all(p["base_url"].startswith("http://127.0.0.1:") for p in written["portal"])


def test_a_crawl_of_generated_portals_counts_their_posts(settings: Settings, tmp_path: Path) -> None:
    scaled = scaled_settings(settings, 12)
    chosen = [scaled.unit[0].id, scaled.unit[5].id]  # a phường and a xã
    with Simulation(world_spec(scaled)) as simulation:
        store = open_test_store(tmp_path)
        try:
            report = run_probes(pointed(scaled, simulation), store, ["news"], chosen)
            posts = observations(store, "news_post")
        finally:
            store.close()
        truth = {
            unit: {
                post.id
                for post in simulation.world.posts[unit]
                if post.published.date() >= scaled.news.since and post.published.date() <= scaled.sim.as_of
            }
            for unit in chosen
        }
    assert report.counts.failures == []
    for unit in chosen:
        found = {int(str(o.attributes["post_id"])) for o in posts if o.unit == unit}
        assert truth[unit] and found >= truth[unit], unit
