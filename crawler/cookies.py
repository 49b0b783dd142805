"""Cookies kept per origin (scheme, host, port): what one site sets goes back to that site only.

A single cookie jar matches cookies by domain and path, not by port, and honours a Domain attribute: a cookie
from 127.0.0.1:8001 would go to 127.0.0.1:8002, and one set with `Domain=tayninh.gov.vn` to every portal
under it. Each origin gets a jar of its own instead, holding at most MAX_PER_ORIGIN cookies.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx

MAX_PER_ORIGIN = 50  # RFC 6265 §6.1 asks for at least 50 cookies per domain
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """scheme://host:port, lower case, the port always written: the unit a cookie belongs to."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def refusing_jar() -> CookieJar:
    """A jar that keeps nothing: the HTTP client's own, so that only OriginCookies holds cookies."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class OriginCookies:
    """One cookie jar per origin: `add_to()` a request before it is sent, `keep_from()` its response."""

    def __init__(self, max_per_origin: int = MAX_PER_ORIGIN) -> None:
        self.max_per_origin = max_per_origin
        self._jars: dict[str, CookieJar] = {}

    def jar(self, url: str) -> CookieJar:
        origin = origin_of(url)
        jar = self._jars.get(origin)
        if jar is None:
            jar = self._jars[origin] = CookieJar()
        return jar

    def add_to(self, request: httpx.Request) -> None:
        jar = self._jars.get(origin_of(str(request.url)))
        if jar is not None:
            httpx.Cookies(jar).set_cookie_header(request)

    def keep_from(self, response: httpx.Response) -> None:
        if "set-cookie" not in response.headers:
            return
        jar = self.jar(str(response.request.url))
        httpx.Cookies(jar).extract_cookies(response)
        extra = len(jar) - self.max_per_origin
        if extra > 0:  # a site that sets cookie after cookie does not grow our requests without end
            for cookie in list(jar)[-extra:]:
                jar.clear(cookie.domain, cookie.path, cookie.name)
