"""Who may use the web app: anyone on this machine when it listens on loopback; with the token when it
listens elsewhere. Nothing writes, except triggering a surprise crawl, which always needs the token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from web.oneline import is_json_route

COOKIE = "cchc_token"


def presented_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(COOKIE) or ""


def token_matches(request: Request, token: str) -> bool:
    return bool(token) and hmac.compare_digest(presented_token(request).encode(), token.encode())


class TokenGate(BaseHTTPMiddleware):
    """Off loopback, every request needs the token (a ?token= link sets a cookie for the pages that follow)."""

    def __init__(self, app: object, token: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not token_matches(request, self.token):
            line = "Cần mã truy cập (token) / a token is required"
            if is_json_route(request.url.path):
                return JSONResponse({"detail": line}, status_code=401)
            return PlainTextResponse(line, status_code=401)
        if request.query_params.get("token"):
            target = request.url.remove_query_params("token")
            response: Response = RedirectResponse(str(target), status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return await call_next(request)


def require_token(request: Request, token: str) -> None:
    """For the one writing action: a surprise crawl."""
    if not token:
        raise HTTPException(
            403, "Chưa cấu hình web.token: không thể kích hoạt thu thập / set web.token to allow this"
        )
    if not token_matches(request, token):
        raise HTTPException(401, "Sai hoặc thiếu mã truy cập / wrong or missing token")
