"""WARC export: captures crawled from the simulation over real HTTP, kept by the evidence store (SQLite, then
PostgreSQL), come back out as a WARC 1.1 file that warcio reads and checks, record for record."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gzip
import hashlib
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import zstandard
from warcio.archiveiterator import ArchiveIterator

import cchc
from conftest import SimulationFactory
from crawler import Capture, FetchPolicy, HttpFetcher, Outcome, SubResponse, Target, host_key
from evidence import BlobCorrupt, BlobMissing, EvidenceStore, LocalBlobStore, Snapshot
from evidence.warc import ExportSummary, export_warc
from sim import FaultSpec, Simulation, WorldSpec
from sim.sites.nukeviet import THUMBNAIL

BOUNDARY = "cchc-test-boundary-4f9a2c"
PROCEDURE_QUERY = {"DonViID": 356, "LinhVucID": "0", "MucDo": "0", "PageNum": 1, "PageSize": 9}
LEDGER_HEADERS = ("WARC-Cchc-Snapshot-Id", "WARC-Cchc-Seq", "WARC-Cchc-Record-Hash", "WARC-Cchc-Outcome")


def multipart(fields: dict[str, str]) -> bytes:
    """A multipart/form-data body with a fixed boundary, as the DVC portal's own JavaScript sends it."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode("utf-8")


PROCEDURE_BODY = multipart({"data": json.dumps(PROCEDURE_QUERY)})


def policy_for(simulation: Simulation) -> FetchPolicy:
    return FetchPolicy(
        user_agent="cchc-watch/test (+mailto:t@example.invalid)",
        robots_agent="cchc-watch",
        allowed_hosts=frozenset(host_key(u) for u in simulation.urls.values()),
        min_delay_s=0.0,
        latency_factor=0.0,
    )


def open_store(database_url: str, folder: Path) -> EvidenceStore:
    return EvidenceStore.open(database_url, folder / "blobs", folder / "collector.key", durable=False)


def sqlite_store(folder: Path) -> EvidenceStore:
    return open_store(f"sqlite:///{folder / 'evidence.db'}", folder)


def fetch(simulation: Simulation, *targets: Target) -> list[Capture]:
    """Fetch targets one after the other over real HTTP, as a crawl does."""

    async def fetch_all() -> list[Capture]:
        async with HttpFetcher(policy_for(simulation)) as fetcher:
            return [await fetcher.fetch(target) for target in targets]

    return asyncio.run(fetch_all())


def keep_and_export(folder: Path, *captures: Capture) -> tuple[list[Snapshot], ExportSummary, list[Record]]:
    """Keep captures in a fresh SQLite store, in one run, and export them all."""
    store = sqlite_store(folder)
    try:
        run = store.begin_run("test")
        assert run.id is not None
        kept = [store.store(run.id, capture) for capture in captures]
        summary = export_warc(store.engine, store.blobs, folder / "export.warc.gz")
    finally:
        store.close()
    return kept, summary, read_warc(summary.path)


def crawl(store: EvidenceStore, simulation: Simulation) -> dict[str, Snapshot]:
    """Fetch a handful of real targets over HTTP and keep them in one run; the RSS feed twice (then a 304)."""
    portal, dvc = simulation.url("phuong-1"), simulation.url("dvc_tinh")
    targets = {
        "category": Target(portal + "/vi/news/tin-tuc-su-kien/", probe="news", unit="phuong-1"),
        "rss": Target(portal + "/vi/news/rss/", probe="news", unit="phuong-1", conditional=True),
        "procedures": Target(
            dvc + "/api/dvc/GetDanhSachTTHCDVC",
            method="POST",
            body=PROCEDURE_BODY,
            headers=(("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),),
            probe="tthc",
            unit="thanhpho",
        ),
        "redirected": Target(portal + "/vi/news/tin-tuc-su-kien", probe="news", unit="phuong-1"),
        "disallowed": Target(portal + "/admin/", probe="news", unit="phuong-1"),
        "foreign": Target("http://example.invalid/vi/news/", probe="news", unit="phuong-1"),
    }
    run = store.begin_run("test", probes=["news", "tthc"], units=["phuong-1", "thanhpho"])
    assert run.id is not None
    run_id = run.id
    kept: dict[str, Snapshot] = {}

    async def fetch_all() -> None:
        async with HttpFetcher(policy_for(simulation)) as fetcher:
            for name, target in targets.items():
                kept[name] = store.store(run_id, await fetcher.fetch(target))
            validators = store.validators(targets["rss"].key)
            assert validators is not None and validators.etag
            again = await fetcher.fetch(targets["rss"], (validators.etag, validators.last_modified))
            kept["rss-again"] = store.store(run_id, again)

    asyncio.run(fetch_all())
    store.finish_run(run_id)
    failures = {name: s.outcome for name, s in kept.items() if s.outcome != "ok"}
    assert failures == {"disallowed": "robots-disallowed", "foreign": "host-not-allowed"}
    assert kept["rss-again"].status_code == 304 and kept["rss-again"].not_modified_of == kept["rss"].id
    return kept


@dataclass(frozen=True)
class Record:
    """One WARC record as warcio reads it back: its headers, its HTTP headers, its raw payload."""

    type: str
    headers: dict[str, str]
    http: Any  # warcio's StatusAndHeaders, or None
    payload: bytes

    @property
    def snapshot_id(self) -> int | None:
        value = self.headers.get("WARC-Cchc-Snapshot-Id")
        return None if value is None else int(value)


def read_warc(path: Path) -> list[Record]:
    records: list[Record] = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            payload = record.raw_stream.read()
            assert record.digest_checker.passed is not False, record.digest_checker.problems
            records.append(
                Record(record.rec_type, dict(record.rec_headers.headers), record.http_headers, payload)
            )
    return records


def of_snapshot(records: list[Record], snapshot: Snapshot, record_type: str) -> list[Record]:
    return [r for r in records if r.snapshot_id == snapshot.id and r.type == record_type]


def sha256_label(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def assert_export_matches_the_evidence(
    store: EvidenceStore, kept: dict[str, Snapshot], summary: ExportSummary, records: list[Record]
) -> None:
    """What every export of the crawl above must show, whatever the database."""
    assert [r.type for r in records][:1] == ["warcinfo"]
    assert Counter(r.type for r in records) == {"warcinfo": 1, "request": 5, "response": 5, "revisit": 1}
    assert (summary.snapshots, summary.skipped, summary.records) == (7, 2, len(records))
    assert summary.bytes_written == summary.path.stat().st_size
    for record in records:
        for name in ("WARC-Block-Digest", "WARC-Payload-Digest"):
            assert record.headers.get(name, "sha256:").startswith("sha256:"), (record.type, name)
    for name in ("category", "rss", "procedures", "redirected"):
        snapshot = kept[name]
        assert snapshot.id is not None
        response = of_snapshot(records, snapshot, "response")[-1]  # the final one, after any redirect hop
        body = store.body(snapshot.id)
        assert body is not None and response.payload == body
        assert response.headers["WARC-Payload-Digest"] == sha256_label(body)
        assert response.headers["WARC-Target-URI"] == snapshot.final_url
        assert response.headers["WARC-Date"] == warc_date(snapshot.fetched_at)
        assert response.http.get_statuscode() == str(snapshot.status_code)
        (request,) = of_snapshot(records, snapshot, "request")
        assert request.headers["WARC-Concurrent-To"] == response.headers["WARC-Record-ID"]


# --- one crawl, kept in SQLite, exported once -----------------------------------------------------------


@dataclass(frozen=True)
class Crawled:
    store: EvidenceStore
    kept: dict[str, Snapshot]
    summary: ExportSummary
    records: list[Record]
    folder: Path


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, simulation: Simulation) -> Iterator[Crawled]:
    folder = tmp_path_factory.mktemp("warc")
    store = sqlite_store(folder)
    kept = crawl(store, simulation)
    summary = export_warc(store.engine, store.blobs, folder / "evidence.warc.gz")
    yield Crawled(store, kept, summary, read_warc(summary.path), folder)
    store.close()


def test_export_holds_a_request_and_a_response_per_answered_snapshot(crawled: Crawled) -> None:
    assert_export_matches_the_evidence(crawled.store, crawled.kept, crawled.summary, crawled.records)


def test_warcinfo_names_the_software_the_format_and_the_filters(crawled: Crawled) -> None:
    warcinfo = crawled.records[0]
    fields = dict(
        line.split(": ", 1) for line in warcinfo.payload.decode("utf-8").splitlines() if ": " in line
    )
    assert fields["software"] == f"cchc-watch/{cchc.__version__}"
    assert fields["format"] == "WARC File Format 1.1"
    assert fields["cchc-units"] == fields["cchc-probes"] == "all"
    head = crawled.kept["rss-again"]
    assert fields["cchc-ledger-head"] == f"seq {head.seq} {head.record_hash}"
    assert warcinfo.headers["WARC-Filename"] == "evidence.warc.gz"


def test_every_record_leads_back_to_its_ledger_entry(crawled: Crawled) -> None:
    by_id = {s.id: s for s in crawled.kept.values()}
    warcinfo_id = crawled.records[0].headers["WARC-Record-ID"]
    for record in crawled.records[1:]:
        snapshot = by_id[record.snapshot_id]
        ledger = [str(snapshot.id), str(snapshot.seq), snapshot.record_hash, snapshot.outcome]
        assert [record.headers[name] for name in LEDGER_HEADERS] == ledger
        assert record.headers["WARC-Warcinfo-ID"] == warcinfo_id
        assert record.headers["WARC-Date"] == warc_date(snapshot.fetched_at)
    seqs = [int(r.headers["WARC-Cchc-Seq"]) for r in crawled.records[1:]]
    assert seqs == sorted(seqs)


def test_snapshots_without_a_response_are_counted_but_write_no_record(crawled: Crawled) -> None:
    for name in ("disallowed", "foreign"):
        assert not [r for r in crawled.records if r.snapshot_id == crawled.kept[name].id]
    assert crawled.summary.skipped == 2


def test_a_redirect_loop_keeps_its_hops_though_no_final_response_came(
    tmp_path: Path, make_simulation: SimulationFactory
) -> None:
    with make_simulation(FaultSpec("phuong-3", "redirect-loop", path="/vi/news/thong-bao/")) as looping:
        target = Target(looping.url("phuong-3") + "/vi/news/thong-bao/", probe="news", unit="phuong-3")
        captures = fetch(looping, target)
    (snapshot,), summary, records = keep_and_export(tmp_path, *captures)
    assert snapshot.status_code is None and len(snapshot.redirects) == 11
    assert (summary.snapshots, summary.skipped) == (1, 0)
    hops = records[1:]
    assert [r.type for r in hops] == ["response"] * 11  # the hops are evidence of the loop; no request record
    assert [r.headers["WARC-Target-URI"] for r in hops] == [h["url"] for h in snapshot.redirects]
    assert {r.http.get_statuscode() for r in hops} == {"302"}


def test_redirect_hop_is_its_own_response_record_before_the_final_one(crawled: Crawled) -> None:
    snapshot = crawled.kept["redirected"]
    hop, final = of_snapshot(crawled.records, snapshot, "response")
    assert hop.headers["WARC-Target-URI"] == snapshot.url and snapshot.url.endswith("/tin-tuc-su-kien")
    assert hop.http.get_statuscode() == "301"
    assert hop.http.get_header("Location") == "/vi/news/tin-tuc-su-kien/"
    # The fetcher keeps a redirect's headers, not its body: the record says it is truncated.
    assert hop.payload == b"" and hop.headers["WARC-Truncated"] == "unspecified"
    assert final.headers["WARC-Target-URI"] == snapshot.final_url == snapshot.url + "/"
    (request,) = of_snapshot(crawled.records, snapshot, "request")
    assert request.http.protocol == "GET" and request.http.statusline == "/vi/news/tin-tuc-su-kien/ HTTP/1.1"


def test_post_request_record_carries_the_multipart_body_as_sent(crawled: Crawled) -> None:
    (request,) = of_snapshot(crawled.records, crawled.kept["procedures"], "request")
    assert request.http.protocol == "POST"
    assert request.http.statusline == "/api/dvc/GetDanhSachTTHCDVC HTTP/1.1"
    assert request.http.get_header("Content-Type") == f"multipart/form-data; boundary={BOUNDARY}"
    assert request.http.get_header("Content-Length") == str(len(PROCEDURE_BODY))
    assert request.http.get_header("User-Agent") == "cchc-watch/test (+mailto:t@example.invalid)"
    assert request.payload == PROCEDURE_BODY
    assert request.headers["WARC-Payload-Digest"] == sha256_label(PROCEDURE_BODY)
    (response,) = of_snapshot(crawled.records, crawled.kept["procedures"], "response")
    assert json.loads(response.payload)["status"] == 1


def test_a_post_redirected_by_a_301_is_recorded_as_the_get_that_followed(
    tmp_path: Path, simulation: Simulation
) -> None:
    form = (("Content-Type", "application/x-www-form-urlencoded"),)
    target = Target(
        simulation.url("phuong-1") + "/vi/news/tin-tuc-su-kien", method="POST", body=b"q=1", headers=form
    )
    (snapshot,), _, records = keep_and_export(tmp_path, *fetch(simulation, target))
    assert snapshot.method == "POST" and [h["status"] for h in snapshot.redirects] == [301]
    (request,) = [r for r in records if r.type == "request"]
    assert request.http.protocol == "GET" and request.http.statusline == "/vi/news/tin-tuc-su-kien/ HTTP/1.1"
    assert request.payload == b"" and request.http.get_header("Content-Type") is None


def test_a_304_becomes_a_revisit_of_the_content_it_confirmed(crawled: Crawled) -> None:
    first, again = crawled.kept["rss"], crawled.kept["rss-again"]
    (original,) = of_snapshot(crawled.records, first, "response")
    (revisit,) = of_snapshot(crawled.records, again, "revisit")
    assert revisit.headers["WARC-Profile"].endswith("/warc/1.1/revisit/identical-payload-digest")
    assert revisit.headers["WARC-Refers-To"] == original.headers["WARC-Record-ID"]
    assert revisit.headers["WARC-Refers-To-Target-URI"] == first.final_url
    assert revisit.headers["WARC-Refers-To-Date"] == warc_date(first.fetched_at)
    assert revisit.headers["WARC-Payload-Digest"] == original.headers["WARC-Payload-Digest"]
    assert revisit.http.get_statuscode() == "304" and revisit.payload == b""
    (request,) = of_snapshot(crawled.records, again, "request")
    assert request.http.get_header("If-None-Match") == original.http.get_header("ETag")


def test_warcio_check_finds_every_digest_good(crawled: Crawled) -> None:
    warcio = Path(sys.executable).parent / "warcio"
    result = subprocess.run([str(warcio), "check", str(crawled.summary.path)], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    verbose = subprocess.run(
        [str(warcio), "check", "-v", str(crawled.summary.path)], capture_output=True, text=True
    )
    checked = sum(r.type != "revisit" for r in crawled.records)
    assert verbose.returncode == 0 and verbose.stdout.count("digest pass") == checked


def test_exporting_in_small_batches_writes_the_same_records(crawled: Crawled) -> None:
    summary = export_warc(
        crawled.store.engine, crawled.store.blobs, crawled.folder / "small.warc.gz", batch_size=2
    )
    again = read_warc(summary.path)
    # Record ids come from the ledger, so two exports of the same snapshots agree record for record.
    assert [(r.type, r.headers["WARC-Record-ID"], r.payload) for r in again[1:]] == [
        (r.type, r.headers["WARC-Record-ID"], r.payload) for r in crawled.records[1:]
    ]


@pytest.mark.parametrize(
    ("filters", "selected", "exported"),
    [
        ({"since": "procedures"}, {"procedures", "redirected", "disallowed", "foreign", "rss-again"},
         {"procedures", "redirected", "rss-again"}),
        ({"until": "procedures"}, {"category", "rss"}, {"category", "rss"}),
        ({"since": "rss", "until": "redirected"}, {"rss", "procedures"}, {"rss", "procedures"}),
        ({"units": ["thanhpho"]}, {"procedures"}, {"procedures"}),
        ({"probes": ["news"]}, {"category", "rss", "redirected", "disallowed", "foreign", "rss-again"},
         {"category", "rss", "redirected", "rss-again"}),
        ({"units": ["phuong-1"], "probes": ["tthc"]}, set(), set()),
    ],
)  # fmt: skip
def test_filters_select_by_time_unit_and_probe(
    crawled: Crawled, filters: dict[str, Any], selected: set[str], exported: set[str]
) -> None:
    arguments: dict[str, Any] = {
        key: crawled.kept[value].fetched_at if key in ("since", "until") else value
        for key, value in filters.items()
    }
    out = crawled.folder / f"filtered-{uuid.uuid4().hex[:8]}.warc.gz"
    summary = export_warc(crawled.store.engine, crawled.store.blobs, out, **arguments)
    records = read_warc(out)
    ids = {name: s.id for name, s in crawled.kept.items()}
    assert summary.snapshots == len(selected)
    assert summary.skipped == len(selected - exported)
    assert {r.snapshot_id for r in records[1:]} == {ids[name] for name in exported}
    info = records[0].payload.decode("utf-8")
    if "units" in filters:
        assert f"cchc-units: {', '.join(filters['units'])}" in info
    if "since" in filters:
        assert f"cchc-since: {warc_date(arguments['since'])}" in info


def test_naive_bounds_are_refused(crawled: Crawled) -> None:
    with pytest.raises(ValueError, match="naive"):
        export_warc(
            crawled.store.engine,
            crawled.store.blobs,
            crawled.folder / "x.warc.gz",
            since=datetime(2023, 9, 1),
        )
    assert not (crawled.folder / "x.warc.gz").exists()


# --- captures the simulation cannot produce -------------------------------------------------------------


def test_browser_capture_gives_dom_and_screenshot_resources_and_subresponse_records(
    tmp_path: Path, simulation: Simulation, spec: WorldSpec
) -> None:
    # A hand-made browser capture: the page and the API answer come from real fetches, the DOM, the screenshot
    # and the sub-response list are added by hand because the browser renderer is built elsewhere (a real one
    # is tested in tests/test_crawler_browser.py).
    dvc = simulation.url("dvc_tinh")
    page_url = f"{dvc}{spec.dvc_list_page}?DonViID=356"
    page = Target(page_url, render="browser", wait_for="table tbody tr", probe="tthc", unit="thanhpho")
    multipart_type = (("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),)
    api = Target(
        dvc + "/api/dvc/GetDanhSachTTHCDVC", method="POST", body=PROCEDURE_BODY, headers=multipart_type
    )
    page_capture, api_capture = fetch(simulation, page, api)
    assert page_capture.body is not None and api_capture.body is not None and api_capture.status == 200
    filled_row = "<tbody><tr><td>Đăng ký khai sinh</td></tr>"
    dom = page_capture.body.decode("utf-8").replace("<tbody>", filled_row, 1)
    css_headers = (("Content-Type", "text/css"), ("Content-Encoding", "gzip"), ("Content-Length", "20"))
    subresponses = (
        SubResponse(api.url, "POST", 200, api_capture.response_headers, api_capture.body, "xhr"),
        SubResponse(dvc + "/static/app.css", "GET", 200, css_headers, b"body { margin: 0 }", "stylesheet"),
    )
    # As Chromium reports a gzipped document: the wire headers, with the body it hands out decoded.
    page_headers = (*page_capture.response_headers, ("Content-Encoding", "gzip"))
    browser = dataclasses.replace(page_capture, response_headers=page_headers, dom=dom, screenshot=THUMBNAIL,
                                  subresponses=subresponses)  # fmt: skip
    (snapshot,), _, records = keep_and_export(tmp_path, browser)
    types = ["warcinfo", "request", "response", "resource", "resource", "response", "response"]
    assert [r.type for r in records] == types
    page_response = records[2]
    dom_record, screenshot = records[3], records[4]
    assert dom_record.payload == dom.encode("utf-8")
    assert screenshot.payload == THUMBNAIL
    for resource, content_type, prefix in ((dom_record, "text/html; charset=utf-8", "urn:dom:"),
                                           (screenshot, "image/png", "urn:view:")):  # fmt: skip
        assert resource.headers["Content-Type"] == content_type
        assert resource.headers["WARC-Target-URI"] == prefix + snapshot.final_url == prefix + page.url
        assert resource.headers["WARC-Concurrent-To"] == page_response.headers["WARC-Record-ID"]
        assert resource.headers["WARC-Payload-Digest"] == sha256_label(resource.payload)
    api_record, css_record = records[5], records[6]
    assert api_record.headers["WARC-Target-URI"] == api.url and api_record.payload == api_capture.body
    assert css_record.headers["WARC-Target-URI"] == dvc + "/static/app.css"
    assert css_record.payload == b"body { margin: 0 }"
    # A browser hands out bodies decoded: the wire headers are kept, renamed, so no reader decodes twice.
    assert css_record.http.get_header("Content-Encoding") is None
    assert css_record.http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert page_response.http.get_header("Content-Encoding") is None
    assert page_response.http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert page_response.http.get_header("Content-Length") is None
    assert all(r.snapshot_id == snapshot.id for r in records[1:])


def test_chunked_gzip_response_keeps_its_encoding_and_renames_transfer_encoding(tmp_path: Path) -> None:
    # The simulated portals never chunk nor gzip: this capture is made by hand, as the fetcher records one.
    html = "<html><body><h1>Tin tức</h1></body></html>".encode()
    stored = gzip.compress(html, mtime=0)  # de-chunked by the fetcher, still content-encoded
    capture = Capture(
        target=Target("https://phuong1thanhpho.tayninh.gov.vn/vi/news/", probe="news", unit="phuong-1"),
        outcome=Outcome.OK,
        started_at=datetime(2023, 9, 30, 2, 15, 0, 123456, tzinfo=UTC),
        final_url="https://phuong1thanhpho.tayninh.gov.vn/vi/news/",
        request_headers=(("Host", "phuong1thanhpho.tayninh.gov.vn"), ("Accept-Encoding", "gzip, deflate")),
        status=200,
        reason="OK",
        http_version="HTTP/1.1",
        response_headers=(
            ("Content-Type", "text/html; charset=utf-8"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "gzip"),
        ),
        body=stored,
        peer="203.113.131.2:443",
    )
    _, summary, records = keep_and_export(tmp_path, capture)
    with summary.path.open("rb") as handle:
        response = next(r for r in ArchiveIterator(handle) if r.rec_type == "response")
        assert response.http_headers.get_header("Transfer-Encoding") is None
        assert response.http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
        assert response.http_headers.get_header("Content-Encoding") == "gzip"
        assert response.rec_headers.get_header("WARC-Date") == "2023-09-30T02:15:00.123456Z"
        assert response.rec_headers.get_header("WARC-IP-Address") == "203.113.131.2"
        assert response.content_stream().read() == html  # a reader decodes gzip once, and never de-chunks
    (record,) = [r for r in records if r.type == "response"]
    assert record.payload == stored and record.headers["WARC-Payload-Digest"] == sha256_label(stored)


# --- damaged evidence ----------------------------------------------------------------------------------


def crawl_one_page(store: EvidenceStore, simulation: Simulation) -> Snapshot:
    target = Target(simulation.url("phuong-2") + "/vi/news/tin-tuc-su-kien/", probe="news", unit="phuong-2")
    run = store.begin_run("test")
    assert run.id is not None
    return store.store(run.id, *fetch(simulation, target))


def test_a_corrupt_blob_fails_the_export_naming_its_digest(tmp_path: Path, simulation: Simulation) -> None:
    store = sqlite_store(tmp_path)
    snapshot = crawl_one_page(store, simulation)
    assert snapshot.id is not None and isinstance(store.blobs, LocalBlobStore)
    (link,) = [b for b in store.blob_links(snapshot.id) if b.role == "response_body"]
    store.blobs.path(link.sha256).write_bytes(zstandard.ZstdCompressor().compress(b"<html>changed</html>"))
    out = tmp_path / "corrupt.warc.gz"
    with pytest.raises(BlobCorrupt) as raised:
        export_warc(store.engine, store.blobs, out)
    store.close()
    assert raised.value.sha256 == link.sha256 and link.sha256 in str(raised.value)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_a_revisit_fails_the_export_when_the_content_it_confirms_is_corrupt(
    tmp_path: Path, simulation: Simulation
) -> None:
    store = sqlite_store(tmp_path)
    kept = crawl(store, simulation)
    again = kept["rss-again"]
    assert again.id is not None and isinstance(store.blobs, LocalBlobStore)
    (link,) = [b for b in store.blob_links(again.id) if b.role == "response_body"]
    store.blobs.path(link.sha256).write_bytes(zstandard.ZstdCompressor().compress(b"<rss>changed</rss>"))
    # Only the 304 is selected: its revisit record carries no payload, yet vouches for that content.
    with pytest.raises(BlobCorrupt) as raised:
        export_warc(store.engine, store.blobs, tmp_path / "revisit.warc.gz", since=again.fetched_at)
    store.close()
    assert raised.value.sha256 == link.sha256


def test_a_missing_blob_fails_the_export_naming_its_digest(tmp_path: Path, simulation: Simulation) -> None:
    store = sqlite_store(tmp_path)
    snapshot = crawl_one_page(store, simulation)
    assert snapshot.id is not None and isinstance(store.blobs, LocalBlobStore)
    (link,) = [b for b in store.blob_links(snapshot.id) if b.role == "response_body"]
    store.blobs.path(link.sha256).unlink()
    with pytest.raises(BlobMissing) as raised:
        export_warc(store.engine, store.blobs, tmp_path / "missing.warc.gz")
    store.close()
    assert raised.value.sha256 == link.sha256 and link.sha256 in str(raised.value)


# --- PostgreSQL ----------------------------------------------------------------------------------------


@pytest.fixture
def pg_schema_url(pg_url: str) -> Iterator[tuple[str, str]]:
    """A fresh schema per test, named in the URL's search_path, dropped afterwards."""
    schema = f"test_warc_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{separator}options=-csearch_path%3D{schema}", schema
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.mark.postgres
def test_export_from_postgresql_matches_the_evidence(
    tmp_path: Path, simulation: Simulation, pg_schema_url: tuple[str, str]
) -> None:
    url, schema = pg_schema_url
    store = open_store(url, tmp_path)
    try:
        with store.engine.connect() as connection:
            tables = set(
                connection.execute(
                    sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                    {"s": schema},
                ).scalars()
            )
        # open_database() built the schema in the test's own schema, the one the URL's search_path names.
        assert {"run", "snapshot", "snapshot_blob", "blob", "checkpoint"} <= tables
        kept = crawl(store, simulation)
        summary = export_warc(store.engine, store.blobs, tmp_path / "pg.warc.gz")
        records = read_warc(summary.path)
        assert_export_matches_the_evidence(store, kept, summary, records)
        since, until = kept["procedures"].fetched_at, kept["rss-again"].fetched_at + timedelta(microseconds=1)
        window = export_warc(store.engine, store.blobs, tmp_path / "window.warc.gz", since=since, until=until)
        assert (window.snapshots, window.skipped) == (5, 2)
    finally:
        store.close()
