"""Every verb, given bad input, says one line on stderr and exits with a documented code; no traceback reaches
the user unless -v asks for it. The database that is down is a real closed port on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer.main

from cli.main import app
from cli.options import tidy_help
from cli_process import run_cli
from conftest import CONFIG

DOCUMENTED_EXITS = {1, 2, 3, 4, 5}


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening, so no other test can take it meanwhile)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def every_verb() -> set[str]:
    command = typer.main.get_command(app)
    verbs = set()
    for name, sub in getattr(command, "commands", {}).items():
        children = getattr(sub, "commands", None)
        verbs |= {f"{name} {child}" for child in children} if children else {name}
    return verbs - {"units"}  # reads only the config: its bad input is the broken config below


def bad_inputs(tmp: Path, closed_port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Per verb: arguments and environment that must fail cleanly."""
    down = {"CCHC_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test"}
    page = tmp / "page.html"
    page.write_text("<html></html>", encoding="utf-8")
    blocked = tmp / "a-file"
    blocked.write_text("", encoding="utf-8")
    broken = tmp / "broken.toml"
    broken.write_text("[inspection\nyear = 2023\n", encoding="utf-8")
    return {
        "sim": (["sim", "--fault", "phuong-99=http-500", "--no-serve"], {}),
        "demo": (["demo", "--fault", "phuong-1", "--port-base", "0"], {}),
        "crawl": (["crawl", "-u", "phuong-33", "--no-browser"], {}),
        "discover": (["discover"], {}),  # real hosts under the placeholder contact
        "parse": (["parse", "news", str(page)], {}),  # no --url
        "reparse": (["reparse"], down),
        "run": (["run", "--no-standby"], down),
        "status": (["status"], down),
        "indicators": (["indicators", "-F", "csv", "-o", str(blocked / "x.csv")], {}),
        "report": (["report", "phuong-33"], {}),
        "serve": (["serve", "--host", "0.0.0.0"], {}),  # beyond loopback without web.token
        "config check": (["--config", str(broken), "config", "check"], {}),
        "config show": (["--config", str(tmp / "missing.toml"), "config", "show"], {}),
        "db status": (["db", "status"], {"CCHC_DATABASE_URL": "mysql://root@127.0.0.1/cchc"}),
        "db upgrade": (["db", "upgrade"], down),
        "db init-readonly": (["db", "init-readonly"], down),
        "evidence verify": (["evidence", "verify"], down),
        "evidence show": (["evidence", "show", "1"], down),
        "evidence export": (["evidence", "export", "-o", "/nonexistent/x.warc.gz"], {}),
        # A folder of its own: the session's XDG_CONFIG_HOME holds a key once any earlier test on this worker has
        # crawled with the default config (which test ran before depends on how pytest-xdist shared the modules).
        "evidence public-key": (["evidence", "public-key"], {"XDG_CONFIG_HOME": str(tmp / "no-key-yet")}),
        "evidence timestamp": (["evidence", "timestamp", "--since", "x"], {}),
        "evidence bundle": (["evidence", "bundle", "-u", "phuong-33"], {}),
        "evidence check-bundle": (["evidence", "check-bundle", str(tmp / "missing.wacz")], {}),
        "alerts test": (["alerts", "test"], {}),  # no channel configured
        "alerts digest": (["alerts", "digest"], {}),
    }


def run_cchc(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    config = [] if "--config" in args else ["--config", str(CONFIG)]
    return run_cli([*config, *args], timeout=300, env={**os.environ, **env}, cwd=cwd)


def test_every_verb_says_one_line_for_bad_input(tmp_path: Path, closed_port: int) -> None:
    cases = bad_inputs(tmp_path, closed_port)
    assert every_verb() <= set(cases), f"verbs without a bad-input case: {every_verb() - set(cases)}"
    with ThreadPoolExecutor(4) as pool:
        results = dict(
            zip(cases, pool.map(lambda c: run_cchc(c[0], c[1], tmp_path), cases.values()), strict=True)
        )
    for verb, result in results.items():
        lines = result.stderr.strip().splitlines()
        assert result.returncode in DOCUMENTED_EXITS, (verb, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr and len(lines) == 1, (verb, result.stderr)
        assert not lines[0].startswith("internal error"), (verb, lines[0])
    said = {verb: r.stderr.strip() for verb, r in results.items()}
    assert results["status"].returncode == 5 and f"127.0.0.1:{closed_port}" in said["status"]
    assert "storage.database_url" in said["status"] and "server is running" in said["status"]
    assert results["db status"].returncode == 2 and "'mysql' databases are not supported" in said["db status"]
    assert "/nonexistent: no such folder" in said["evidence export"]
    assert "unknown unit 'phuong-33'; did you mean phuong-3" in said["crawl"]
    assert "phuong-33" in said["report"] and "phuong-33" in said["evidence bundle"]
    assert "--url" in said["parse"] and results["parse"].returncode == 2
    assert "a-file" in said["indicators"]
    assert "no collector key yet" in said["evidence public-key"]
    assert "web.token" in said["serve"] and "collector.contact" in said["discover"]
    assert not (tmp_path / "x.warc.gz").exists()
    assert "alerts.webhook_url" in said["alerts test"] and results["alerts digest"].returncode == 1


def test_verbose_adds_the_traceback(tmp_path: Path, closed_port: int) -> None:
    down = {"CCHC_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/test"}
    result = run_cchc(["-v", "status"], down, tmp_path)
    assert result.returncode == 5
    assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith(
        "the evidence database"
    )


def test_export_of_an_unknown_unit_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x.warc.gz"
    result = run_cchc(["evidence", "export", "-o", str(target), "--unit", "phuong-33"], {}, tmp_path)
    assert result.returncode == 1 and "unknown unit 'phuong-33'" in result.stderr
    assert not target.exists()


def test_version_stands_alone() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.startswith("cchc-watch ")


def test_short_options_mean_one_thing_across_verbs() -> None:
    command = typer.main.get_command(app)
    tidy_help(command)
    seen: dict[str, set[str]] = {}

    def walk(cmd: object) -> None:
        for param in getattr(cmd, "params", []):
            for opt in param.opts:
                if not opt.startswith("--"):
                    seen.setdefault(opt, set()).add(param.name)
            assert "<" not in str(param.metavar) and "list[" not in str(param.metavar), param.name
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(command)
    assert seen["-p"] == {"probe"} and seen["-u"] == {"unit"} and seen["-f"] == {"fault"}
    assert seen["-F"] == {"format", "output_format"}  # `report`'s and `indicators`' output format
    assert seen["-o"] <= {"out", "out_file", "output", "out_dir", "warc"}  # the file or folder written


def test_tables_keep_their_width_when_piped(tmp_path: Path) -> None:
    """A table piped to a file or `cat` is never cut or wrapped at the terminal's (here: 60) columns."""
    result = run_cchc(["units", "--all"], {"COLUMNS": "60"}, tmp_path)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "phong-lao-dong-tbxh" in line)
    assert "Phòng Lao động – Thương binh và Xã hội" in row and "https://thanhpho.tayninh.gov.vn" in row
    assert len(row) > 60


def test_units_lists_ids_names_kinds_and_portals_as_json(tmp_path: Path) -> None:
    from cchc.settings import load_settings

    result = run_cchc(["units", "--json"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    settings = load_settings(CONFIG, environ={})
    assert [r["id"] for r in rows] == [u.id for u in settings.units_in_inspection()]
    first = settings.units_in_inspection()[0]
    assert rows[0] | {"portal_url": None} == {"id": first.id, "name": first.name, "kind": first.kind,
                                              "portal": first.portal, "portal_url": None, "inspected": True,
                                              "valid_from": first.valid_from.isoformat(),
                                              "valid_to": first.valid_to.isoformat() if first.valid_to else None}  # fmt: skip


def test_the_contact_rule_applies_only_to_real_hosts() -> None:
    """The placeholder contact may crawl loopback (the simulation, by any loopback name), never a real host."""
    from cchc.errors import ConfigError
    from cchc.settings import load_settings
    from cli.simlink import point_at
    from cli.wiring import check_contact, is_loopback_url

    assert all(map(is_loopback_url, ["http://127.0.0.1:28700", "http://localhost:8080/x", "http://[::1]:9/",
                                     "http://127.9.9.9/", "http://sim.localhost/"]))  # fmt: skip
    assert not any(map(is_loopback_url, ["https://thanhpho.tayninh.gov.vn", "http://127.evil.example/",
                                         "http://10.0.0.1/"]))  # fmt: skip
    settings = load_settings(CONFIG, environ={})
    sites = [*("dvc_tinh", "motcua", "dvc_quocgia"), *(p.id for p in settings.portal)]
    for host in ("127.0.0.1", "localhost", "[::1]"):
        check_contact(point_at(settings, {s: f"http://{host}:{28700 + n}" for n, s in enumerate(sites)}))
    one_real = {s: f"http://localhost:{28700 + n}" for n, s in enumerate(sites)} | {
        "motcua": "https://motcua.example.vn"
    }
    with pytest.raises(ConfigError, match=r"motcua\.example\.vn"):
        check_contact(point_at(settings, one_real))
