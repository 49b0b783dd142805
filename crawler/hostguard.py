"""Chromium's own refusal of hosts not allowed: a browser context whose proxy is a port nothing listens on, with
the allowed hosts bypassing it. Every connection the context would open to another host (a redirect's next
hop, a popup, a preconnect, a WebSocket, a worker) goes to that proxy and fails there, with no pause of any
request and no round trip to Python; the page's route stays as the check that names what it refused."""

from __future__ import annotations

import socket
from types import TracebackType
from urllib.parse import urlsplit

from playwright.async_api import ProxySettings

from crawler.cookies import DEFAULT_PORTS

# What Chromium reports for a request sent to the dead proxy: only ever a host the bypass list leaves out.
REFUSED_ERRORS = frozenset({"ERR_PROXY_CONNECTION_FAILED", "ERR_TUNNEL_CONNECTION_FAILED"})


class ClosedPort:
    """A loopback port bound and never listened on: nobody else can take it, and every connection to it is
    refused at once, so a request sent there contacts nothing."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])

    def proxy(self, allowed_hosts: frozenset[str]) -> ProxySettings:
        """Playwright's proxy setting for a context that may reach only `allowed_hosts` (host[:port] keys)."""
        return {"server": f"http://127.0.0.1:{self.port}", "bypass": bypass_list(allowed_hosts)}

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def bypass_list(allowed_hosts: frozenset[str]) -> str:
    """Chromium's proxy bypass rules for the allowed hosts, each with its port (a host key without a port means
    the scheme's default one), and `<-loopback>` so that loopback is not bypassed implicitly."""
    rules = ["<-loopback>"]
    for key in sorted(allowed_hosts):
        host, port = _split(key)
        if port is None:
            rules += [f"{scheme}://{host}:{default}" for scheme, default in sorted(DEFAULT_PORTS.items())]
        else:
            rules.append(f"{host}:{port}")
    return ",".join(rules)


def _split(key: str) -> tuple[str, int | None]:
    """A host key's host (IPv6 in brackets, as bypass rules write it) and port."""
    parts = urlsplit(f"//{key}") if not _bare_ipv6(key) else urlsplit(f"//[{key}]")
    host = parts.hostname or key
    return (f"[{host}]" if ":" in host else host), parts.port


def _bare_ipv6(key: str) -> bool:
    # host_key drops the brackets: "::1" alone has more than one colon and no port to split off.
    return key.count(":") > 1 and not key.startswith("[")
