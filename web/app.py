"""`cchc serve`: the web app for analysts and inspectors (FastAPI, server-rendered Jinja2, in Vietnamese).

Binds to 127.0.0.1 by default; bound elsewhere, every request needs the configured token. Every request
passes, in this order: the Host allow-list (web/hosts.py), its deadline (web/deadline.py), the token gate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cchc.errors import ConfigError
from cchc.settings import Settings
from web import api, docs, metrics, pages
from web.access import TokenGate
from web.context import WebContext
from web.deadline import Deadline
from web.hosts import HostAllowList, is_loopback
from web.oneline import is_json_route

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}
PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-src 'self'; script-src 'none'"


def create_app(settings: Settings, host: str | None = None) -> FastAPI:
    """The app for these settings; `host` is where it will listen (defaults to web.host)."""
    bound = host or settings.web.host
    if not is_loopback(bound) and not settings.web.token:
        raise ConfigError(
            settings.source_file, [f"web.token: required to serve on {bound} (beyond this machine)"]
        )
    from web.sql import ReadOnlySql

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.ctx.close()
        app.state.sql.close()

    description = (
        "Bằng chứng CCHC, chuyển đổi số và chỉ số theo đơn vị (Tây Ninh). Read-only, except a surprise crawl."
    )
    # /docs is our own script-free page (web/docs.py): Swagger UI's CDN assets break the CSP and need a network.
    app = FastAPI(title="cchc-watch", version="0.1.0", lifespan=lifespan, description=description, docs_url=None,
                  redoc_url=None)  # fmt: skip
    app.state.ctx = WebContext.open(settings)
    app.state.sql = ReadOnlySql.for_settings(settings)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(metrics.router)
    app.include_router(docs.router)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if (
            response.headers.get("content-type", "").startswith("text/html")
            and "Content-Security-Policy" not in response.headers
        ):
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    if not is_loopback(bound):
        app.add_middleware(TokenGate, token=settings.web.token)
    app.add_middleware(Deadline, seconds=settings.web.request_timeout_s)
    app.add_middleware(HostAllowList, allowed=settings.web.allowed_hosts, bound=bound)  # outermost

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_json_route(request.url.path):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        body = f'<!DOCTYPE html><html lang="vi"><meta charset="utf-8"><title>Lỗi {exc.status_code}</title><body style="font-family:\'Noto Sans\',sans-serif"><h1>Lỗi {exc.status_code}</h1><p>{_escape(str(exc.detail))}</p><p><a href="/">Tổng quan</a></p></body></html>'
        return HTMLResponse(body, status_code=exc.status_code)

    return app


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
