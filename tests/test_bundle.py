"""Evidence bundles (WACZ) a third party can check: made from a real crawl of the simulation, with real tokens
from a local RFC 3161 authority (`openssl ts -reply`), checked by `wacz validate` and by our offline checker,
tampered with in each way a forger might try, and replayed in pywb with headless Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from probe_helpers import open_test_store, pointed, run_probes, stored_in
from sqlmodel import Session, col, select
from warcio.archiveiterator import ArchiveIterator

from cchc.settings import Settings
from cli_process import run_cli
from conftest import REPO, free_port
from evidence.bundle_check import check_bundle
from evidence.ledger import record_payload
from evidence.models import Snapshot, SnapshotBlob
from evidence.signing import CollectorKey
from evidence.timestamps import Authority, request_timestamp, stamp_checkpoints
from evidence.wacz import ATTESTATION, BundleFile, LedgerLines, write_bundle
from indicators import parse_period
from reports import build_summary, render_summary
from reports.bundle import make_bundle
from reports.paths import bundle_path
from sim import Simulation
from sim.tsa import TimestampAuthority

PERIOD = "2023"
UNIT = "phuong-1"


@dataclass(frozen=True)
class Made:
    path: Path
    key: str
    roots: dict[str, bytes]
    folder: Path
    settings: Settings
    digest: str


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimestampAuthority]:
    with TimestampAuthority("tsa-a", folder=tmp_path_factory.mktemp("tsa-a")) as running:
        yield running


@pytest.fixture(scope="module")
def made(
    settings: Settings,
    simulation: Simulation,
    authority: TimestampAuthority,
    tmp_path_factory: pytest.TempPathFactory,
) -> Made:
    folder = tmp_path_factory.mktemp("bundle")
    store = open_test_store(folder)
    crawling = pointed(settings, simulation)
    run_probes(crawling, store, ["news", "availability"], [UNIT], with_browser=True)
    authorities = [Authority(authority.name, authority.url, authority.root_pem)]
    assert stamp_checkpoints(store.engine, authorities).obtained == 1
    local = stored_in(crawling, folder)
    local = local.model_copy(
        update={"storage": local.storage.model_copy(update={"bundle_dir": folder / "bundles"})}
    )
    summary = make_bundle(local, store.engine, store.blobs, store.signing_key(), [local.unit_by_id(UNIT)],
                          parse_period(PERIOD), bundle_path(local, UNIT, parse_period(PERIOD)), authorities)  # fmt: skip
    assert summary.timestamped_by == [authority.name] and not summary.timestamp_failures
    key = store.signing_key().public_hex
    store.close()
    return Made(summary.path, key, {authority.name: authority.root_pem}, folder, local, summary.digest)


def checked(made: Made, path: Path | None = None, **options: Any) -> Any:
    return check_bundle(path or made.path, trusted_keys={made.key}, pinned_authorities=made.roots, **options)


def test_a_bundle_passes_wacz_validate_and_every_layer_of_our_check(made: Made) -> None:
    validated = subprocess.run([str(REPO / ".venv" / "bin" / "wacz"), "validate", "-f", str(made.path)],
                               capture_output=True, text=True, check=False)  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr
    report = checked(made)
    assert {key: layer.status for key, layer in report.layers.items()} == dict.fromkeys(report.layers, "ok")
    with zipfile.ZipFile(made.path) as bundle:
        names = set(bundle.namelist())
        figures = [json.loads(line) for line in bundle.read("figures/figures.jsonl").splitlines()]
        package = json.loads(bundle.read("datapackage.json"))
        assert bundle.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
    assert {"indexes/index.cdx", "pages/pages.jsonl", "ledger/segment.jsonl", "ledger/checkpoints.jsonl",
            "ledger/collector.pem", "timestamps/tsa-a.pem"} <= names  # fmt: skip
    assert any(n.startswith("timestamps/checkpoint-") and n.endswith("-tsa-a.tsr") for n in names)
    cited = {s for f in figures for s in f["snapshots"]}
    assert cited and cited <= set(package["cchc"]["snapshots"])  # every figure's snapshots are in the bundle
    assert {f["unit"] for f in figures} == {UNIT}


def test_the_summarys_appendix_cites_the_bundle_and_how_to_check_it(made: Made) -> None:
    summary = build_summary(made.settings, UNIT, period=PERIOD)
    assert summary.bundle is not None and summary.bundle.digest == made.digest
    assert [name for name, _ in summary.bundle.timestamps] == ["tsa-a"]
    html = render_summary(summary)
    assert made.digest in html and made.path.name in html
    assert f"cchc evidence check-bundle {made.path.name} --trust-key {made.key}" in html


def test_check_bundle_runs_anywhere_with_only_the_file(made: Made, tmp_path: Path) -> None:
    # No config, no database, no store beside it: an empty folder and the bundle copied into it.
    copy = tmp_path / "elsewhere.wacz"
    copy.write_bytes(made.path.read_bytes())
    pem = tmp_path / "tsa-a.pem"
    pem.write_bytes(made.roots["tsa-a"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")} | {
        "CCHC_CONFIG": str(tmp_path / "none.toml")
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            ["evidence", "check-bundle", str(copy), *args], cwd=tmp_path, env=env, timeout=120, check=False
        )

    trusted = run("--trust-key", made.key, "--tsa", f"tsa-a={pem}")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "Chữ ký của đơn vị thu thập / Collector's signature: đạt / ok" in trusted.stdout
    assert "gói đạt / bundle passes" in trusted.stdout
    consistent = run()  # nothing trusted: consistency is shown, authenticity is not claimed
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
    assert (
        "Collector's signature: nhất quán, chưa xác thực / consistent, not authenticated" in consistent.stdout
    )
    assert "Bundle timestamps: nhất quán, chưa xác thực" in consistent.stdout


# --- tampering -------------------------------------------------------------------------------------------------


def rewrite(source: Path, target: Path, change: Callable[[dict[str, bytes]], None], *, rehash: bool = False,
            resign: CollectorKey | None = None) -> Path:  # fmt: skip
    """A copy of the bundle with `change` applied to its files; optionally with datapackage.json's digests made
    to match again (a forger who rewrites the manifest) and re-signed with the forger's own key."""
    with zipfile.ZipFile(source) as bundle:
        files = {info.filename: bundle.read(info) for info in bundle.infolist()}
    change(files)
    if rehash or resign:
        package = json.loads(files["datapackage.json"])
        for resource in package["resources"]:
            data = files[resource["path"]]
            resource["hash"], resource["bytes"] = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
        if resign is not None:
            package["cchc"]["collector_public_key"] = resign.public_hex
            files["ledger/collector.pem"] = resign.public_pem().encode()
            entry = next(r for r in package["resources"] if r["path"] == "ledger/collector.pem")
            entry["hash"] = "sha256:" + hashlib.sha256(files["ledger/collector.pem"]).hexdigest()
            entry["bytes"] = len(files["ledger/collector.pem"])
        files["datapackage.json"] = json.dumps(package, ensure_ascii=False, indent=2).encode()
        digest_file = json.loads(files["datapackage-digest.json"])
        digest = "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()
        digest_file["hash"] = digest_file[ATTESTATION]["hash"] = digest
        if resign is not None:
            digest_file[ATTESTATION]["ed25519"] = {
                "publicKey": resign.public_hex,
                "signature": resign.sign(digest.encode()),
            }
        files["datapackage-digest.json"] = json.dumps(digest_file).encode()
    with zipfile.ZipFile(target, "w") as bundle:
        for name, data in files.items():
            stored = name.startswith("archive/") or name.endswith(".tsr")
            bundle.writestr(name, data, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return target


def warc_records(data: bytes) -> list[tuple[int, int, dict[str, str]]]:
    """(offset, length, headers) of each gzip member of a WARC."""
    found = []
    records = ArchiveIterator(BytesIO(data))
    for record in records:
        record.content_stream().read()
        headers = dict(record.rec_headers.headers)
        found.append((records.get_record_offset(), records.get_record_length(), headers))
    return found


def problems(report: Any, layer: str) -> str:
    assert report.layers[layer].status == "failed", {
        k: (v.status, v.problems) for k, v in report.layers.items()
    }
    return "\n".join(report.layers[layer].problems)


def test_a_changed_byte_in_a_warc_record_is_named(made: Made, tmp_path: Path) -> None:
    def flip(files: dict[str, bytes]) -> None:
        warc = files["archive/data.warc.gz"]
        offset, length, _ = next(r for r in warc_records(warc) if r[2].get("WARC-Cchc-Part") == "response")
        # Rewrite one record with a changed payload byte, as a valid gzip member: only the meaning changed.
        import gzip

        member = gzip.decompress(warc[offset : offset + length])
        head, _, body = member.partition(b"\r\n\r\n")
        http_head, _, payload = body.partition(b"\r\n\r\n")
        changed = payload.replace(b"<", b"{", 1)
        forged = gzip.compress(head + b"\r\n\r\n" + http_head + b"\r\n\r\n" + changed)
        files["archive/data.warc.gz"] = warc[:offset] + forged + warc[offset + length :]

    plain = checked(made, rewrite(made.path, tmp_path / "flipped.wacz", flip))
    assert "archive/data.warc.gz does not hash to the digest" in problems(plain, "digests")
    assert "does not match its WARC-Payload-Digest" in problems(plain, "index")
    # A forger who also rewrites the manifest and signs it with a key of their own is still named: the key is
    # not trusted, and the new bytes are not what the signed ledger recorded.
    forger = CollectorKey(Ed25519PrivateKey.generate())
    forged = checked(made, rewrite(made.path, tmp_path / "forged.wacz", flip, resign=forger))
    assert "not a key you trust" in problems(forged, "signature")
    assert "does not match its WARC-Payload-Digest" in problems(forged, "index")


def test_a_removed_record_is_named(made: Made, tmp_path: Path) -> None:
    def remove(files: dict[str, bytes]) -> None:
        warc = files["archive/data.warc.gz"]
        offset, length, _ = next(r for r in warc_records(warc) if r[2].get("WARC-Cchc-Part") == "response")
        files["archive/data.warc.gz"] = warc[:offset] + warc[offset + length :]

    report = checked(made, rewrite(made.path, tmp_path / "removed.wacz", remove, rehash=True))
    assert "a record was removed or moved" in problems(report, "index")
    assert "signature over the bundle's hash does not verify" in problems(
        report, "signature"
    )  # manifest rewritten


def test_a_replaced_timestamp_token_is_named(
    made: Made, authority: TimestampAuthority, tmp_path: Path
) -> None:
    other = request_timestamp(
        Authority(authority.name, authority.url, authority.root_pem), b"some other bytes"
    )

    def replace(files: dict[str, bytes]) -> None:
        digest_file = json.loads(files["datapackage-digest.json"])
        digest_file[ATTESTATION]["rfc3161"][0]["reply"] = base64.b64encode(other.as_bytes()).decode()
        files["datapackage-digest.json"] = json.dumps(digest_file).encode()

    report = checked(made, rewrite(made.path, tmp_path / "token.wacz", replace))
    assert "bundle token (tsa-a): the token does not verify: Mismatch between messages" in problems(
        report, "timestamps"
    )


def test_a_token_from_an_untrusted_authority_is_named(made: Made, tmp_path: Path) -> None:
    with zipfile.ZipFile(made.path) as bundle:
        signature = json.loads(bundle.read("datapackage-digest.json"))[ATTESTATION]["ed25519"]["signature"]
    with TimestampAuthority("tsa-a", folder=tmp_path / "impostor") as impostor:
        token = request_timestamp(
            Authority("tsa-a", impostor.url, impostor.root_pem), signature.encode("ascii")
        )
        impostor_root = impostor.root_pem

    def swap(files: dict[str, bytes]) -> None:
        digest_file = json.loads(files["datapackage-digest.json"])
        digest_file[ATTESTATION]["rfc3161"][0]["reply"] = base64.b64encode(token.as_bytes()).decode()
        files["datapackage-digest.json"] = json.dumps(digest_file).encode()
        files["timestamps/tsa-a.pem"] = impostor_root  # it even ships its own root

    report = checked(made, rewrite(made.path, tmp_path / "impostor.wacz", swap, rehash=True))
    assert "does not chain to the pinned certificates" in problems(report, "timestamps")


def test_an_edited_ledger_row_is_named(made: Made, tmp_path: Path) -> None:
    def edit(files: dict[str, bytes]) -> None:
        rows = [json.loads(line) for line in files["ledger/segment.jsonl"].splitlines()]
        row = next(r for r in rows if r["in_bundle"])
        row["payload"]["status_code"] = 500  # the page "was down"
        files["ledger/segment.jsonl"] = b"".join(
            json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows
        )

    report = checked(made, rewrite(made.path, tmp_path / "ledger.wacz", edit, rehash=True))
    assert "its record does not hash to its record hash: the ledger row was edited" in problems(
        report, "ledger"
    )


def test_a_figure_whose_snapshot_was_left_out_is_named(made: Made, tmp_path: Path) -> None:
    store = open_test_store(made.folder)
    with zipfile.ZipFile(made.path) as bundle:
        included = json.loads(bundle.read("datapackage.json"))["cchc"]["snapshots"]
    kept = included[: len(included) // 2]
    left_out = included[-1]
    figure = {"unit": UNIT, "indicator": "PAR_NEWS", "period": PERIOD, "snapshots": [kept[0], left_out]}
    path = write_bundle(store.engine, store.blobs, tmp_path / "partial.wacz", snapshot_ids=kept, key=store.signing_key(),
                        title="partial", files=[BundleFile("figures/figures.jsonl", json.dumps(figure).encode())]).path  # fmt: skip
    store.close()
    report = check_bundle(path, trusted_keys={made.key})
    assert f"{UNIT} PAR_NEWS {PERIOD}: snapshot {left_out} behind it is not in the bundle" in problems(
        report, "figures"
    )


def test_bundles_sharing_one_ledger_reader_hold_the_segments_a_reader_of_their_own_gives(
    made: Made, tmp_path: Path
) -> None:
    """The demo's bundles share one LedgerLines (each record read once): growing its cache at both ends gives,
    byte for byte, the lines of the whole entry serialised at once, and each bundle checks."""
    store = open_test_store(made.folder)
    try:
        with Session(store.engine) as session:
            snapshots = list(session.exec(select(Snapshot).order_by(col(Snapshot.seq))))
            blobs = list(session.exec(select(SnapshotBlob)))
        ids = [s.id for s in snapshots if s.id is not None]
        thirds = [ids[len(ids) // 3 : 2 * len(ids) // 3], ids[: len(ids) // 3], ids[2 * len(ids) // 3 :]]
        shared = LedgerLines(store.engine)
        segments = []
        for n, part in enumerate(thirds):  # the middle first: then the cache grows before and after it
            path = write_bundle(store.engine, store.blobs, tmp_path / f"part-{n}.wacz", snapshot_ids=part,
                                key=store.signing_key(), title=f"part {n}", ledger=shared).path  # fmt: skip
            layers = check_bundle(path, trusted_keys={made.key}, pinned_authorities=made.roots).layers
            # No authority and no figures file were given: those two layers have nothing to check.
            assert {key for key, layer in layers.items() if layer.status != "ok"} == {"timestamps", "figures"}
            with zipfile.ZipFile(path) as bundle:
                segments.append(bundle.read("ledger/segment.jsonl").splitlines(keepends=True))
        first, last = snapshots[0].seq, snapshots[-1].seq
        again = list(shared.lines(first, last, set(thirds[0])))
        fresh = list(LedgerLines(store.engine).lines(first, last, set(thirds[0])))
    finally:
        store.close()
    links: dict[int, list[SnapshotBlob]] = {}
    for link in blobs:
        links.setdefault(link.snapshot_id, []).append(link)
    whole = [json.dumps({"id": s.id, "in_bundle": s.id in thirds[0], "payload": record_payload(s, links.get(s.id or 0, [])),
                         "record_hash": s.record_hash}, ensure_ascii=False, separators=(",", ":"),
                        default=lambda v: v.astimezone(UTC).isoformat(timespec="microseconds")).encode() + b"\n"
             for s in snapshots]  # fmt: skip
    assert again == fresh == whole
    for part, segment in zip(thirds, segments, strict=True):
        flagged = [json.loads(line)["id"] for line in segment if json.loads(line)["in_bundle"]]
        assert set(flagged) == set(part) and segment[0] == whole[ids.index(part[0])].replace(
            b'"in_bundle":false', b'"in_bundle":true'
        )


# --- replay ----------------------------------------------------------------------------------------------------


PYWB = REPO / ".venv-pywb" / "bin"


@pytest.mark.browser
def test_a_page_in_the_bundle_replays_with_its_styles_and_images_in_pywb(
    made: Made, tmp_path: Path, browser: Any
) -> None:
    if not (PYWB / "wayback").exists():
        if os.environ.get("CCHC_REQUIRE_PG") == "1":  # CI: `make test` installs pywb in .venv-pywb
            pytest.fail("pywb is not installed in .venv-pywb (make test installs it)")
        pytest.skip("pywb is not installed in .venv-pywb: run `make test` once")
    with zipfile.ZipFile(made.path) as bundle:
        bundle.extract("archive/data.warc.gz", tmp_path / "unpacked")
        pages = [json.loads(line) for line in bundle.read("pages/pages.jsonl").splitlines()[1:]]
    root = tmp_path / "replay"
    root.mkdir()
    for args in (
        ["init", "bundle"],
        ["add", "bundle", str(tmp_path / "unpacked" / "archive" / "data.warc.gz")],
    ):
        subprocess.run([str(PYWB / "wb-manager"), *args], cwd=root, check=True, capture_output=True)
    (root / "config.yaml").write_text("framed_replay: false\n")
    port = free_port()
    server = subprocess.Popen([str(PYWB / "wayback"), "-b", "127.0.0.1", "-p", str(port)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        page = browser.new_page()
        # The availability capture of the unit's home page, rendered in Chromium with its sub-resources.
        home = next(p for p in reversed(pages) if p["url"].rstrip("/").count("/") == 2)
        stamp = "".join(ch for ch in home["ts"] if ch.isdigit())[:14]
        url = f"http://127.0.0.1:{port}/bundle/{stamp}/{home['url']}"
        for _ in range(600):  # wait for the server to answer (an event, not a fixed sleep)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                page.wait_for_timeout(100)
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200
        images = page.evaluate("Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])")
        assert images and all(complete and width > 0 for _, complete, width in images), images
        header = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
        assert header == "rgb(10, 79, 143)"  # the page's own style, from the archive
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
