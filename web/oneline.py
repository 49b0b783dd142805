"""Answers the middlewares send before the app runs: one line, JSON for the API and the .json routes."""

from __future__ import annotations

import json

from starlette.types import Send


def is_json_route(path: str) -> bool:
    """The API and every .json route (/sql.json, /openapi.json) answer errors in JSON, never an HTML page."""
    return path == "/api" or path.startswith(("/api/", "/openapi")) or path.endswith(".json")


async def send_one_line(send: Send, status: int, path: str, line: str, *, close: bool = False) -> None:
    """`status` with `line`: `{"detail": line}` on a JSON route, the plain line elsewhere."""
    api = is_json_route(path)
    body = (json.dumps({"detail": line}, ensure_ascii=False) if api else line + "\n").encode("utf-8")
    headers = [
        (b"content-type", b"application/json" if api else b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
