"""The `cchc` command line: its map of verbs, the simulation verbs, and honest stubs for what is not built."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cchc.settings import load_settings
from conftest import CONFIG

VERBS = [
    "sim",
    "demo",
    "crawl",
    "discover",
    "parse",
    "reparse",
    "run",
    "status",
    "indicators",
    "report",
    "serve",
    "evidence",
    "config",
]


def cchc(*args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(CONFIG), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        env=env,
    )


def test_help_lists_every_verb_of_the_architecture() -> None:
    result = cchc("--help", check=True)
    for verb in VERBS:
        assert f" {verb} " in result.stdout, verb


def test_sim_writes_the_ground_truth(tmp_path: Path, truth: dict[str, object]) -> None:
    target = tmp_path / "truth.json"
    result = cchc("sim", "--truth", str(target), "--no-serve", "--port-base", "0", check=True)
    assert "ground truth written" in result.stdout
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(truth))


def test_sim_serves_until_stopped_and_writes_a_config_pointing_at_itself(tmp_path: Path) -> None:
    pointed, said = tmp_path / "sim.toml", tmp_path / "sim.out"
    with said.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "--config",
                str(CONFIG),
                "sim",
                "--write-config",
                str(pointed),
                "--port-base",
                "0",
            ],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
            # Ctrl-C as a user sends it: a runner started in the background (no job control) passes SIGINT on
            # ignored, and the simulation then never stops.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        # The line it prints once the file is whole (the portals already serve), however slow the machine.
        deadline = time.monotonic() + 120
        while "config pointing at the simulation written" not in said.read_text(encoding="utf-8"):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, said.read_text(encoding="utf-8")
            time.sleep(0.1)
        settings = load_settings(pointed, environ={})
        assert settings.sources.dvc_tinh.base_url.startswith("http://127.0.0.1:")
        page = httpx.get(settings.portal_by_id("phuong-1").base_url + "/vi/news/tin-tuc-su-kien/")
        assert page.status_code == 200 and "news_column" in page.text
        assert [u.id for u in settings.unit] == [u.id for u in load_settings(CONFIG, environ={}).unit]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode == 0, process.stderr


def test_sim_with_an_unknown_site_in_a_fault_is_a_usage_error() -> None:
    result = cchc("sim", "--fault", "phuong-99=http-500", "--no-serve", "--port-base", "0")
    assert result.returncode == 2 and "unknown site 'phuong-99'" in result.stderr


def test_sim_with_a_malformed_fault_is_a_usage_error() -> None:
    result = cchc("sim", "--fault", "phuong-1", "--no-serve", "--port-base", "0")
    assert result.returncode == 2 and "expected SITE=MODE" in result.stderr


@pytest.mark.timeout(1200)  # every site's NukeViet settings drawn from the seed, and the news crawled twice
def test_demo_crawls_compares_with_the_truth_and_writes_the_outputs(tmp_path: Path) -> None:
    copy = tmp_path / "config.toml"
    copy.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "indicators.toml").write_text(
        (CONFIG.parent / "indicators.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "cli", "--config", str(copy), "demo", "--no-browser", "--port-base", "0"],
                            capture_output=True, text=True, timeout=1100, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "Simulated portals" in result.stdout
        and "every headline figure equals the ground truth" in result.stdout
    )
    assert "parse failures" in result.stdout and "Phường 3" in result.stdout
    out = tmp_path / "out"
    assert (out / "tong-hop-thanh-pho.html").exists() and len(list(out.glob("*.html"))) == 23
    assert list(out.glob("chi-so-*.xlsx")) and (tmp_path / "data" / "cchc.sqlite3").exists()
    # No 766 figure we compute is shown out of 100, banded or ranked: the published index carries those,
    # and our check reads as points of the points computable with its true coverage of the 100.
    table = json.loads(next(out.glob("chi-so-*.json")).read_text(encoding="utf-8"))
    checked = [r for r in table if r["indicator"] == "CHECK_766" and r["status"] == "ok"]
    assert checked and all(r["band"] is None and r["rank"] is None for r in checked)
    assert all(r["max_points"] == r["denominator"] < 100 and r["coverage"] < 0.5 for r in checked)
    assert all(r["rank"] is None for r in table if r["family"] == "766" and r["scoring"] != "total")
    published = [r for r in table if r["indicator"] == "TOTAL_766" and r["kind"] != "phong"]
    assert published and all(r["band"] and r["rank"] and r["points"] <= 100 for r in published)
    assert "(40% của 100)" in result.stdout
    for page in out.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        if page.name == "tong-hop-thanh-pho.html":
            assert "kiểm chứng" not in text, "the overview ranks the published index only"
            continue
        row = text.split('id="total-CHECK_766"')[1].split("</tr>")[0]
        cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[2:4] == ["—", "—"] and "/ 100" not in cells[1], page.name
        assert ("điểm tính được" in cells[1]) == (page.stem in {r["unit"] for r in checked}), page.name
