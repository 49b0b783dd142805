"""The operator's side of the web app: API docs that render in a real headless Chromium with the app's CSP and
no network, .json routes that answer errors in JSON, and /metrics for Prometheus. A real SQLite store with a
real crawl of one unit of the simulation, served by uvicorn over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, col, func, select

from cchc.settings import Settings
from cli.simlink import point_at
from cli.wiring import fetch_policy, open_store
from conftest import free_port, http_get, patient
from evidence.models import Snapshot
from probes import PROBES
from probes._runner import crawl
from sim import Simulation
from web.app import PAGE_CSP, create_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, settings: Settings, simulation: Simulation) -> Iterator[tuple[str, Settings]]:  # fmt: skip
    folder = tmp_path_factory.mktemp("ops")
    target = point_at(settings, simulation.urls).model_copy(
        update={
            "storage": settings.storage.model_copy(update={"database_url": f"sqlite:///{folder / 'e.sqlite3'}",
                                                           "blob_dir": folder / "blobs", "journal_file": folder / "j.jsonl"}),
            "collector": settings.collector.model_copy(update={"key_file": folder / "k.pem",
                                                               "witness_file": folder / "w.jsonl"}),
            "politeness": settings.politeness.model_copy(update={"min_delay_s": 0.0, "latency_factor": 0.0}),
        }
    )  # fmt: skip
    store = open_store(target)
    try:
        asyncio.run(crawl(target, store, [PROBES["availability"]], [target.unit_by_id("phuong-1")],
                          policy=fetch_policy(target), with_browser=False))  # fmt: skip
    finally:
        store.close()
    port = free_port()
    instance = uvicorn.Server(
        uvicorn.Config(create_app(patient(target)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", target
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
def test_api_docs_render_offline_under_the_csp(
    served: tuple[str, Settings], browser: Any, tmp_path: Path
) -> None:
    origin, _ = served
    response = http_get(origin + "/docs")
    assert response.status_code == 200 and response.headers["content-security-policy"] == PAGE_CSP
    assert "<script" not in response.text and "cdn" not in response.text.lower()
    context = browser.new_context()
    elsewhere: list[str] = []
    violations: list[str] = []

    def only_the_app(route: Any) -> None:
        if route.request.url.startswith(origin):
            route.continue_()
        else:  # no network: anything beyond the app is refused, and noted
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(origin + "/docs", wait_until="networkidle")
        assert page.inner_text("h1").startswith("cchc-watch API")
        routes = page.locator("table").first.inner_text()
        for path in (
            "/api/units",
            "/api/indicators",
            "/api/snapshots/{snapshot_id}",
            "/api/crawl",
            "/api/health",
        ):
            assert path in routes, path
        assert page.locator("#model-UnitOut").count() == 1
        box = page.locator("main").bounding_box()
        assert box is not None and box["height"] > 1000  # the page has content, not a blank frame
        shot = tmp_path / "docs.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
    finally:
        context.close()
    assert elsewhere == [] and violations == []


def test_json_routes_answer_errors_in_json(served: tuple[str, Settings]) -> None:
    origin, _ = served
    for path, status in (("/sql.json?q=DELETE%20FROM%20snapshot", 400), ("/sql.json", 422), ("/nope.json", 404),
                         ("/api/snapshots/999999", 404), ("/api/nope", 404)):  # fmt: skip
        response = http_get(origin + path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert "detail" in response.json(), path
    page = http_get(origin + "/evidence/999999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_metrics_count_what_the_evidence_holds(served: tuple[str, Settings]) -> None:
    origin, settings = served
    from evidence.db import open_database

    engine = open_database(settings.storage.database_url)
    try:
        with Session(engine) as session:
            by_outcome = dict(
                session.exec(select(Snapshot.outcome, func.count()).group_by(col(Snapshot.outcome))).all()
            )
    finally:
        engine.dispose()
    response = http_get(origin + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.text) for s in family.samples}  # fmt: skip
    for outcome, count in by_outcome.items():
        assert samples[("cchc_captures_total", (("outcome", outcome),))] == count
    assert samples[("cchc_evidence_snapshots", ())] == sum(by_outcome.values())
    assert (
        samples[("cchc_last_successful_run_timestamp_seconds", (("probe", "availability"),))]
        > time.time() - 3600
    )
    assert samples[("cchc_daemon_up", ())] == 0
    assert ("cchc_verify_ok", ()) not in samples  # never verified: no made-up sample
