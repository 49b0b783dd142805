"""Trusted timestamps from a real local RFC 3161 authority (`openssl ts -reply` over HTTP, a test CA of its own):
a crawl never waits for an authority that is down, the token is pending in `cchc status`, and it is obtained
once the authority is back.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session, select

from cchc.settings import Settings
from cchc.settings import TimestampAuthority as AuthoritySettings
from cli.simlink import write_pointed_config
from cli_process import run_cli
from conftest import REPO
from evidence.db import open_database
from evidence.models import Checkpoint, TimestampToken
from evidence.timestamps import TimestampError, stamped_message, verify_timestamp
from sim import Simulation
from sim.tsa import TimestampAuthority


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    return run_cli(["--config", str(config), *args], timeout=300, cwd=REPO, env=env, check=False)


def pending(config: Path) -> list[dict[str, object]]:
    status = cchc(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    found: list[dict[str, object]] = json.loads(status.stdout)["timestamps"]
    return found


def test_an_authority_that_is_down_delays_the_token_and_never_the_crawl(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    authority = TimestampAuthority("tsa-a", folder=tmp_path / "tsa").start()
    port = authority.port
    authority.stop()  # down before the crawl
    local = settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={
                    "database_url": f"sqlite:///{tmp_path / 'evidence.sqlite3'}",
                    "blob_dir": tmp_path / "blobs",
                }
            ),
            "collector": settings.collector.model_copy(update={"key_file": tmp_path / "key.pem"}),
            "timestamp": settings.timestamp.model_copy(
                update={
                    "authority": [
                        AuthoritySettings(name="tsa-a", url=authority.url, certificates=authority.pinned_file)
                    ]
                }
            ),
        }
    )
    config_file = tmp_path / "config.toml"
    write_pointed_config(local, simulation.urls, config_file, min_delay_s=0.0, latency_factor=0.0)

    crawled = cchc(
        config_file, "crawl", "-u", "phuong-1", "-p", "availability", "--no-browser", "--no-progress"
    )
    assert crawled.returncode == 0, crawled.stdout + crawled.stderr  # the crawl went on and ended well
    [waiting] = pending(config_file)
    assert waiting["authority"] == "tsa-a" and waiting["pending"] == 1 and waiting["attempts"] == 1
    assert "Connect" in str(waiting["last_error"])

    try:
        authority.port = port
        authority.start()  # back, on the address the configuration names
        stamped = cchc(config_file, "evidence", "timestamp")
        assert stamped.returncode == 0, stamped.stdout + stamped.stderr
        assert "1 token(s) obtained; 0 still pending" in stamped.stdout
        assert authority.replies == 1
    finally:
        authority.close()
    assert pending(config_file) == []

    engine = open_database(f"sqlite:///{tmp_path / 'evidence.sqlite3'}")
    with Session(engine) as session:
        [token] = session.exec(select(TimestampToken)).all()
        checkpoint = session.get(Checkpoint, token.checkpoint_id)
    engine.dispose()
    assert checkpoint is not None
    moment = verify_timestamp(token.reply, stamped_message(checkpoint), authority.root_pem)
    assert moment == token.gen_time and moment >= checkpoint.created_at.replace(microsecond=0)
    with pytest.raises(TimestampError, match="Mismatch between messages"):
        verify_timestamp(token.reply, b"another checkpoint", authority.root_pem)

    # The whole inspection's bundle from the command line: its checkpoint and token come along, and it checks.
    bundled = cchc(
        config_file, "evidence", "bundle", "--all", "--period", "2023", "-o", str(tmp_path / "all.wacz")
    )
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    assert (
        "no timestamp: tsa-a" in bundled.stderr
    )  # the authority is gone again: the bundle is made without it
    checked = cchc(
        config_file,
        "evidence",
        "check-bundle",
        str(tmp_path / "all.wacz"),
        "--trust-key",
        checkpoint.public_key,
    )
    assert checked.returncode == 0, checked.stdout
    assert (
        "Checkpoint timestamps: đạt / ok" in checked.stdout
        and "Bundle timestamps: không có / absent" in checked.stdout
    )
