"""The simulation's two HTTP front ends (a thread per site and per connection; one event loop for every site)
speak the same HTTP/1.1 over real sockets: keep-alive, HEAD, POST bodies, every fault alike, refusals of
malformed or oversized requests, and hundreds of hosts at once."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import loopback
import pytest

from cchc.settings import Settings
from cli.simlink import world_spec
from cli.simscale import scaled_settings
from cli_process import run_cli
from conftest import REPO
from sim import FaultSpec, Simulation, WorldSpec
from sim.http import (
    MAX_BODY_BYTES,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    Request,
    Response,
    Site,
    SiteServer,
    ThreadsFrontEnd,
)
from sim.runner import FRONT_ENDS, FrontEnd, FrontEndName
from sim.serveloop import EventLoopServer


class EchoSite(Site):
    """Answers what it was asked, so a test sees the request as the site saw it."""

    server_header = "Echo"

    def handle(self, request: Request) -> Response:
        if request.path == "/big":
            return Response.text("á" * 50_000)
        page = {"method": request.method, "path": request.path, "query": request.query,
                "body": request.body.decode("utf-8"), "variant": request.variant,
                "agent": request.header("user-agent")}  # fmt: skip
        return Response.json(page)


Serve = Callable[..., AbstractContextManager[list[SiteServer]]]


def front_end_for(name: FrontEndName) -> FrontEnd:
    return EventLoopServer() if name == "event-loop" else ThreadsFrontEnd()


@pytest.fixture(params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> FrontEndName:
    name: FrontEndName = request.param
    return name


@pytest.fixture
def serve(front_end: FrontEndName) -> Serve:
    """Echo sites (echo-0, echo-1, …) served by the front end under test."""

    @contextmanager
    def serving(*faults: FaultSpec, sites: int = 1) -> Iterator[list[SiteServer]]:
        servers = [
            SiteServer(EchoSite(f"echo-{n}"), "127.0.0.1", 0, [f for f in faults if f.site == f"echo-{n}"])
            for n in range(sites)
        ]
        front = front_end_for(front_end)
        front.serve(servers)
        try:
            yield servers
        finally:
            front.stop()
            for server in servers:
                server.socket.close()

    return serving


def connect(server: SiteServer) -> socket.socket:
    return socket.create_connection(server.socket.getsockname()[:2], timeout=10)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket, buffered: bytearray) -> tuple[bytes, bytes]:
    """One response (head, body) by its Content-Length; bytes past it stay in `buffered`."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {bytes(buffered)!r}"
        buffered += chunk
    end = buffered.index(b"\r\n\r\n") + 4
    head = bytes(buffered[:end])
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    del buffered[:end]
    return head, _take(sock, buffered, length)


def _take(sock: socket.socket, buffered: bytearray, length: int) -> bytes:
    while len(buffered) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        buffered += chunk
    body = bytes(buffered[:length])
    del buffered[:length]
    return body


def get(path: str, *extra: str, method: str = "GET") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: sim", *extra, "", ""]).encode("latin-1")


def test_keep_alive_answers_several_requests_on_one_connection(serve: Serve) -> None:
    with serve() as (server,), httpx.Client() as client:
        pages = [client.get(f"{server.origin}/page-{n}").json()["path"] for n in range(4)]
    assert pages == ["/page-0", "/page-1", "/page-2", "/page-3"]
    assert len({entry.client_port for entry in server.log}) == 1  # one connection carried all four


def test_pipelined_head_has_no_body_and_the_next_answer_follows_it(serve: Serve) -> None:
    with serve() as (server,), connect(server) as sock:
        sock.sendall(get("/first", method="HEAD") + get("/second"))
        buffered = bytearray()
        while b"\r\n\r\n" not in buffered:
            buffered += sock.recv(65536)
        end = buffered.index(b"\r\n\r\n") + 4
        head_of_head = bytes(buffered[:end])
        del buffered[:end]
        # Were a body sent after HEAD's headers, the next bytes would not be the second status line.
        head, body = read_response(sock, buffered)
    assert head_of_head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert int(head_of_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0]) > 0
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and json.loads(body)["path"] == "/second"
    assert [(e.method, e.target) for e in server.log] == [("HEAD", "/first"), ("GET", "/second")]


def test_a_post_body_reaches_the_site(serve: Serve) -> None:
    form = "tên=Phường Ninh Sơn&x=1"
    with serve() as (server,):
        answer = loopback.post(server.origin + "/form", content=form.encode("utf-8")).json()
    assert answer["method"] == "POST" and answer["body"] == form


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(serve: Serve) -> None:
    with serve() as (server,), connect(server) as sock:
        sock.sendall(get("/form", "Content-Length: 5", "Expect: 100-continue", method="POST"))
        buffered = bytearray()
        while b"\r\n\r\n" not in buffered:
            buffered += sock.recv(65536)
        assert bytes(buffered).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        del buffered[: len(b"HTTP/1.1 100 Continue\r\n\r\n")]
        sock.sendall(b"hello")
        _, body = read_response(sock, buffered)
    assert json.loads(body)["body"] == "hello"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\nHost: sim\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\nHost: sim\r\n\r\n", 400),
        (b"GET /" + b"a" * MAX_REQUEST_LINE + b" HTTP/1.1\r\nHost: sim\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * (MAX_HEADERS + 1) + b"\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(), 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (b"DELETE / HTTP/1.1\r\nHost: sim\r\n\r\n", 501),
    ],
    ids=[
        "no-target",
        "space-in-target",
        "version",
        "long-line",
        "many-headers",
        "bad-name",
        "obs-fold",
        "bad-length",
        "two-lengths",
        "big-body",
        "chunked",
        "method",
    ],
)
def test_a_malformed_or_oversized_request_is_refused_and_the_connection_closed(
    serve: Serve, request_bytes: bytes, status: int
) -> None:
    with serve() as (server,), connect(server) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)  # returns only once the server has closed the connection
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"\r\nConnection: close\r\n" in answer
    assert server.log == []  # never reached the site


def test_a_head_too_large_is_refused_before_it_ends(serve: Serve) -> None:
    with serve() as (server,), connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * (70 * 1024))  # no end of head, ever
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_refused_body_still_on_its_way_does_not_reset_the_refusal(serve: Serve) -> None:
    """The server reads and drops what follows a refused head, so the client reads the 400, not an RST."""
    head = f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
    with serve() as (server,), connect(server) as sock:
        sock.sendall(head + b"x" * (1024 * 1024))
        sock.shutdown(socket.SHUT_WR)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"over 4194304" in answer


def raw_exchange(server: SiteServer, request: bytes) -> tuple[str, bytes]:
    """What a client gets for one request on a fresh connection: ("closed", bytes) or ("reset", bytes)."""
    with connect(server) as sock:
        sock.sendall(request)
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            return "reset", bytes(received)
    return "closed", bytes(received)


def without_date(answer: bytes) -> bytes:
    return b"\r\n".join(line for line in answer.split(b"\r\n") if not line.startswith(b"Date: "))


ANSWERING_FAULTS = ["http-500", "http-503", "rate-limit", "slow", "truncated", "redirect-loop", "garbage",
                    "drift", "moved", "gone-404", "gone-410", "robots-disallow", "robots-crawl-delay"]  # fmt: skip


@pytest.mark.parametrize("mode", [*ANSWERING_FAULTS, "reset"])
def test_each_fault_answers_the_same_bytes_on_both_front_ends(mode: str) -> None:
    """The same request, with the same fault, gets byte-for-byte the same answer (the Date header aside)."""
    path = "/robots.txt" if mode.startswith("robots") else "/vi/news/"
    fault = FaultSpec("echo-0", mode, delay_s=0.2, retry_after_s=9)
    request = get(path, "Connection: close", "User-Agent: test")
    answers = {}
    for name in FRONT_ENDS:
        server = SiteServer(EchoSite("echo-0"), "127.0.0.1", 0, [fault])
        server.successor_origin = "http://127.0.0.1:1"
        front = front_end_for(name)
        front.serve([server])
        try:
            started = time.monotonic()
            outcome, answer = raw_exchange(server, request)
            took = time.monotonic() - started
        finally:
            front.stop()
            server.socket.close()
        answers[name] = (outcome, without_date(answer))
        assert [(e.status, e.fault) for e in server.log] == [
            (0 if mode == "reset" else int(answer.split(b" ")[1]), mode)
        ]
        if mode == "slow":
            assert took >= 0.2
    assert answers["threads"] == answers["event-loop"]
    if mode == "reset":
        assert answers["threads"] == ("reset", b"")
    if mode == "truncated":
        head, _, body = answers["threads"][1].partition(b"\r\n\r\n")
        assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == 2 * len(body)


def test_a_hung_request_holds_up_no_other_site_and_is_logged_when_the_simulation_stops(serve: Serve) -> None:
    with serve(FaultSpec("echo-0", "hang"), sites=2) as (hung, other), connect(hung) as sock:
        sock.sendall(get("/stuck"))
        while hung.faults[0].matched == 0:  # the request has reached the fault
            time.sleep(0.01)
        assert loopback.get(other.origin + "/free").status_code == 200
        readable, _, _ = select.select([sock], [], [], 0)
        assert readable == []  # still nothing for the hung request
        assert hung.log == []  # a hung request is logged when it ends
    assert [(e.target, e.status, e.fault) for e in hung.log] == [("/stuck", 0, "hang")]


def test_stopping_wakes_a_slow_answer_and_logs_it(front_end: FrontEndName) -> None:
    server = SiteServer(EchoSite("echo-0"), "127.0.0.1", 0, [FaultSpec("echo-0", "slow", delay_s=600)])
    front = front_end_for(front_end)
    front.serve([server])
    try:
        with connect(server) as sock:
            sock.sendall(get("/late"))
            while server.faults[0].matched == 0:  # the request is waiting out its delay
                time.sleep(0.01)
            started = time.monotonic()
            front.stop()
            stopped_s = time.monotonic() - started
    finally:
        server.socket.close()
    assert stopped_s < 30
    assert [(e.target, e.status, e.fault) for e in server.log] == [("/late", 200, "slow")]


@pytest.mark.parametrize("delay_s", [0.3, 600], ids=["answered", "stopped"])
def test_a_slow_answer_whose_client_left_is_still_logged(front_end: FrontEndName, delay_s: float) -> None:
    """A client that gives up on a slow answer still leaves its request in the log: with its status once the
    answer is made, or when the simulation stops first."""
    server = SiteServer(EchoSite("echo-0"), "127.0.0.1", 0, [FaultSpec("echo-0", "slow", delay_s=delay_s)])
    front = front_end_for(front_end)
    front.serve([server])
    try:
        with connect(server) as sock:
            sock.sendall(get("/given-up"))
            while server.faults[0].matched == 0:
                time.sleep(0.01)
        if delay_s < 1:
            deadline = time.monotonic() + 30
            while not server.log and time.monotonic() < deadline:  # the answer is made after the delay
                time.sleep(0.01)
    finally:
        front.stop()
        server.socket.close()
    assert [(e.target, e.status, e.fault) for e in server.log] == [("/given-up", 200, "slow")]


def test_a_slow_site_holds_up_no_other_site(serve: Serve) -> None:
    async def both(origin: str, other: str) -> tuple[float, float]:
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()

            async def timed(url: str) -> float:
                response = await client.get(url)
                assert response.status_code == 200
                return time.monotonic() - started

            slow, fast = await asyncio.gather(timed(origin + "/slow"), timed(other + "/fast"))
            return slow, fast

    with serve(FaultSpec("echo-0", "slow", delay_s=1.5), sites=2) as (slow_site, other):
        slow_s, fast_s = asyncio.run(both(slow_site.origin, other.origin))
    assert slow_s >= 1.5 and fast_s < slow_s


def test_an_idle_keep_alive_connection_is_closed(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.http.IDLE_TIMEOUT_S", 0.3)
    monkeypatch.setattr("sim.serveloop.IDLE_TIMEOUT_S", 0.3)
    monkeypatch.setattr("sim.serveloop.SWEEP_EVERY_S", 0.1)
    with serve() as (server,), connect(server) as sock:
        sock.sendall(get("/once"))
        buffered = bytearray()
        head, _ = read_response(sock, buffered)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert sock.recv(1) == b""  # waits for the server to close the idle connection


def test_many_hosts_at_once_are_all_answered_and_logged(
    scaled_spec: WorldSpec, front_end: FrontEndName
) -> None:
    async def crawl(urls: list[str]) -> list[int]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            responses = await asyncio.gather(*(client.get(url) for url in urls))
        return [r.status_code for r in responses]

    with Simulation(scaled_spec, front_end=front_end) as simulation:
        urls = [f"{simulation.url(p.id)}{path}" for p in scaled_spec.portals
                for path in ("/robots.txt", "/vi/news/tin-tuc-su-kien/")]  # fmt: skip
        statuses = asyncio.run(crawl(urls))
        logged = {p.id: [(e.target, e.status) for e in simulation.log(p.id)] for p in scaled_spec.portals}
    assert statuses == [200] * len(urls) == [200] * 600
    assert all(
        sorted(entries) == [("/robots.txt", 200), ("/vi/news/tin-tuc-su-kien/", 200)]
        for entries in logged.values()
    )


@pytest.fixture(scope="module")
def scaled_spec(settings: Settings) -> WorldSpec:
    return world_spec(scaled_settings(settings, 300))


def test_an_unknown_front_end_is_refused_in_one_line(tmp_path: Path, spec: WorldSpec) -> None:
    done = run_cli(
        ["--config", str(REPO / "config.toml"), "sim", "--front-end", "fibres",
         "--no-serve", "--write-config", str(tmp_path / "sim.toml")],
        timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "expected threads or event-loop, got 'fibres'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "sim.toml").exists()
    with pytest.raises(ValueError, match="front_end: expected one of threads, event-loop"):
        Simulation(spec, front_end="fibres")  # type: ignore[arg-type]
