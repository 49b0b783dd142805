"""What the crawler is asked to fetch (Target) and what it brings back (Capture), with its outcome class."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


class Outcome(StrEnum):
    """How one fetch attempt ended; every attempt ends in exactly one of these."""

    OK = "ok"
    HTTP_ERROR = "http-error"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection-error"
    RATE_LIMITED = "rate-limited"
    ROBOTS_DISALLOWED = "robots-disallowed"
    TOO_LARGE = "too-large"
    HOST_NOT_ALLOWED = "host-not-allowed"
    BROWSER_ERROR = "browser-error"

    @property
    def is_content(self) -> bool:
        """Only an ok capture is evidence of what a page said; the rest is evidence of a failure."""
        return self is Outcome.OK


Header = tuple[str, str]


@dataclass(frozen=True)
class BrowserStep:
    """One thing to do in the page before capturing it (choose an option of a select, click, wait)."""

    action: Literal["select", "click", "wait_for"]
    selector: str
    value: str = ""


@dataclass(frozen=True)
class Target:
    """What to fetch and how: the probe and unit are opaque labels carried through to the evidence."""

    url: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[Header, ...] = ()
    render: Literal["http", "browser"] = "http"
    wait_for: str | None = None  # browser: a CSS selector that means "the page is filled"
    steps: tuple[BrowserStep, ...] = ()
    probe: str = ""
    unit: str | None = None
    conditional: bool = False  # send If-None-Match / If-Modified-Since from the previous capture
    label: str = ""  # a stable name for this target within its probe ("category page 3"); defaults to the URL

    @property
    def key(self) -> str:
        """Stable identity of a target across runs: what conditional GET and diffs compare against."""
        body = hashlib.sha256(self.body).hexdigest()[:16] if self.body else "-"
        return f"{self.probe}|{self.unit or '-'}|{self.render}|{self.method}|{self.url}|{body}"


@dataclass(frozen=True)
class Hop:
    """One redirect on the way to the final response."""

    url: str
    status: int
    headers: tuple[Header, ...]


@dataclass(frozen=True)
class SubResponse:
    """A response a browser page loaded (the JSON behind a JavaScript-filled page is evidence too)."""

    url: str
    method: str
    status: int
    headers: tuple[Header, ...]
    body: bytes
    resource_type: str


@dataclass
class Capture:
    """Everything one attempt saw: the request as sent and the response as received, timings, the outcome."""

    target: Target
    outcome: Outcome
    started_at: datetime  # UTC, aware
    elapsed_ms: int = 0  # the whole visit: robots.txt, waits for the host's turn, retries, redirects
    # The server's time: from sending the request to the last byte of the answer kept (each redirect hop's
    # answer included, failed attempts not); None when nothing was sent.
    response_ms: int | None = None
    queue_ms: int | None = None  # waiting for the host's turn (other requests to it, politeness, Retry-After)
    attempts: int = 1
    final_url: str = ""
    request_headers: tuple[Header, ...] = ()
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    response_headers: tuple[Header, ...] = ()
    body: bytes | None = None  # as received: content-encoded, de-chunked
    # The body with its content-encoding undone, when the fetcher could within its limit (never stored:
    # it is the body's meaning, re-derivable from the body). None from a browser, or when it could not.
    content: bytes | None = None
    redirects: tuple[Hop, ...] = ()
    peer: str | None = None
    tls: dict[str, str] | None = None
    detail: str = ""
    dom: str | None = None  # browser: the rendered DOM
    screenshot: bytes | None = None  # browser: a full-page PNG
    subresponses: tuple[SubResponse, ...] = field(default_factory=tuple)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == lowered), None)
