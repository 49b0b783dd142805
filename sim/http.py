"""HTTP/1.1 for the simulated sites: reading requests, fault injection, the request log, and the threads front
end (sim/serveloop.py is the event-loop one); both answer through one Exchange.

Each simulated site is its own origin (its own port), so per-host politeness and robots.txt are real.
Faults are applied here, below the sites, because several of them (reset, hang, truncation) need the socket.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hashlib
import json
import random
import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from http import HTTPStatus
from http.cookies import SimpleCookie
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


class SiteServer:
    """One site on the network: its listening socket, its faults and its request log. A front end (threads, or
    one event loop for every site) carries the bytes; what is answered is decided by an Exchange."""

    def __init__(self, site: Site, host: str, port: int, faults: list[FaultSpec]) -> None:
        self.site = site
        self.faults = [FaultState(f) for f in faults]
        self.log: list[LogEntry] = []
        self.log_lock = threading.Lock()
        self.stopping = threading.Event()  # wakes the threads front end's hung and slow answers
        self.successor_origin: str | None = None
        self.socket = listening_socket(host, port)

    @property
    def origin(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host!s}:{port}"

    def record(self, entry: LogEntry) -> None:
        with self.log_lock:
            self.log.append(entry)

    def fault_for(self, path: str) -> FaultSpec | None:
        for state in self.faults:
            if state.applies(path):
                return state.spec
        return None


def listening_socket(host: str, port: int, backlog: int = 256) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a fixed port_base, right after a demo
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


# --- reading requests: one parser for both front ends ---------------------------------------------------------

MAX_REQUEST_LINE = 16 * 1024
MAX_HEAD_BYTES = 64 * 1024  # the request line and every header line
MAX_HEADERS = 100
MAX_BODY_BYTES = 4 * 1024 * 1024  # the sites take small forms and JSON
METHODS = frozenset({"GET", "HEAD", "POST"})
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class RawRequest:
    """A request as read off the wire, before the site's view of it (Request)."""

    method: str
    target: str
    headers: list[tuple[str, str]]  # in order, names as sent, values latin-1 as http.client reads them
    body: bytes
    keep_alive: bool


@dataclass(frozen=True)
class BadRequest:
    """A request we refuse to read further: answered, then the connection is closed."""

    reason: str
    status: int = 400


class RequestParser:
    """Bytes in, requests out (HTTP/1.1 with keep-alive and pipelining), with bounded sizes. No I/O, so that
    the threads and the event-loop front ends read requests identically."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[str, str, list[tuple[str, str]], int, bool, bool] | None = None
        self._continue_sent = False
        self.failed = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def wants_continue(self) -> bool:
        """True once, when a client that sent `Expect: 100-continue` waits for leave to send its body."""
        if self._head is None or self._continue_sent or not self._head[5]:
            return False
        self._continue_sent = True
        return True

    def next(self) -> RawRequest | BadRequest | None:
        """The next whole request, a BadRequest (the parser is then done), or None: more bytes needed."""
        if self.failed:
            return None
        if self._head is None:
            head = self._read_head()
            if head is None or isinstance(head, BadRequest):
                self.failed = isinstance(head, BadRequest)
                return head
            self._head = head
        method, target, headers, length, keep_alive, _ = self._head
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._head = None
        self._continue_sent = False
        return RawRequest(method, target, headers, body, keep_alive)

    def _read_head(
        self,
    ) -> tuple[str, str, list[tuple[str, str]], int, bool, bool] | BadRequest | None:
        while self._buffer[:2] == b"\r\n" or self._buffer[:1] == b"\n":  # RFC 9112 2.2: ignore leading CRLFs
            del self._buffer[: 2 if self._buffer[:1] == b"\r" else 1]
        end = _HEAD_END.search(self._buffer)
        if end is None:
            first = self._buffer.find(b"\n")
            if (first < 0 and len(self._buffer) > MAX_REQUEST_LINE) or first > MAX_REQUEST_LINE:
                return BadRequest("request line too long")
            if len(self._buffer) > MAX_HEAD_BYTES:
                return BadRequest("request header fields too large")
            return None
        if end.start() > MAX_HEAD_BYTES:
            return BadRequest("request header fields too large")
        lines = bytes(self._buffer[: end.start()]).split(b"\n")
        del self._buffer[: end.end()]
        request_line = lines[0].rstrip(b"\r")
        if len(request_line) > MAX_REQUEST_LINE:
            return BadRequest("request line too long")
        words = request_line.split(b" ")
        if len(words) != 3 or not _TOKEN.fullmatch(words[0]) or not words[1]:
            return BadRequest(f"bad request line {request_line[:80]!r}")
        raw_method, raw_target, version = words
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            return BadRequest(f"bad HTTP version {version[:20]!r}")
        if any(c < 0x21 or c == 0x7F for c in raw_target):
            return BadRequest("bad request target")
        method = raw_method.decode("ascii")
        if method not in METHODS:
            return BadRequest(f"unsupported method {method!r}", 501)
        target = raw_target.decode("latin-1")
        if target.startswith("//"):  # as http.server does: never read as a scheme-relative URL
            target = "/" + target.lstrip("/")
        if len(lines) - 1 > MAX_HEADERS:
            return BadRequest("too many headers")
        headers: list[tuple[str, str]] = []
        for raw in lines[1:]:
            line = raw.rstrip(b"\r")
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):  # also refuses obs-fold and a space before the colon
                return BadRequest(f"bad header line {line[:80]!r}")
            headers.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))
        fields = {n.lower(): v for n, v in headers}
        if "transfer-encoding" in fields:
            return BadRequest("request bodies in a transfer coding are not supported", 501)
        lengths = {v.strip() for n, v in headers if n.lower() == "content-length"}
        length = 0
        if lengths:
            text = lengths.pop()
            if lengths or not text.isdigit() or not text.isascii():
                return BadRequest("bad Content-Length")
            length = int(text)
            if length > MAX_BODY_BYTES:
                return BadRequest(f"body of {length} bytes is over {MAX_BODY_BYTES}")
        tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
        keep_alive = "keep-alive" in tokens if version == b"HTTP/1.0" else "close" not in tokens
        expects = fields.get("expect", "").lower() == "100-continue" and length > 0
        return method, target, headers, length, keep_alive, expects


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def refusal(bad: BadRequest, server_header: str) -> bytes:
    """The answer to a request we will not read further (the connection is then closed)."""
    body = f"<html><body><h1>{bad.status} {_phrase(bad.status)}</h1><p>{escape(bad.reason)}</p></body></html>"
    data = body.encode("utf-8")
    headers = [("Server", server_header), ("Date", formatdate(usegmt=True)),
               ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))),
               ("Connection", "close")]  # fmt: skip
    return _status_and_headers(bad.status, headers) + data


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _status_and_headers(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", *(f"{n}: {v}" for n, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


# --- one request and its answer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """The bytes to send (status line, headers and body, cut short under `truncated`), and whether to close."""

    status: int
    data: bytes
    close: bool


class Exchange:
    """One request to one site and its answer: the fault that applies, the site's response, the bytes on the
    wire, the log entry. Front ends only carry bytes and wait: before answering, `pause_s` (slow); instead of
    answering, `drop` (reset: close with RST; hang: answer nothing until the simulation stops)."""

    def __init__(self, server: SiteServer, raw: RawRequest, client_port: int) -> None:
        self.started = time.monotonic()
        self.server = server
        self.raw = raw
        parts = urlsplit(raw.target)
        self.request = Request(
            method=raw.method,
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in raw.headers},
            body=raw.body,
            client_port=client_port,
        )
        self.fault = server.fault_for(self.request.path)
        self._logged = False

    @property
    def drop(self) -> str | None:
        """ "reset" or "hang" when the request gets no answer at all."""
        mode = self.fault.mode if self.fault else None
        return mode if mode in ("reset", "hang") else None

    @property
    def pause_s(self) -> float:
        return self.fault.delay_s if self.fault is not None and self.fault.mode == "slow" else 0.0

    def abandon(self) -> None:
        """Log the request as answered by no status line (reset, hang)."""
        self._log(0, time.monotonic())

    def reply(self) -> Reply:
        """Run the site and build the answer. The request is logged here, before the bytes go out, so a client
        that has its response always finds it in the log; `finished` is taken before the last write, so a gap
        measured from it to the next request's start is never longer than the gap the client really left."""
        request, fault = self.request, self.fault
        if fault is not None and fault.mode == "drift":
            request.variant = "drift"
        response = self._respond()
        body = response.body
        etag = (
            '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            if response.etag and response.status == 200
            else None
        )
        if etag is not None and request.header("if-none-match") == etag:
            response = Response(304, b"", response.content_type)
            body = b""
        try:
            head = self._head(response, body, etag)
        except UnicodeEncodeError as exc:  # http.server would drop the connection; a site bug must show
            response = Response.text(f"simulated site error: header {exc!r}", 500)
            body, head = response.body, self._head(response, response.body, None)
        truncated = self.fault is not None and self.fault.mode == "truncated"
        if request.method == "HEAD":
            data = head
        elif truncated:  # a full Content-Length, half the body, then close
            data = head + body[: len(body) // 2]
        else:
            data = head + body
        self._log(response.status, time.monotonic())
        return Reply(response.status, data, close=truncated or not self.raw.keep_alive)

    def _head(self, response: Response, body: bytes, etag: str | None) -> bytes:
        headers = [("Server", self.server.site.server_header), ("Date", formatdate(usegmt=True)),
                   ("Content-Type", response.content_type), ("Content-Length", str(len(body)))]  # fmt: skip
        if etag is not None:
            headers.append(("ETag", etag))
        return _status_and_headers(response.status, headers + response.headers)

    def _respond(self) -> Response:
        site, request, fault = self.server.site, self.request, self.fault
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
            target = (self.server.successor_origin or "http://127.0.0.1:9") + self.raw.target
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

    def _log(self, status: int, finished: float) -> None:
        if self._logged:
            return
        self._logged = True
        request = self.request
        self.server.record(
            LogEntry(
                site=self.server.site.id,
                method=request.method,
                target=self.raw.target,
                started=self.started,
                finished=finished,
                status=status,
                user_agent=request.header("user-agent"),
                client_port=request.client_port,
                fault=self.fault.mode if self.fault else None,
            )
        )


def close_with_reset(sock: Any) -> None:
    """Make the socket's close send RST (SO_LINGER with a zero timeout): the client sees a reset connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --- the threads front end: a serve thread per site, a thread per connection --------------------------------

# A keep-alive connection with no request for this long is closed (both front ends): far longer than any
# crawler's pause between two requests to one host, and Apache's own default is 5 s.
IDLE_TIMEOUT_S = 120.0
LINGER_S = 2.0  # after a refusal, how long what the client still sends is read and dropped


class _ThreadedListener(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True

    def __init__(self, server: SiteServer) -> None:
        super().__init__(server.socket.getsockname()[:2], _ConnectionHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = server.socket
        self.site_server = server
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Close every open connection and wait for its thread, so that what it logs on its way out (a hung
        request) is in the log when stop() returns."""
        with self.connections_lock:
            open_now = dict(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in open_now.values():
            thread.join(timeout=10)


class _ConnectionHandler(socketserver.BaseRequestHandler):
    server: _ThreadedListener
    request: socket.socket

    def handle(self) -> None:
        listener, connection = self.server, self.request
        with listener.connections_lock:
            listener.connections[connection] = threading.current_thread()
        try:
            # The status line and body go out in one write, but a client's next request should not wait on
            # Nagle and delayed ACKs either.
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(IDLE_TIMEOUT_S)
            self._serve(listener.site_server, connection)
        except (ConnectionError, TimeoutError, OSError):
            pass  # a client that hangs up or idles is the client's business, as for a real web server
        finally:
            with listener.connections_lock:
                listener.connections.pop(connection, None)

    def _serve(self, server: SiteServer, connection: socket.socket) -> None:
        parser = RequestParser()
        while not server.stopping.is_set():
            item = parser.next()
            if item is None:
                if parser.wants_continue():
                    connection.sendall(CONTINUE)
                data = connection.recv(65536)
                if not data:
                    return
                parser.feed(data)
                continue
            if isinstance(item, BadRequest):
                connection.sendall(refusal(item, server.site.server_header))
                _linger(connection)
                return
            exchange = Exchange(server, item, self.client_address[1])
            if exchange.drop == "reset":
                exchange.abandon()
                close_with_reset(connection)
                connection.close()
                return
            if exchange.drop == "hang":
                server.stopping.wait(timeout=3600)
                exchange.abandon()
                return
            if exchange.pause_s:
                server.stopping.wait(timeout=exchange.pause_s)
            reply = exchange.reply()
            connection.sendall(reply.data)
            if reply.close:
                return


def _linger(connection: socket.socket) -> None:
    """Close after a refusal only once the client has stopped sending: a close with unread bytes sends RST,
    which can destroy the refusal before the client reads it (a lingering close, as Apache does)."""
    connection.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + LINGER_S
    while time.monotonic() < deadline:
        connection.settimeout(max(deadline - time.monotonic(), 0.01))
        if not connection.recv(65536):
            return


class ThreadsFrontEnd:
    """A serve thread per site and a thread per connection (ThreadingMixIn): the simplest server, enough for
    tens of sites."""

    def __init__(self) -> None:
        self.listeners: dict[str, _ThreadedListener] = {}
        self.threads: dict[str, threading.Thread] = {}

    def serve(self, servers: list[SiteServer]) -> None:
        # Each serve loop wakes every poll interval to see whether it must stop: thousands of sites would
        # keep a core busy with that alone, so they wake less often.
        poll_interval = 0.1 if len(servers) <= 100 else 1.0
        for server in servers:
            listener = _ThreadedListener(server)
            self.listeners[server.site.id] = listener
            self.threads[server.site.id] = serve_in_thread(listener, server.site.id, poll_interval)

    def withdraw(self, server: SiteServer) -> None:
        """Take one site off the network: its port refuses connections and its open connections close."""
        server.stopping.set()
        listener = self.listeners.pop(server.site.id)
        listener.shutdown()
        listener.server_close()
        listener.close_connections()
        self.threads.pop(server.site.id).join()

    def stop(self) -> None:
        listeners = list(self.listeners.values())
        for listener in listeners:
            listener.site_server.stopping.set()
        # shutdown() waits for its serve loop to notice; waiting for all at once keeps stop() short.
        stoppers = [threading.Thread(target=listener.shutdown) for listener in listeners]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for listener in listeners:
            listener.server_close()
            listener.close_connections()
        self.listeners.clear()
        self.threads.clear()


def serve_in_thread(
    listener: socketserver.BaseServer, name: str, poll_interval: float = 0.1
) -> threading.Thread:
    """Serve until shutdown(), which waits up to poll_interval for the loop to notice."""
    thread = threading.Thread(
        target=listener.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.name = f"sim-{name}"
    thread.start()
    return thread
