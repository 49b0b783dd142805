"""Alerts reach a real local SMTP server (aiosmtpd) and a real local webhook receiver: one email and one webhook
for a failed run, not repeated while it lasts, and one digest for two failures when the digest is asked for.

The failed run is real: the daemon's job (`cchc run --once`) is killed at a timeout shorter than a crawl."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from test_scheduler import daemon_config

from cchc.settings import AlertSettings, Schedule, Settings
from cli_process import run_cli
from conftest import REPO, free_port
from sim import Simulation


class Inbox:
    """aiosmtpd's handler: every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            assert self.headers.get("Content-Type", "").startswith("application/json")
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Receivers:
    """Where alerts land: the SMTP server's inbox and the webhook's posts, and their addresses."""

    mails: list[Message]
    smtp_port: int
    posts: list[dict[str, Any]]
    hook: str


@pytest.fixture
def receivers(smtp: tuple[Inbox, int], webhook: tuple[list[dict[str, Any]], str]) -> Receivers:
    (inbox, port), (posts, hook) = smtp, webhook
    return Receivers(inbox.messages, port, posts, hook)


def body_of(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def failing(probe: str) -> Schedule:
    """A job killed at its timeout: a crawl process does not even start its run in half a second."""
    return Schedule(probe=probe, cron="0 0 1 1 *", timeout_s=0.5, browser=False)


def config_with_alerts(settings: Settings, simulation: Simulation, tmp_path: Path, receivers: Receivers,
                       schedules: list[Schedule], digest: bool) -> Path:  # fmt: skip
    alerts = AlertSettings(webhook_url=receivers.hook, smtp_host="127.0.0.1", smtp_port=receivers.smtp_port,
                           mail_to=["ops@example.org"], web_url="http://cchc.example.org", digest=digest)  # fmt: skip
    return daemon_config(settings.model_copy(update={"alerts": alerts}), simulation,
                         f"sqlite:///{tmp_path / 'e.sqlite3'}", tmp_path, schedules)  # fmt: skip


def run_once(config: Path, job: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["--config", str(config), "run", "--once", job], timeout=300, cwd=REPO)


def test_a_failed_run_sends_one_email_and_one_webhook(
    settings: Settings, simulation: Simulation, tmp_path: Path, receivers: Receivers
) -> None:
    mails, posts = receivers.mails, receivers.posts
    config = config_with_alerts(
        settings, simulation, tmp_path, receivers, [failing("availability")], digest=False
    )
    first = run_once(config, "probe:availability")
    assert first.returncode == 3 and "job probe:availability: timeout" in first.stderr, first.stderr
    assert len(mails) == 1 and len(posts) == 1
    mail, post = mails[0], posts[0]
    assert (
        mail["Subject"] == "[cchc-watch] run-failed: probe:availability" and mail["To"] == "ops@example.org"
    )
    alert = post["alert"]
    assert alert["kind"] == "run-failed" and alert["subject"] == "probe:availability"
    assert "ended timeout" in alert["summary"] and alert["details"]["status"] == "timeout"
    link = urlsplit(alert["link"])
    assert link.netloc == "cchc.example.org" and link.path == "/sql"
    assert parse_qs(link.query)["q"] == [f"SELECT * FROM job_run WHERE id = {alert['details']['job_run']}"]
    assert alert["link"] in body_of(mail)
    again = run_once(config, "probe:availability")  # still failing: not sent again within repeat_after_s
    assert again.returncode == 3
    assert len(mails) == 1 and len(posts) == 1


def test_two_failures_make_one_digest(
    settings: Settings, simulation: Simulation, tmp_path: Path, receivers: Receivers
) -> None:
    mails, posts = receivers.mails, receivers.posts
    schedules = [failing("availability"), failing("news")]
    config = config_with_alerts(settings, simulation, tmp_path, receivers, schedules, digest=True)
    assert run_once(config, "probe:availability").returncode == 3
    assert run_once(config, "probe:news").returncode == 3
    assert mails == [] and posts == []  # held for the digest
    digest = run_once(config, "alerts:digest")  # the daemon's daily job, run now
    assert digest.returncode == 0, digest.stderr
    assert len(mails) == 1 and len(posts) == 1
    assert mails[0]["Subject"].startswith("[cchc-watch] 2 alerts (")
    assert sorted(a["subject"] for a in posts[0]["alerts"]) == ["probe:availability", "probe:news"]
    assert {a["kind"] for a in posts[0]["alerts"]} == {"run-failed"}
    body = body_of(mails[0])
    assert "probe:availability" in body and "probe:news" in body
    empty = run_once(config, "alerts:digest")
    assert empty.returncode == 0 and len(mails) == 1 and len(posts) == 1
