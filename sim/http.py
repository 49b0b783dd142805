"""A small threaded HTTP/1.1 server for the simulated sites, with fault injection and a request log.

Each simulated site is its own origin (its own port), so per-host politeness and robots.txt are real.
Faults are applied here, below the sites, because several of them (reset, hang, truncation) need the socket.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import random
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sim.spec import FaultSpec

HOST_LEVEL_FAULTS = frozenset({"moved", "gone-404", "gone-410", "refused"})
ROBOTS_FAULTS = frozenset({"robots-disallow", "robots-crawl-delay"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_port: int
    variant: str = "normal"  # "drift" when a markup-drift fault applies to this request

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body."""
        return {
            k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }

    def multipart(self) -> dict[str, str]:
        """The text fields of a multipart/form-data body."""
        content_type = self.header("content-type")
        if not content_type.startswith("multipart/form-data"):
            return {}
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + self.body
        )
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8", "replace")
        return fields

    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.header("cookie"))
        except Exception:
            return {}
        return {k: m.value for k, m in jar.items()}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    etag: bool = False  # offer an ETag and answer If-None-Match with 304

    @classmethod
    def html(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status=status, body=text.encode("utf-8"), **kw)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Response:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status=status, body=body, content_type="application/json; charset=utf-8")

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status=status, body=text.encode("utf-8"), content_type=content_type)

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Response:
        body = f'<html><body>Moved: <a href="{location}">{location}</a></body></html>'
        return cls(status=status, body=body.encode(), headers=[("Location", location)])


class Site:
    """A simulated site: answers requests; the server around it injects faults and keeps the log."""

    server_header: str = "Apache"

    def __init__(self, site_id: str) -> None:
        self.id = site_id
        self.origin = ""  # set by the runner once the port is bound
        self.trap_calls: list[str] = []  # write/personal-data endpoints that a polite crawler never calls

    def trap(self, request: Request) -> None:
        self.trap_calls.append(f"{request.method} {request.path}")

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def robots_txt(self) -> str:
        return "User-agent: *\nDisallow:\n"

    def retired_page(self) -> str:
        return "<html><head><title>Trang không tồn tại</title></head><body><h1>404</h1></body></html>"


@dataclass
class LogEntry:
    site: str
    method: str
    target: str
    started: float  # time.monotonic()
    finished: float
    status: int  # 0 when no status line was sent (reset, hang)
    user_agent: str
    client_port: int
    fault: str | None


class FaultState:
    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.matched = 0
        self.lock = threading.Lock()

    def applies(self, path: str) -> bool:
        if self.spec.path is not None and not path.startswith(self.spec.path):
            return False
        if (
            path == "/robots.txt"
            and self.spec.mode not in HOST_LEVEL_FAULTS
            and self.spec.path != "/robots.txt"
        ):
            return self.spec.mode in ROBOTS_FAULTS
        if self.spec.mode in ROBOTS_FAULTS:
            return path == "/robots.txt"
        with self.lock:
            self.matched += 1
            n = self.matched
        if self.spec.first is not None:
            return n <= self.spec.first
        if self.spec.every is not None:
            return n % self.spec.every == 0
        return True


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, site: Site, host: str, port: int, faults: list[FaultSpec]) -> None:
        self.site = site
        self.faults = [FaultState(f) for f in faults]
        self.log: list[LogEntry] = []
        self.log_lock = threading.Lock()
        self.stopping = threading.Event()
        self.successor_origin: str | None = None
        super().__init__((host, port), _Handler)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def record(self, entry: LogEntry) -> None:
        with self.log_lock:
            self.log.append(entry)

    def fault_for(self, path: str) -> FaultSpec | None:
        for state in self.faults:
            if state.applies(path):
                return state.spec
        return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a crawler's timeout, a test that stops reading) is the client's
        # business, as it is for a real web server: no traceback on stderr. Anything else is still printed.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and delayed ACKs add 40 ms each.
    disable_nagle_algorithm = True
    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server keeps a structured log instead

    def version_string(self) -> str:
        return self.server.site.server_header

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_port=self.client_address[1],
        )
        fault = self.server.fault_for(request.path)
        status = 0
        self._last_byte_at: float | None = None
        self._logged = False
        self._request, self._started, self._fault = request, started, fault
        try:
            status = self._answer(request, fault)
        finally:
            self._log(status)

    def _log(self, status: int) -> None:
        """Record the request once: before the last bytes go out (so a client that has its response always
        finds it in the log), or when the request ends without a response (reset, hang)."""
        if self._logged:
            return
        self._logged = True
        request = self._request
        self.server.record(
            LogEntry(
                site=self.server.site.id,
                method=request.method,
                target=self.path,
                started=self._started,
                finished=self._last_byte_at or time.monotonic(),
                status=status,
                user_agent=request.header("user-agent"),
                client_port=request.client_port,
                fault=self._fault.mode if self._fault else None,
            )
        )

    def _answer(self, request: Request, fault: FaultSpec | None) -> int:
        mode = fault.mode if fault else None
        if fault is not None and mode == "reset":
            # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return 0
        if fault is not None and mode == "hang":
            self.server.stopping.wait(timeout=3600)
            self.close_connection = True
            return 0
        if fault is not None and mode == "slow":
            self.server.stopping.wait(timeout=fault.delay_s)
        if fault is not None and mode == "drift":
            request.variant = "drift"
        response = self._respond_to(request, fault)
        truncate = fault is not None and mode == "truncated"
        self._write(request, response, truncate=truncate)
        return response.status

    def _respond_to(self, request: Request, fault: FaultSpec | None) -> Response:
        site = self.server.site
        mode = fault.mode if fault else None
        retry_after = str(round(fault.retry_after_s)) if fault else "1"
        if mode == "http-500":
            return Response.html("<html><body><h1>500 Internal Server Error</h1></body></html>", 500)
        if mode == "http-503":
            page = "<html><body><h1>503 Service Unavailable</h1><p>Hệ thống đang bảo trì.</p></body></html>"
            return Response.html(page, 503, headers=[("Retry-After", retry_after)])
        if mode == "rate-limit":
            return Response.html("<html><body><h1>429 Too Many Requests</h1></body></html>", 429,
                                 headers=[("Retry-After", retry_after)])  # fmt: skip
        if mode == "redirect-loop":
            looped = "loop" in request.query
            return Response.redirect(request.path if looped else request.path + "?loop=1", 302)
        if mode == "garbage":
            rng = random.Random(request.path)
            noise = bytes(rng.randrange(256) for _ in range(2048))
            return Response(200, b"\x00\x1f<<<" + noise + b">>>")
        if mode == "moved":
            target = (self.server.successor_origin or "http://127.0.0.1:9") + self.path
            return Response.redirect(target, 301)
        if mode in ("gone-404", "gone-410"):
            return Response.html(site.retired_page(), 404 if mode == "gone-404" else 410)
        if request.path == "/robots.txt":
            text = site.robots_txt()
            if mode == "robots-disallow":
                text = "User-agent: *\nDisallow: /\n"
            elif mode == "robots-crawl-delay" and fault is not None:
                text = text.replace("User-agent: *\n", f"User-agent: *\nCrawl-delay: {fault.delay_s:g}\n", 1)
            return Response.text(text)
        try:
            return site.handle(request)
        except Exception as exc:  # a bug in a simulated site must show, not hang the client
            return Response.text(f"simulated site error: {exc!r}", 500)

    def _write(self, request: Request, response: Response, *, truncate: bool) -> None:
        body = response.body
        etag = (
            '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            if response.etag and response.status == 200
            else None
        )
        if etag is not None and request.header("if-none-match") == etag:
            response = Response(304, b"", response.content_type)
            body = b""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag is not None:
            self.send_header("ETag", etag)
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        # Taken before the last write: the client cannot have the whole response earlier, so a gap measured
        # from here to the next request's start is never longer than the gap the client really left.
        self._last_byte_at = time.monotonic()
        self._log(response.status)
        if request.method == "HEAD":
            return
        if truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


def serve_in_thread(server: SiteServer, poll_interval: float = 0.1) -> threading.Thread:
    """Serve until shutdown(), which waits up to poll_interval for the loop to notice."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.name = f"sim-{server.site.id}"
    thread.start()
    return thread
