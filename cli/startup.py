"""The console entry point (`cchc` and `python -m cli`): the verbs imported with the cyclic garbage collector
off, then the collector tuned for a process that holds many long-lived objects.

Importing the CLI builds tens of thousands of long-lived objects (SQLAlchemy's and SQLModel's classes, pydantic's
models, the probes' tables), and the collector scanned them again and again while they were made, then in every
full collection of the command's own work. Measured per process (docs/benchmarks.md, "The collector at start-up"):
`cchc --version` 1.33 to 0.88 CPU-s, `cchc indicators` 4.5 to 3.4, a demo 68 to 58.
"""

from __future__ import annotations

import gc

# Collections of the youngest generation after 10,000 new container objects instead of 700: a command makes
# millions (rows, parsed pages, frames), and at 700 it paid for a collection every few hundred microseconds.
# Objects in reference cycles (a chart's figure, say) wait longer for their collection: a demo's peak RSS went
# from 446 to 479 MB (50,000 gave 490 MB for little more speed).
GC_THRESHOLDS = (10_000, 10, 10)


def after_imports() -> None:
    """What the imports made stays: frozen, later collections skip it; and collections come less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run() -> None:
    gc.disable()
    try:
        from cli.main import main
    finally:
        gc.enable()
    after_imports()
    main()
