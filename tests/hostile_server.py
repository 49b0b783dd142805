"""A hostile web server for the tests, over real HTTP on loopback: it poses as a ward's NukeViet portal and
answers some categories with what a broken or malicious site sends (the simulated portals follow the real
software, so attacks on the crawler live here instead).

    /robots.txt                 gzip-encoded (Content-Encoding: gzip); disallows /vi/news/cam/
    /vi/news/rss/               a small RSS 2.0 feed
    /vi/news/binh-thuong/       an ordinary category page: one post, older than news.since (the walk ends)
    /vi/news/bom-gzip/          a gzip bomb: BOMB_BYTES of zeros, about 1/1000 of that on the wire
    /vi/news/bang-ma-la/        a category page in a charset nobody knows
    /vi/news/nho-giot/          a slow trickle: headers, then one byte every TRICKLE_EVERY_S, never ending
    /vi/news/cam/               what robots.txt disallows (never to be requested)
    /vi/news/vo-tan/page-N/     endless pagination: every page links to the next, every post is recent
    /cookie/set, /cookie/echo   sets a session cookie; echoes the Cookie header it got

`robots_mode` switches robots.txt to a gzip bomb ("bomb") or plain text ("plain").
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import threading
import zlib
from datetime import date
from typing import Any

BOMB_BYTES = 256 * 1024 * 1024
TRICKLE_EVERY_S = 0.2
ROBOTS = b"User-agent: *\nDisallow: /vi/news/cam/\n"
UNKNOWN_CHARSET = "x-bang-ma-khong-ai-biet"


@functools.cache
def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """`size` zero bytes, gzip'd in chunks (the test process never holds them whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


def category_page(category: str, page: int, published: date, *, last: bool) -> str:
    """A NukeViet 4.5 category page (the default theme's markup) with one post and its pagination."""
    base = f"/vi/news/{category}/"
    here = base if page == 1 else f"{base}page-{page}/"
    links = f'<li class="active"><a href="javascript:void(0)">{page}</a><li>'
    if not last:
        links += f'<li><a href="{base}page-{page + 1}/" title="Trang {page + 1}">{page + 1}</a></li>'
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<meta name="generator" content="NukeViet v4.5"><title>{category} - Trang {page}</title></head><body>
<div class="news_column"><div class="panel panel-default"><div class="panel-body">
<h3><a href="/vi/news/{category}/bai-viet-{page}-{page}.html" title="Bài viết {page}">Bài viết {page}</a></h3>
<div class="text-muted"><ul class="list-unstyled list-inline">
<li><em class="fa fa-clock-o">&nbsp;</em> {published:%d/%m/%Y} 08:00:00</li></ul></div>
</div></div></div>
<div class="text-center"><ul class="pagination">{links}</ul></div><!-- {here} --></body></html>"""


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tin tức</title><link>/vi/news/</link><description>Phường</description>
<item><title>Bài viết 1</title><link>/vi/news/binh-thuong/bai-viet-1-1.html</link>
<pubDate>Mon, 15 Nov 2021 01:00:00 +0000</pubDate></item></channel></rss>"""


class HostileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    robots_mode: str
    stopping: threading.Event

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def served(self, prefix: str) -> int:
        return sum(1 for path in list(self.requests) if path.startswith(prefix))

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        if path == "/robots.txt":
            self._robots()
        elif path == "/vi/news/rss/":
            self._send(200, RSS.encode(), "application/rss+xml; charset=utf-8")
        elif path == "/vi/news/binh-thuong/":
            self._send(200, category_page("binh-thuong", 1, date(2021, 12, 15), last=True).encode())
        elif path == "/vi/news/bom-gzip/":
            self._send(200, gzip_bomb(), "text/html; charset=utf-8", [("Content-Encoding", "gzip")])
        elif path == "/vi/news/bang-ma-la/":
            page = category_page("bang-ma-la", 1, date(2021, 12, 15), last=True).encode()
            self._send(200, page, f"text/html; charset={UNKNOWN_CHARSET}")
        elif path == "/vi/news/nho-giot/":
            self._trickle()
        elif path.startswith("/vi/news/vo-tan/"):
            number = path.removeprefix("/vi/news/vo-tan/").removeprefix("page-").strip("/")
            endless = category_page(
                "vo-tan", int(number) if number.isdigit() else 1, date.today(), last=False
            )
            self._send(200, endless.encode())
        elif path == "/cookie/set":
            self._send(200, b"ok", "text/plain", [("Set-Cookie", "phien=bi-mat; Path=/")])
        elif path == "/cookie/echo":
            self._send(200, (self.headers.get("Cookie") or "").encode(), "text/plain")
        elif path.startswith("/vi/news/cam/"):
            self._send(200, category_page("cam", 1, date(2021, 12, 15), last=True).encode())
        else:
            self._send(404, b"<html><body>404</body></html>")

    def _robots(self) -> None:
        if self.server.robots_mode == "bomb":
            self._send(200, gzip_bomb(), "text/plain", [("Content-Encoding", "gzip")])
        elif self.server.robots_mode == "plain":
            self._send(200, ROBOTS, "text/plain")
        else:
            self._send(200, gzip.compress(ROBOTS), "text/plain", [("Content-Encoding", "gzip")])

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the crawler stopped reading
            self.wfile.write(body)

    def _trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while not self.server.stopping.wait(TRICKLE_EVERY_S):
                self.wfile.write(b"1\r\n \r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def start(robots_mode: str = "gzip") -> HostileServer:
    server = HostileServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    server.robots_mode = robots_mode
    server.stopping = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
