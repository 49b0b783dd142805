"""`cchc evidence verify | show | export | public-key` on a real store made from captures of the simulation."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from cchc.settings import Settings, load_settings
from cli.wiring import open_store
from cli_process import run_cli
from conftest import CONFIG, sim_fetch_policy
from crawler import HttpFetcher, Target
from sim import Simulation


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """The real config in a folder of its own, so its data/ (database, blobs, key) lands there."""
    copy = tmp_path / "config.toml"
    copy.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


@pytest.fixture
def stored(config_copy: Path, simulation: Simulation) -> Settings:
    settings = load_settings(config_copy, environ={})
    store = open_store(settings)
    run = store.begin_run("test", ["news"], ["phuong-1"])

    async def crawl() -> None:
        async with HttpFetcher(sim_fetch_policy(simulation)) as fetcher:
            for path in ("/vi/news/tin-tuc-su-kien/", "/vi/news/rss/", "/vi/news/thong-bao"):
                capture = await fetcher.fetch(
                    Target(url=simulation.url("phuong-1") + path, probe="news", unit="phuong-1")
                )
                store.store(run.id or 0, capture)

    asyncio.run(crawl())
    store.finish_run(run.id or 0)
    store.close()
    return settings


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")}
    return run_cli(
        ["--config", str(config), "evidence", *args],
        timeout=120,
        check=False,
        env=env,
    )


def problems(stderr: str) -> str:
    """Verify's problem lines, without its progress lines (`verify: 3/7 event chain`, said when piped)."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("verify: "))


def test_verify_is_clean_then_names_a_corrupt_blob(config_copy: Path, stored: Settings) -> None:
    clean = cchc(config_copy, "verify")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("evidence verifies: 3 snapshots")
    victim = next((stored.storage.blob_dir).glob("??/??/*.zst"))
    victim.write_bytes(b"garbage")
    broken = cchc(config_copy, "verify")
    assert broken.returncode == 1
    assert problems(broken.stderr).startswith(f"blob {victim.name.removesuffix('.zst')}: cannot decompress")
    assert "does NOT verify: 1 problems" in broken.stdout


def test_show_gives_metadata_chain_and_blobs(config_copy: Path, stored: Settings) -> None:
    result = cchc(config_copy, "show", "3")
    assert result.returncode == 0, result.stderr
    for expected in ("seq 3; previous snapshot 2", "301", "response_body", "record hash: ok", "giờ Việt Nam"):
        assert expected in result.stdout, expected
    missing = cchc(config_copy, "show", "99")
    assert missing.returncode == 1 and missing.stderr.startswith("no snapshot with id 99")


def test_export_writes_a_warc_with_the_filters(config_copy: Path, stored: Settings, tmp_path: Path) -> None:
    target = tmp_path / "out.warc.gz"
    result = cchc(config_copy, "export", "--warc", str(target), "--unit", "phuong-1", "--since", "2020-01-01")
    assert result.returncode == 0, result.stderr
    with target.open("rb") as handle:
        types = [record.rec_type for record in ArchiveIterator(handle)]
    assert types[0] == "warcinfo" and types.count("response") >= 3
    none = tmp_path / "none.warc.gz"
    assert (
        cchc(
            config_copy, "export", "--warc", str(none), "--unit", "phuong-1", "--since", "2099-01-01"
        ).returncode
        == 0
    )
    with none.open("rb") as handle:
        assert [r.rec_type for r in ArchiveIterator(handle)] == ["warcinfo"]
    typo = cchc(config_copy, "export", "--warc", str(tmp_path / "typo.warc.gz"), "--unit", "phuong-99")
    assert typo.returncode == 1 and "unknown unit 'phuong-99'" in typo.stderr
    assert not (tmp_path / "typo.warc.gz").exists()


def test_public_key_is_exportable(config_copy: Path, stored: Settings) -> None:
    result = cchc(config_copy, "public-key")
    assert result.returncode == 0 and result.stdout.startswith("-----BEGIN PUBLIC KEY-----")


def test_verify_trusts_only_the_key_it_is_given(config_copy: Path, stored: Settings, tmp_path: Path) -> None:
    published = cchc(config_copy, "public-key")
    pem = tmp_path / "published.pem"
    pem.write_text(published.stdout, encoding="utf-8")  # as an inspector would keep what was published
    raw = published.stdout.split("raw (hex): ")[1].strip()

    unchecked = cchc(config_copy, "verify")
    assert unchecked.returncode == 0, unchecked.stderr
    assert "consistency only: no --trust-key was given" in unchecked.stdout
    assert f"witness {stored.collector.witness_file}: 1 checkpoints, the last at seq 3" in unchecked.stdout

    trusted = cchc(config_copy, "verify", "--trust-key", str(pem))
    assert trusted.returncode == 0, trusted.stderr
    assert (
        f"authenticity: checkpoints checked against the trusted key {raw[:16]}… and no other"
        in trusted.stdout
    )
    assert cchc(config_copy, "verify", "--trust-key", raw).returncode == 0

    # The collector's own key file is beside the store, but only the key given is trusted.
    other = cchc(config_copy, "verify", "--trust-key", "ab" * 32)
    assert other.returncode == 1
    assert problems(other.stderr).startswith("checkpoint 1 (seq 3): signed by an untrusted key")

    wrong = cchc(config_copy, "verify", "--trust-key", "not-a-key")
    assert wrong.returncode == 1
    assert wrong.stderr == "--trust-key: 'not-a-key' is neither a 64-digit hex key nor a key file\n"
