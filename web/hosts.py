"""Which Host a request may name: loopback names, the address the app is bound to, and web.allowed_hosts.

DNS rebinding: a page on any domain that resolves to 127.0.0.1 can make a browser send requests to this app
(same origin, as far as the browser knows), and read every answer. What gives it away is the Host header,
which names the attacker's domain: such a request is refused with 421 Misdirected Request, before anything
computes. A request without a Host, or with one that is not a host, gets 400.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from web.oneline import send_one_line

LOOPBACK_NAMES = frozenset({"localhost"})
WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def is_loopback(host: str) -> bool:
    """localhost, or an IP address on the loopback network (127.0.0.0/8, ::1); never a name like 127.evil.example."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str | None:
    """The host a Host header names, lower case, without its port and trailing dot; None if it names none."""
    value = header.strip().lower()
    if value.startswith("["):  # an IPv6 literal, maybe with a port
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "x"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        literal = value[1:end]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return None
        return literal
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    name = name.removesuffix(".")
    return name if _NAME.fullmatch(name) else None


def normalise(host: str) -> str:
    return host.strip().lower().removeprefix("[").removesuffix("]").removesuffix(".")


class HostAllowList:
    """Pure ASGI middleware: a request goes on only when its Host is allowed; otherwise one line (JSON on the API), 421 or 400."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], bound: str) -> None:
        self.app = app
        self.allowed = frozenset(normalise(h) for h in allowed)
        if normalise(bound) not in {normalise(w) for w in WILDCARDS}:
            self.allowed |= {normalise(bound)}

    def allows(self, host: str) -> bool:
        return host in self.allowed or is_loopback(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"]
        host = host_of(headers[0]) if len(headers) == 1 else None
        if host is not None and self.allows(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
        elif host is None:
            await send_one_line(
                send, 400, path, "Bad Request: a request must name one valid Host", close=True
            )
        else:
            line = f"Misdirected Request: this server does not answer for host {host!r} (web.allowed_hosts)"
            await send_one_line(send, 421, path, line, close=True)
