"""How tests/data/store-0001/ was made: a small evidence store at the baseline schema (revision 0001), kept
frozen so that every later migration is tested on a store an earlier version really wrote.

Run once with the code at revision 0001 (commit of issue 10); later code cannot write a baseline store.
    .venv/bin/python tests/data/make_store_0001.py
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cchc.settings import load_settings  # noqa: E402
from cli.simlink import world_spec  # noqa: E402
from probe_helpers import pointed, run_probes  # noqa: E402
from sim import Simulation  # noqa: E402

from evidence import EvidenceStore  # noqa: E402

TARGET = HERE / "store-0001"


def main() -> None:
    shutil.rmtree(TARGET, ignore_errors=True)
    TARGET.mkdir()
    work = HERE / "store-0001.work"
    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings(HERE.parent.parent / "config.toml", environ={})
    with Simulation(world_spec(settings)) as sim:
        store = EvidenceStore.open(f"sqlite:///{work / 'evidence.sqlite3'}", work / "blobs", work / "key.pem")
        run_probes(pointed(settings, sim), store, ["news", "availability"], ["phuong-1"])
        assert store.key is not None
        (TARGET / "public_key.hex").write_text(store.key.public_hex + "\n")
        store.close()
    # One file, no WAL beside it: the test copies it and opens it as an earlier version left it.
    with sqlite3.connect(work / "evidence.sqlite3") as source, sqlite3.connect(TARGET / "evidence.sqlite3") as copy:
        source.backup(copy)
    shutil.copytree(work / "blobs", TARGET / "blobs", ignore=shutil.ignore_patterns("tmp"))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
