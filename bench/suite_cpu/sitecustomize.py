"""Every Python process started with this folder on PYTHONPATH notes its own CPU time at exit (see report.py).

Python imports `sitecustomize` at start-up: the suite's `python -m cli …` subprocesses, the daemon's job processes
and the pytest workers all note themselves, so the report can say how much of the suite is process start-up.
PYTHONPATH must name this folder by an absolute path: some tests start their processes in a folder of their own
(the demo test)."""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path

_STARTED = time.monotonic()


def _note() -> None:
    out = os.environ.get("SUITE_CPU_DIR")
    if not out:
        return
    times = os.times()
    entry = {
        "argv": list(getattr(sys, "orig_argv", sys.argv))[:8],
        "cpu_s": times.user + times.system,  # this process only: its children note themselves
        "wall_s": time.monotonic() - _STARTED,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "")[:200],
    }
    try:
        with (Path(out) / "processes.jsonl").open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
    except OSError:
        pass  # a measurement must never fail the process it measures


atexit.register(_note)
