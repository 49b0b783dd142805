"""A crawl of N simulated ward/commune portals with real politeness, on SQLite and on PostgreSQL.

    .venv/bin/python bench/scale.py --portals 20 200 2000 --databases sqlite postgresql

For each N, one simulation (`cchc sim --portals N`, its own process) serves N NukeViet portals; for each database
the news probe walks every portal (`cchc crawl --probe news --no-browser`, its own process, timed by
/usr/bin/time), with at least 2 s between two requests to one host (the latency factor is off, so the floor
below is exact), then the indicator table of the inspection year is computed (`cchc indicators`).

Reported per run: wall time of the process, and of the run itself (from the ledger: start-up and the closing
report left out); the politeness floor (the busiest host's requests, robots.txt included, minus
one, times the delay: no crawl that keeps the delay can be faster); the CPU floor (the crawl's CPU seconds:
one process cannot finish sooner than it computes); their ratio (goal: wall <= 1.2 x the larger floor); CPU ms
per page; peak RSS; database, blob folder and journal sizes; the indicator table's time and peak RSS. The
machine's load average is printed with every run: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._simproc import simulation_config
from crawler import host_key

REPO = Path(__file__).resolve().parent.parent
CCHC = [sys.executable, "-m", "cli"]
PG_URL = os.environ.get("CCHC_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DELAY_S = 2.0


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(command: list[str], env: dict[str, str], limit_s: float | None = None) -> dict[str, Any]:
    """Run a command under /usr/bin/time: its wall, user+system CPU seconds and peak RSS (MB). Past limit_s the
    command (not /usr/bin/time, which then reports what it used) gets SIGTERM: a crawl closes its run as
    interrupted, every page so far kept."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.monotonic()
        process = subprocess.Popen(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *command],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )  # fmt: skip
        stopped = False
        try:
            _, stderr = process.communicate(timeout=limit_s)
        except subprocess.TimeoutExpired:
            stopped = True
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
            for child in children:
                os.kill(int(child), signal.SIGTERM)
            _, stderr = process.communicate()
        wall = time.monotonic() - started
        user, system, rss_kb = report.read().split()[-3:]
    return {"wall": wall, "cpu": float(user) + float(system), "rss_mb": int(rss_kb) / 1024,
            "rc": process.returncode, "stderr": stderr[-2000:], "stopped": stopped}  # fmt: skip


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def database_bytes(url: str, folder: Path) -> int:
    if url.startswith("sqlite"):
        return sum(f.stat().st_size for f in folder.glob("evidence.sqlite3*"))
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        size = connection.execute(
            sa.text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar_one()
    engine.dispose()
    return int(size)


def run_seconds(url: str) -> float:
    """The run's own time, from its start to its end (the process's start-up and closing report left out)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        started, finished = connection.execute(
            sa.text("SELECT started_at, finished_at FROM run ORDER BY id DESC LIMIT 1")
        ).one()
    engine.dispose()
    if isinstance(started, str):  # SQLite gives the text it stored
        started, finished = datetime.fromisoformat(started), datetime.fromisoformat(finished)
    return float((finished - started).total_seconds())


def requests_per_host(url: str) -> Counter[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        urls = connection.execute(sa.text("SELECT url FROM snapshot")).scalars().all()
    engine.dispose()
    counts = Counter(host_key(u) for u in urls)
    return Counter({host: n + 1 for host, n in counts.items()})  # robots.txt: one request per host


def outcomes(url: str) -> dict[str, int]:
    """How the crawl's captures ended (ok, http-error, timeout, network-error …): a simulation that cannot keep up
    shows as network errors and timeouts, which say nothing of the crawler."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT outcome, count(*) FROM snapshot GROUP BY outcome")).all()
    engine.dispose()
    return {str(outcome): int(count) for outcome, count in rows}


def pg_schema() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return schema, f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = sa.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def one_run(
    pointed: Path, database: str, folder: Path, period: str, delay_s: float, limit_s: float | None
) -> dict[str, Any]:
    raw = tomllib.loads(pointed.read_text(encoding="utf-8"))
    schema = None
    if database == "sqlite":
        url = f"sqlite:///{folder / 'evidence.sqlite3'}"
    else:
        schema, url = pg_schema()
    raw["storage"].update(
        database_url=url, blob_dir=str(folder / "blobs"), journal_file=str(folder / "journal.jsonl")
    )
    raw["collector"].update(key_file=str(folder / "keys" / "collector.pem"))
    raw["collector"].pop("witness_file", None)
    raw["politeness"].update(min_delay_s=delay_s, latency_factor=0.0)
    config = folder / "config.toml"
    config.write_text(tomli_w.dumps(raw), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_DATABASE_URL", "CCHC_CONFIG")}
    try:
        load = load_average()
        crawl = timed(
            [*CCHC, "--config", str(config), "crawl", "--probe", "news", "--no-browser", "--no-progress"],
            env,
            limit_s,
        )
        if crawl["rc"] not in (0, 3) and not crawl["stopped"]:
            raise SystemExit(f"the crawl failed ({crawl['rc']}):\n{crawl['stderr']}")
        hosts = requests_per_host(url)
        run_s = run_seconds(url)
        table: dict[str, Any] = {"wall": None, "rss_mb": None}  # a part of a crawl: no table to time
        if not crawl["stopped"]:
            table = timed([*CCHC, "--config", str(config), "indicators", "--period", period, "--format", "csv",
                           "--out", str(folder / "table.csv")], env)  # fmt: skip
            if table["rc"] != 0:
                raise SystemExit(f"the indicator table failed ({table['rc']}):\n{table['stderr']}")
        pages = sum(hosts.values()) - len(hosts)
        politeness_floor = (max(hosts.values()) - 1) * delay_s
        return {
            "database": database,
            "delay_s": delay_s,
            "pages": pages,
            "hosts": len(hosts),
            "busiest_host_requests": max(hosts.values()),
            "wall_s": crawl["wall"],
            "run_s": run_s,
            "politeness_floor_s": politeness_floor,
            "cpu_s": crawl["cpu"],
            "wall_over_floor": crawl["wall"] / max(politeness_floor, crawl["cpu"]),
            "run_over_floor": run_s / max(politeness_floor, crawl["cpu"]),
            "cpu_ms_per_page": 1000 * crawl["cpu"] / pages,
            "peak_rss_mb": crawl["rss_mb"],
            "db_mb": database_bytes(url, folder) / 1e6,
            "blobs_mb": folder_bytes(folder / "blobs") / 1e6,
            "journal_mb": (folder / "journal.jsonl").stat().st_size / 1e6,
            "indicators_s": table["wall"],
            "indicators_rss_mb": table["rss_mb"],
            "crawl_exit": crawl["rc"],
            "outcomes": outcomes(url),
            # Stopped at --crawl-limit: pages, CPU ms/page and RSS are those of the part crawled; the floors and
            # their ratio are not the whole crawl's.
            "complete": not crawl["stopped"],
            "load_before": load,
            "load_after": load_average(),
        }
    finally:
        if schema is not None:
            drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--portals", type=int, nargs="+", default=[20, 200, 2000])
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--period", default="2023", help="the indicator table's period")
    parser.add_argument(
        "--crawl-limit",
        type=float,
        help="stop each crawl after this many seconds (its run closed as interrupted)",
    )
    parser.add_argument(
        "--delay", type=float, default=DELAY_S, help="seconds between two requests to one host (0: CPU alone)"
    )
    parser.add_argument("--results", type=Path, help="append each run's result here (JSON lines)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; delay {args.delay} s between two requests to one host")
    for n in args.portals:
        with simulation_config(sim_args=("--portals", str(n)), start_timeout_s=1800) as pointed:
            for database in args.databases:
                with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
                    result = {
                        "portals": n,
                        **one_run(pointed, database, Path(folder), args.period, args.delay, args.crawl_limit),
                    }
                print(json.dumps(result), flush=True)
                if args.results is not None:
                    with args.results.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(result) + "\n")
    print(f"command: .venv/bin/python bench/scale.py --portals {' '.join(map(str, args.portals))} "
          f"--databases {' '.join(args.databases)} --delay {args.delay}")  # fmt: skip


if __name__ == "__main__":
    main()
