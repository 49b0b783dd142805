"""The `cchc` command line: its map of verbs, the simulation verbs, and honest stubs for what is not built."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import loopback

from cchc.settings import load_settings
from cli_process import run_cli
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
    return run_cli(
        ["--config", str(CONFIG), *args],
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
        page = loopback.get(settings.portal_by_id("phuong-1").base_url + "/vi/news/tin-tuc-su-kien/")
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
