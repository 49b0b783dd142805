"""A CLI run forked from the warm server (tests/cli_process.py) gives what a cold `python -m cli` gives: the same
exit status, stdout and stderr, the environment and working folder asked for, and a timeout that leaves no child."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli_process import run_cli
from conftest import CONFIG, free_port


def cold(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd, check=False)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--config", str(CONFIG), "no-such-verb"],  # a usage error: exit 2, one line
        ["--config", "missing.toml", "config", "check"],  # a config error, relative to the working folder
        ["--config", str(CONFIG), "config", "check"],  # Vietnamese text on stdout
    ],
)
def test_a_forked_run_gives_what_a_cold_process_gives(args: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")} | {"COLUMNS": "150"}
    expected = cold(args, env, tmp_path)
    forked = run_cli(args, env=env, cwd=tmp_path, timeout=120)
    seen = (forked.returncode, forked.stdout, forked.stderr)
    assert seen == (expected.returncode, expected.stdout, expected.stderr)
    assert forked.args == [sys.executable, "-m", "cli", *args]


def test_the_environment_is_the_one_asked_for_and_not_the_servers(tmp_path: Path) -> None:
    """CCHC_CONFIG given to one run names its config; the next run, without it, falls back to --config's absence."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    pointed = run_cli(["config", "check"], env=env | {"CCHC_CONFIG": str(broken)}, cwd=tmp_path, timeout=120)
    assert pointed.returncode == 2 and "broken.toml" in pointed.stderr
    plain = run_cli(["config", "check"], env=env, cwd=tmp_path, timeout=120)
    assert "broken.toml" not in plain.stderr + plain.stdout


def test_a_run_past_its_timeout_is_killed_and_reported(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        run_cli(["--config", str(CONFIG), "serve", "--port", str(port)], env=env, cwd=tmp_path, timeout=2)
    assert expired.value.timeout == 2 and expired.value.cmd[-2:] == ["--port", str(port)]
    with socket.socket() as again:  # the server's child is gone: its port can be bound at once
        again.bind(("127.0.0.1", port))
