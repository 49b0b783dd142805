"""What every probe shares: the view of a snapshot a parser reads, what a parser finds, and how it fails.

A parser is a pure, versioned function `parse(view, settings) -> Parsed`: the same snapshot and settings
always give the same observations, so stored evidence can be parsed again when a parser improves.
A page that cannot be read is a recorded parse failure, never a zero:

    CchcError
     └── PageUnreadable          a snapshot no parser could read: its body undecodable, its charset unknown,
          │                      or the parser failed on it (names the parser, the URL and the reason)
          └── LayoutNotRecognised    a layout its parser does not know
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from cchc.errors import CchcError
from cchc.settings import Settings
from crawler.content import text_of


class PageUnreadable(CchcError):
    """A snapshot that could not be read: recorded as a ParseFailure."""

    def __init__(self, parser: str, url: str, reason: str) -> None:
        self.parser = parser
        self.url = url
        self.reason = reason
        super().__init__(f"{parser}: {url}: {reason}")


class LayoutNotRecognised(PageUnreadable):
    """A page or response whose layout its parser does not know."""


@dataclass(frozen=True)
class SubView:
    url: str
    status: int
    body: bytes


@dataclass(frozen=True)
class SnapshotView:
    """What a parser sees of one snapshot: the request, the response (body decoded), the browser's extras."""

    url: str
    final_url: str = ""
    method: str = "GET"
    request_headers: tuple[tuple[str, str], ...] = ()
    request_body: bytes = b""
    outcome: str = "ok"
    status: int | None = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    redirects: tuple[tuple[str, int], ...] = ()  # (url, status) of each hop
    elapsed_ms: int = 0  # the whole visit, the wait for the host's turn included
    response_ms: int | None = None  # the server's time (see response_basis)
    queue_ms: int | None = None  # the wait for the host's turn
    # "measured" (from sending the request), or how it was re-derived for a snapshot kept before it was measured
    response_basis: str = "measured"
    render: str = "http"
    dom: str | None = None
    subresponses: tuple[SubView, ...] = ()
    unit: str | None = None
    label: str = ""
    fetched_at: datetime | None = None
    snapshot_id: int | None = None
    tls: Mapping[str, str] | None = None
    # Why the body could not be decoded (too large once decoded, not the encoding it claims): the parser is
    # not run on such a view, and `body` is empty.
    body_error: str = ""

    @property
    def where(self) -> str:
        return self.final_url or self.url

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def text(self) -> str:
        return text_of(self.body, self.header("content-type"))

    def json(self) -> Any:
        return json.loads(self.body)

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query, keep_blank_values=True).items()}

    def form(self) -> dict[str, str]:
        """The request's urlencoded body (rest.jsp's params=…), or its multipart text fields."""
        content_type = next((v for k, v in self.request_headers if k.lower() == "content-type"), "")
        if "multipart/" in content_type or self.request_body.startswith(b"--"):
            return _multipart_fields(self.request_body)
        text = self.request_body.decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _multipart_fields(body: bytes) -> dict[str, str]:
    boundary = body.split(b"\r\n", 1)[0][2:]
    if not boundary:
        return {}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: multipart/form-data; boundary="' + boundary + b'"\r\n\r\n' + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    return fields


@dataclass(frozen=True)
class Found:
    """One observation a parser found: about a unit, a metric, a period (YYYY-MM, YYYY-Qn, YYYY-Hn, YYYY,
    or 'instant' for a catalogue seen at capture time)."""

    metric: str
    period: str
    unit: str | None = None
    value: float | None = None
    text: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parsed:
    found: list[Found]
    next_urls: list[str] = field(default_factory=list)  # what the walk should fetch next (pagination)


class Parser(Protocol):
    """What the session needs of a probe to read a snapshot: its name, its version and its pure parser."""

    name: str
    version: str

    def parse(self, view: SnapshotView, settings: Settings) -> Parsed: ...
