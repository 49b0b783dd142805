"""The web app in real Chromium over real HTTP: from the overview to a unit, to an indicator's evidence, its
screenshot and the PDF summary; a captured script never runs; diacritics render in Noto Sans; access rules;
read-only SQL on SQLite and PostgreSQL; and a property-based test of the JSON API (schemathesis)."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hostile_inputs import IDS, PERIODS
from probe_helpers import pointed
from sqlmodel import Session, select

from cchc.errors import ConfigError
from cchc.settings import Settings
from cli.wiring import fetch_policy, open_store
from conftest import free_port, http_get, http_post, patient
from crawler import Capture, Outcome, Target
from evidence import Run, Snapshot
from evidence.db import create_engine
from indicators import parse_period
from probes import PROBES
from probes._runner import crawl
from reports.bundle import make_bundle
from reports.paths import bundle_path
from sim import Simulation
from web.app import create_app
from web.sql_role import grant_read_only

UNITS = ["phuong-3", "phong-tu-phap", "phuong-1"]
LOCAL = "http://127.0.0.1"  # test clients name a loopback Host: the app refuses any other (DNS rebinding)
# schemathesis gives up on a call after 10 s and cancels it, which the app answers with a 503: on a loaded machine
# an indicator table can take longer, and that is the machine, not a server error.
CALL_TIMEOUT_S = 600
SCRIPTED_PAGE = """<!DOCTYPE html><html><head><title>Trang có mã</title></head><body><h1>Nội dung đã chụp</h1>
<script>document.title = "PWNED"; try { parent.document.title = "PWNED"; } catch (e) {}
localStorage.setItem("marker", "1"); new Image().src = "MARKER/hit-script";</script>
<img src="MARKER/hit-img" onerror="new Image().src='MARKER/hit-onerror'"></body></html>"""


def local_settings(settings: Settings, folder: Path, **web: Any) -> Settings:
    return settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={
                    "database_url": f"sqlite:///{folder / 'e.sqlite3'}",
                    "blob_dir": folder / "blobs",
                    "bundle_dir": folder / "bundles",
                }
            ),
            "collector": settings.collector.model_copy(update={"key_file": folder / "k.pem"}),
            "web": settings.web.model_copy(update=web),
        }
    )


class MarkerServer(http.server.ThreadingHTTPServer):
    """Records any request: a captured page's script or image that reached out would show up here."""

    hits: list[str]


@pytest.fixture(scope="module")
def marker() -> Iterator[MarkerServer]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            collector.hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    collector = MarkerServer(("127.0.0.1", 0), Handler)
    collector.hits = []
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    yield collector
    collector.shutdown()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, simulation: Simulation, marker: MarkerServer
) -> Iterator[tuple[Settings, int]]:
    """A crawl of three units (every probe, with the browser) and a captured page with a script in it."""
    folder = tmp_path_factory.mktemp("web")
    target = local_settings(pointed(settings, simulation), folder)
    store = open_store(target)
    units = [target.unit_by_id(u) for u in UNITS]
    # Its own thread: the session's Playwright browser may already run an event loop in this one.
    worker = threading.Thread(
        target=lambda: asyncio.run(
            crawl(target, store, list(PROBES.values()), units, policy=fetch_policy(target), with_browser=True)
        )
    )
    worker.start()
    worker.join()
    # A hand-made capture: the simulation never serves a page that attacks its viewer, so this one is made here.
    run = store.begin_run("test")
    body = SCRIPTED_PAGE.replace("MARKER", f"http://127.0.0.1:{marker.server_address[1]}").encode()
    capture = Capture(Target(url=simulation.url("phuong-1") + "/vi/news/scripted/", probe="news", unit="phuong-1"), Outcome.OK,
                      datetime.now(UTC), status=200, response_headers=(("Content-Type", "text/html; charset=utf-8"),), body=body)  # fmt: skip
    scripted = store.store(run.id or 0, capture)
    store.finish_run(run.id or 0)
    store.close()
    yield target, scripted.id or 0


@pytest.fixture(scope="module")
def server(site: tuple[Settings, int]) -> Iterator[str]:
    """The app served by uvicorn over real HTTP on a free loopback port."""
    settings, _ = site
    port = free_port()
    config = uvicorn.Config(create_app(patient(settings)), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not instance.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=30)


@pytest.mark.browser
def test_from_the_overview_to_the_evidence_in_two_clicks(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(accept_downloads=True)
    try:
        page.goto(server + "/")
        assert "Chỉ số CCHC, chuyển đổi số theo đơn vị" in page.inner_text("h1")
        page.click("a.unit-link:has-text('UBND Phường 3')")  # click 1
        page.wait_for_selector("#indicators")
        assert page.inner_text("h1") == "UBND Phường 3"
        page.click("#ind-I766_2_1 a.evidence-link")  # click 2: the capture behind the on-time score
        page.wait_for_selector("#verification")
        assert page.inner_text("#verification").startswith("Đã kiểm chứng")
        assert "report_by_month_sum_service" in page.content() or "rest.jsp" in page.content()
        page.goto(server + "/units/phuong-3")
        with page.expect_download() as download:
            page.click("#summary-pdf")
        saved = tmp_path / "summary.pdf"
        download.value.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF")
    finally:
        page.close()


@pytest.mark.browser
def test_a_units_page_keeps_the_two_766_figures_apart_and_shows_a_contradicted_published_score(
    server: str, truth: dict[str, Any]
) -> None:
    html = http_get(server + "/units/phuong-3", timeout=120).text
    published = html.split('id="total-TOTAL_766"')[1].split("</tr>")[0]
    assert "Chỉ số 766 (Cổng DVCQG công bố)" in published and "/ 100" in published and "hạng" in published
    check = html.split('id="total-CHECK_766"')[1].split("</tr>")[0]
    assert "Điểm 766 kiểm chứng được" in check and "điểm tính được" in check
    assert "/ 100" not in check and "Tốt" not in check and "Khá" not in check
    cells = re.findall(r"<td[^>]*>(.*?)</td>", check, re.S)
    assert "không xếp loại" in cells[3] and cells[4].strip() == "—"  # no grade, no rank
    planted = [d for d in truth["i766_discrepancies"] if d["unit"] == "phuong-3" and d["period"] < "2023-09"]
    assert planted, "the simulation's seed plants a discrepancy for this ward in the default period"
    section = html.split('id="reconciliation"')[1]
    assert section.count("Điểm công bố lệch so với số liệu công khai") == len(planted)
    assert all(d["period"] in section for d in planted)


@pytest.mark.browser
def test_a_screenshot_of_a_browser_capture_is_shown(
    server: str, site: tuple[Settings, int], browser: Any
) -> None:
    settings, _ = site
    with Session(
        __import__("evidence.db", fromlist=["open_database"]).open_database(settings.storage.database_url)
    ) as session:
        shot = session.exec(
            select(Snapshot).where(Snapshot.render == "browser", Snapshot.outcome == "ok")
        ).first()
    assert shot is not None
    page = browser.new_page()
    try:
        page.goto(f"{server}/evidence/{shot.id}")
        page.wait_for_selector("#screenshot")
        width = page.evaluate("document.querySelector('#screenshot').naturalWidth")
        assert width >= 1000
    finally:
        page.close()


@pytest.mark.browser
def test_a_captured_script_never_runs_in_the_viewer(
    server: str, site: tuple[Settings, int], browser: Any, marker: MarkerServer
) -> None:
    _, scripted = site
    page = browser.new_page()
    try:
        page.goto(f"{server}/evidence/{scripted}")
        frame = page.wait_for_selector("#capture").content_frame()
        assert frame is not None
        frame.wait_for_selector("h1")
        # Whatever the capture would run or fetch, it does so before its load event and the network going quiet.
        frame.wait_for_load_state("load")
        page.wait_for_load_state("networkidle")
        assert frame.inner_text("h1") == "Nội dung đã chụp"
        assert page.title() == f"Bản chụp {scripted} · cchc-watch"
        assert frame.evaluate("document.title") == "Trang có mã"
        assert marker.hits == []
        direct = browser.new_page()  # opened on its own, the capture is still sandboxed by its CSP
        direct.goto(f"{server}/evidence/{scripted}/capture", wait_until="networkidle")
        assert direct.title() == "Trang có mã" and marker.hits == []
        direct.close()
    finally:
        page.close()


@pytest.mark.browser
def test_pages_render_vietnamese_in_noto_sans(server: str, browser: Any, tmp_path: Path) -> None:
    page = browser.new_page()
    try:
        page.goto(server + "/units/phuong-3")
        page.wait_for_selector("#indicators")
        session = page.context.new_cdp_session(page)
        document = session.send("DOM.getDocument", {"depth": -1})
        node = session.send(
            "DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "#ind-I766_2_1 td"}
        )
        session.send("CSS.enable")
        fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        assert [f["familyName"] for f in fonts] == ["Noto Sans"], (
            fonts
        )  # every glyph, diacritics included, from one font
        shot = tmp_path / "unit.png"
        page.screenshot(path=str(shot), full_page=True)
        from PIL import Image

        with Image.open(shot) as image:
            grey = image.convert("L")
            dark = sum(grey.histogram()[:128])
            assert dark / (grey.width * grey.height) > 0.01
        assert "Hồ sơ xử lý trước hạn, đúng hạn" in page.inner_text("#indicators")
    finally:
        page.close()


def test_pages_and_api_over_http(server: str, site: tuple[Settings, int]) -> None:
    _, scripted = site
    home = http_get(server + "/?period=2023-Q3&sort=par&dir=asc")
    assert home.status_code == 200 and "Cơ quan chuyên môn thành phố" in home.text
    assert "script-src 'none'" in home.headers["content-security-policy"]
    capture = http_get(f"{server}/evidence/{scripted}/capture")
    assert capture.headers["content-security-policy"].startswith("sandbox;")
    assert (
        http_get(f"{server}/evidence/{scripted}/raw").headers["content-disposition"].startswith("attachment")
    )
    rows = http_get(server + "/api/indicators", params={"period": "2023-09", "unit": "phuong-3"}).json()
    assert {r["unit"] for r in rows} == {"phuong-3"} and any(r["snapshot_ids"] for r in rows)
    assert http_get(server + "/api/indicators", params={"period": "2023-13"}).status_code == 400
    snapshot = http_get(
        f"{server}/api/snapshots/{rows[0]['snapshot_ids'][0] if rows[0]['snapshot_ids'] else 1}"
    ).json()
    assert snapshot["verified"] is True
    assert http_get(server + "/units/nope").status_code == 404
    assert (
        http_post(server + "/api/crawl", json={"unit": "phuong-3"}).status_code == 403
    )  # no token configured


def test_a_units_evidence_bundle_is_offered_once_the_collector_made_it(
    server: str, site: tuple[Settings, int]
) -> None:
    settings, _ = site
    missing = http_get(server + "/units/phuong-3/bundle.wacz", params={"period": "2023"}, timeout=60)
    assert missing.status_code == 404 and "cchc evidence bundle -u phuong-3 --period 2023" in missing.text
    store = open_store(settings)
    try:
        store.checkpoint(run_id=None, reason="bundle")
        made = make_bundle(settings, store.engine, store.blobs, store.signing_key(), [settings.unit_by_id("phuong-3")],
                           parse_period("2023"), bundle_path(settings, "phuong-3", parse_period("2023")))  # fmt: skip
    finally:
        store.close()
    offered = http_get(server + "/units/phuong-3/bundle.wacz", params={"period": "2023"}, timeout=60)
    assert offered.status_code == 200 and offered.headers["content-type"] == "application/wacz"
    assert hashlib.sha256(offered.content).hexdigest() == hashlib.sha256(made.path.read_bytes()).hexdigest()
    page = http_get(server + "/units/phuong-3", params={"period": "2023"}, timeout=120).text
    assert made.path.name in page and made.digest in page


def test_a_diff_against_the_previous_capture(
    server: str, site: tuple[Settings, int], simulation: Simulation
) -> None:
    settings, _ = site
    store = open_store(settings)
    try:
        run = store.begin_run("test")
        url = simulation.url("phuong-3") + "/vi/news/rss/"
        for text in ("<rss><item>một</item></rss>", "<rss><item>một</item><item>hai</item></rss>"):
            capture = Capture(Target(url=url, probe="news", unit="phuong-3", label="diff"), Outcome.OK, datetime.now(UTC),
                              status=200, response_headers=(("Content-Type", "text/xml"),), body=text.encode())  # fmt: skip
            newer = store.store(run.id or 0, capture)
        store.finish_run(run.id or 0)
    finally:
        store.close()
    page = http_get(f"{server}/evidence/{newer.id}/diff")
    assert page.status_code == 200 and "diff-add" in page.text and "hai" in page.text


@pytest.mark.parametrize(
    "query",
    ["INSERT INTO run (trigger, surprise, probes, units, started_at, status, hostname, pid, counts, note) VALUES ('x', false, '[]', '[]', '2023-01-01', 'running', 'h', 1, '{}', '')",
     "UPDATE snapshot SET outcome = 'ok'", "DROP TABLE snapshot", "DELETE FROM observation"],
)  # fmt: skip
def test_sql_refuses_writes_over_http(server: str, query: str) -> None:
    before = http_get(server + "/api/sql", params={"q": "SELECT COUNT(*) FROM snapshot"}).json()["rows"]
    refused = http_get(server + "/api/sql", params={"q": query})
    assert refused.status_code == 400 and "Chỉ được phép truy vấn đọc" in refused.json()["detail"]
    assert (
        http_get(server + "/api/sql", params={"q": "SELECT COUNT(*) FROM snapshot"}).json()["rows"] == before
    )
    page = http_get(server + "/sql", params={"q": query})
    assert page.status_code == 400 and 'id="sql-error"' in page.text


def test_sql_results_as_csv_and_json(server: str) -> None:
    query = "SELECT probe, COUNT(*) AS n FROM snapshot GROUP BY probe ORDER BY probe"
    as_csv = http_get(server + "/sql.csv", params={"q": query})
    assert as_csv.status_code == 200 and as_csv.text.splitlines()[0] == "probe,n"
    assert http_get(server + "/sql.json", params={"q": query}).json()["columns"] == ["probe", "n"]
    page = http_get(server + "/sql")
    assert "Lược đồ" in page.text and "snapshot" in page.text and "Truy vấn mẫu" in page.text


def test_a_long_query_is_stopped_at_its_timeout(
    site: tuple[Settings, int], database_url: str, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    settings, _ = site
    if database_url.startswith("sqlite"):
        target, query = (
            settings,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
        )
    else:
        target = local_settings(settings, tmp_path).model_copy(
            update={"storage": settings.storage.model_copy(update={"database_url": database_url})}
        )
        query = "SELECT pg_sleep(60)"
        engine = create_engine(database_url)  # `cchc db init-readonly`: the console's own SELECT-only role
        grant_read_only(engine, target.web.sql_role)
        engine.dispose()
    target = target.model_copy(update={"web": target.web.model_copy(update={"sql_timeout_s": 1.0})})
    with TestClient(create_app(patient(target)), base_url=LOCAL) as client:
        started = time.monotonic()
        answer = client.get("/api/sql", params={"q": query})
        assert time.monotonic() - started < 30  # the 1 s timeout, with a loaded machine's slack
        assert answer.status_code == 400 and "Truy vấn bị dừng sau 1 s" in answer.json()["detail"]
        for write in ("DROP TABLE snapshot", "UPDATE run SET note = 'x'", "CREATE TABLE t (x int)"):
            assert client.get("/api/sql", params={"q": write}).status_code == 400
        # A NUL once reached the driver and came back as a server error (found by the property test below).
        assert client.get("/api/sql", params={"q": "\x00"}).status_code == 400
        assert client.get("/api/sql", params={"q": "SELECT COUNT(*) FROM snapshot"}).status_code == 200


def test_off_loopback_the_token_is_required(site: tuple[Settings, int]) -> None:
    from fastapi.testclient import TestClient

    settings, _ = site
    with pytest.raises(ConfigError, match=r"web\.token: required to serve on 0\.0\.0\.0"):
        create_app(settings, "0.0.0.0")
    guarded = settings.model_copy(update={"web": settings.web.model_copy(update={"token": "s3cret"})})
    with TestClient(create_app(guarded, "0.0.0.0"), base_url=LOCAL) as client:
        assert client.get("/api/units").status_code == 401
        assert client.get("/api/units", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        login = client.get("/?token=s3cret", follow_redirects=False)
        assert login.status_code == 303 and "cchc_token" in login.headers["set-cookie"]
        assert client.get("/api/units").status_code == 200  # the cookie now carries the token


def test_a_surprise_crawl_needs_the_token_and_is_marked_surprise(
    site: tuple[Settings, int], tmp_path: Path, simulation: Simulation
) -> None:
    from fastapi.testclient import TestClient

    from cli.simlink import write_pointed_config

    settings, _ = site
    folder = tmp_path / "surprise"
    guarded = local_settings(settings, folder, token="s3cret")
    config = folder / "config.toml"
    pointed_back = write_pointed_config(guarded, simulation.urls, config, min_delay_s=0.0, latency_factor=0.0)
    from cchc.settings import load_settings

    loaded = load_settings(config, environ={})
    open_store(loaded).close()
    with TestClient(create_app(patient(loaded)), base_url=LOCAL) as client:
        assert (
            client.post("/api/crawl", json={"unit": "phuong-3", "probes": ["availability"]}).status_code
            == 401
        )
        started = client.post(
            "/api/crawl",
            json={"unit": "phuong-3", "probes": ["availability"]},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert started.status_code == 202
    engine = __import__("evidence.db", fromlist=["open_database"]).open_database(
        pointed_back.storage.database_url
    )
    deadline = time.monotonic() + 120
    runs: list[Run] = []
    while time.monotonic() < deadline:
        with Session(engine) as session:
            runs = list(session.exec(select(Run).where(Run.status != "running")).all())
        if runs:
            break
        time.sleep(0.5)
    assert runs and runs[0].surprise and runs[0].units == ["phuong-3"] and runs[0].trigger == "surprise"


def test_the_api_has_no_server_errors_for_any_input(site: tuple[Settings, int]) -> None:
    """Property-based (schemathesis strategies, driven by hypothesis): every operation of the OpenAPI
    description, with generated inputs, answers without a server error."""
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings

    settings, _ = site
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(settings), headers={"Host": "127.0.0.1"}
    )
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} >= {
        "/api/units",
        "/api/indicators",
        "/api/sql",
        "/api/snapshots/{snapshot_id}",
        "/api/crawl",
    }
    for operation in operations:

        @hypothesis_settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=LOCAL, timeout=CALL_TIMEOUT_S)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query}: {response.status_code} {response.text[:200]}"
                )

        check()

    # Periods and ids shaped like the hostile ones (months 13 and 00, spans of millennia, ids past 64 bits),
    # which generation from the schema alone would rarely hit.
    by_path = {op.path: op for op in operations}

    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(period=PERIODS, snapshot_id=IDS)
    def check_periods_and_ids(period: str, snapshot_id: int) -> None:
        for case in (by_path["/api/indicators"].Case(query={"period": period}),
                     by_path["/api/snapshots/{snapshot_id}"].Case(path_parameters={"snapshot_id": snapshot_id})):  # fmt: skip
            response = case.call(base_url=LOCAL, timeout=CALL_TIMEOUT_S)
            if response.status_code >= 500:
                failures.append(
                    f"{case.formatted_path} {case.query}: {response.status_code} {response.text[:200]}"
                )

    check_periods_and_ids()
    assert failures == []
