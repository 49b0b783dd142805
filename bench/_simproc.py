"""Run the simulated portals in their own process, so a benchmark measures only the crawler's process."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cchc.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def simulation_process(*faults: str) -> Iterator[Settings]:
    """Yields settings whose base URLs point at a simulation served by a child process."""
    with simulation_config(*faults) as pointed:
        yield load_settings(pointed, environ={})


@contextmanager
def simulation_config(
    *faults: str, sim_args: tuple[str, ...] = (), start_timeout_s: float = 60
) -> Iterator[Path]:
    """Yields a config file whose base URLs point at a simulation served by a child process."""
    with tempfile.TemporaryDirectory() as folder:
        pointed = Path(folder) / "sim.toml"
        command = [
            sys.executable,
            "-m",
            "cli",
            "--config",
            str(REPO / "config.toml"),
            "sim",
            "--write-config",
            str(pointed),
            "--port-base",
            "0",  # free ports: a bench never collides with a demo
        ]
        command += sim_args
        for fault in faults:
            command += ["--fault", fault]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
        try:
            deadline = time.monotonic() + start_timeout_s
            while not pointed.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the simulation did not start: {process.stderr.read().decode() if process.stderr else ''}"
                    )
                time.sleep(0.1)
            time.sleep(0.3)
            yield pointed
        finally:
            process.terminate()
            process.wait(timeout=30)
