"""A pytest plugin noting each test's wall and CPU time (its process and the children it waited for).

SUITE_CPU_DIR=/tmp/x PYTHONPATH=$PWD/bench/suite_cpu .venv/bin/pytest -p suite_cpu_plugin -n 2 --dist loadscope
.venv/bin/python bench/suite_cpu/report.py /tmp/x
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cpu, wall = _cpu(), time.monotonic()
    yield
    out = os.environ.get("SUITE_CPU_DIR")
    if not out:
        return
    entry = {
        "test": item.nodeid,
        "cpu_s": _cpu() - cpu,
        "wall_s": time.monotonic() - wall,
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
    }
    with (Path(out) / "tests.jsonl").open("a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")
