"""The tests' own requests to the servers they start on loopback: `httpx.get` and `httpx.post`, on one TLS context.

httpx's top-level functions build a client per call, and each client loads the CA bundle (25 ms of CPU) for
servers that never speak TLS; the suite makes hundreds of such calls. Each call here still gets a client of its
own, so no cookie or connection outlives it (a kept connection could outlive its server and meet the next one
started on the same port), built on the crawler's context, made once a process (0.1 ms a client).
"""

from __future__ import annotations

from typing import Any

import httpx

from crawler.transport import tls_context


def request(
    method: str, url: str, *, timeout: float = 5.0, follow_redirects: bool = False, **kwargs: Any
) -> httpx.Response:
    """As `httpx.request`: its defaults (a 5 s timeout, redirects not followed)."""
    with httpx.Client(verify=tls_context(), timeout=timeout) as client:
        return client.request(method, url, follow_redirects=follow_redirects, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)
