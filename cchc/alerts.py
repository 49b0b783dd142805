"""Alerts: one message per problem to a webhook (JSON POST) and/or by email (SMTP), deduplicated, or a daily
digest of them.

The same alert (kind and subject) is sent once, then again only after alerts.repeat_after_s while it lasts.
The state (what was sent when, what waits for the digest) is a small JSON file beside the evidence
(data/alerts.json), written whole and replaced atomically. A channel that is down costs a warning in the
log, never the run that raised the alert.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from cchc.settings import AlertSettings, Settings
from cchc.timeutil import VN_TZ

log = logging.getLogger("cchc.alerts")
PASSWORD_ENV = "CCHC_SMTP_PASSWORD"
MAX_PENDING = 500  # a digest lists at most this many; older ones are counted, not kept

# What an alert is about; the subject names the job, probe, host or unit.
RUN_FAILED = "run-failed"
RUN_MISSED = "run-missed"
LAYOUT_DRIFT = "layout-drift"
SITE_DOWN = "site-down"
SITE_MOVED = "site-moved"
VERIFY_FAILED = "verify-failed"
NO_DATA = "no-data"


@dataclass(frozen=True)
class Alert:
    kind: str
    subject: str  # what it is about: "probe:news", "phuong1thanhpho.tayninh.gov.vn", "phuong-3" …
    summary: str  # one line for a person
    link: str  # the web app's page for it
    at: str = field(default_factory=lambda: datetime.now(VN_TZ).isoformat(timespec="seconds"))
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"


def alerts_file(settings: Settings) -> Path:
    return settings.storage.blob_dir.parent / "alerts.json"


class Alerter:
    """Sends (or queues for the digest) the alerts of one deployment."""

    _lock = threading.Lock()  # the daemon's job threads share one state file

    def __init__(self, settings: AlertSettings, state_file: Path) -> None:
        self.settings = settings
        self.state_file = state_file

    @classmethod
    def for_settings(cls, settings: Settings) -> Alerter:
        return cls(settings.alerts, alerts_file(settings))

    def link(self, path: str) -> str:
        return self.settings.web_url.rstrip("/") + path

    def raise_alerts(self, alerts: list[Alert], now: datetime | None = None) -> list[Alert]:
        """Send the alerts not sent within repeat_after_s (or queue them for the digest); returns those."""
        if not self.settings.enabled or not alerts:
            return []
        now = now or datetime.now(UTC)
        repeat = timedelta(seconds=self.settings.repeat_after_s)
        with self._lock:
            state = self._load()
            fresh: list[Alert] = []
            for alert in alerts:
                last = state["sent"].get(alert.key)
                if last is not None and now - datetime.fromisoformat(last) < repeat:
                    continue
                if alert.key in {a.key for a in fresh}:
                    continue
                state["sent"][alert.key] = now.isoformat()
                fresh.append(alert)
            if self.settings.digest:
                state["pending"] = (state["pending"] + [asdict(a) for a in fresh])[-MAX_PENDING:]
            self._save(state)
        if fresh and not self.settings.digest:
            for alert in fresh:
                self._deliver(_one_subject(alert), _one_text(alert), {"alert": asdict(alert)})
        return fresh

    def deliver_now(self, alert: Alert) -> None:
        self._deliver(_one_subject(alert), _one_text(alert), {"alert": asdict(alert)})

    def send_digest(self) -> int:
        """Send what waits for the digest as one message; returns how many alerts it held (0: nothing sent)."""
        if not self.settings.enabled:
            return 0
        with self._lock:
            state = self._load()
            pending = [Alert(**a) for a in state["pending"]]
            state["pending"] = []
            self._save(state)
        if not pending:
            return 0
        day = datetime.now(VN_TZ).date().isoformat()
        subject = f"[cchc-watch] {len(pending)} alerts ({day})"
        text = "\n\n".join(_one_text(a) for a in pending)
        self._deliver(subject, text, {"digest": day, "alerts": [asdict(a) for a in pending]})
        return len(pending)

    # --- channels ---------------------------------------------------------------------------------------------

    def _deliver(self, subject: str, text: str, payload: dict[str, Any]) -> None:
        if self.settings.webhook_url:
            try:
                response = httpx.post(self.settings.webhook_url, json={"subject": subject, **payload},
                                      timeout=self.settings.timeout_s)  # fmt: skip
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("alert not delivered to the webhook: %s", exc, extra={"subject": subject})
        if self.settings.smtp_host and self.settings.mail_to:
            try:
                self._mail(subject, text)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("alert not delivered by email: %s", exc, extra={"subject": subject})

    def _mail(self, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = ", ".join(self.settings.mail_to)
        message["Subject"] = subject
        message.set_content(text)
        assert self.settings.smtp_host is not None
        with smtplib.SMTP(
            self.settings.smtp_host, self.settings.smtp_port, timeout=self.settings.timeout_s
        ) as smtp:
            if self.settings.smtp_starttls:
                smtp.starttls()
            if self.settings.smtp_user:
                smtp.login(self.settings.smtp_user, os.environ.get(PASSWORD_ENV, ""))
            smtp.send_message(message)

    # --- state ------------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        sent = data.get("sent") if isinstance(data.get("sent"), dict) else {}
        pending = data.get("pending") if isinstance(data.get("pending"), list) else []
        return {"sent": sent, "pending": pending}

    def _save(self, state: dict[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".alerts.", dir=self.state_file.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(state, stream, ensure_ascii=False, indent=1)
            Path(temporary).replace(self.state_file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _one_subject(alert: Alert) -> str:
    return f"[cchc-watch] {alert.kind}: {alert.subject}"


def _one_text(alert: Alert) -> str:
    return f"{alert.at} {alert.kind} {alert.subject}\n{alert.summary}\n{alert.link}"
