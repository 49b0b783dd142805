"""A pytest plugin noting each test's wall and CPU time (its process and the children it waited for).

SUITE_CPU_DIR=/tmp/x PYTHONPATH=$PWD/bench/suite_cpu .venv/bin/pytest -p suite_cpu_plugin -n 2 --dist loadscope
.venv/bin/python bench/suite_cpu/report.py /tmp/x

With bench/suite_cpu/sampler.py running beside it, the report also counts what no test process waited for.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def pytest_configure(config: pytest.Config) -> None:
    """Each process that runs tests (a worker, or pytest itself without xdist) names its pid for sampler.py."""
    out, worker = os.environ.get("SUITE_CPU_DIR"), os.environ.get("PYTEST_XDIST_WORKER")
    if not out or (worker is None and config.getoption("numprocesses", None)):
        return  # not measuring, or xdist's controller, which runs no test
    with (Path(out) / "workers.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps({"pid": os.getpid(), "worker": worker or "main"}) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cpu, wall, started = _cpu(), time.monotonic(), time.time()
    yield
    out = os.environ.get("SUITE_CPU_DIR")
    if not out:
        return
    entry = {
        "test": item.nodeid,
        "cpu_s": _cpu() - cpu,
        "wall_s": time.monotonic() - wall,
        "start": started,  # the epoch second, to join with sampler.py's samples
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
    }
    with (Path(out) / "tests.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")
