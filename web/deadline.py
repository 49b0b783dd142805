"""Every request has a deadline (web.request_timeout_s): past it, the client gets 503 in one line.

The pages compute in worker threads, and Python cannot stop a thread: the work behind a late request goes on
to its end (every input that sizes it is bounded: periods by indicators.max_period_months, SQL by its own
statement timeout) and its answer is dropped; an indicator table it was building still fills the cache for
the next request. What the deadline guarantees is that no client, and no connection, waits longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.oneline import send_one_line

log = logging.getLogger("cchc.web")


class Deadline:
    """Pure ASGI middleware: the app answers within `seconds`, or 503 is sent in its place."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answering = False
        abandoned = False

        async def send_unless_abandoned(message: Message) -> None:
            nonlocal answering
            if abandoned:
                return
            answering = answering or message["type"] == "http.response.start"
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, send_unless_abandoned))
        path = str(scope.get("path", ""))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.seconds)
        except asyncio.CancelledError:
            # The server is stopping (its graceful shutdown ran out): the request ends with one line, not a
            # traceback, and the process goes on stopping.
            abandoned = True
            task.cancel()
            task.add_done_callback(_forget)
            if not answering:
                with contextlib.suppress(Exception):
                    await send_one_line(send, 503, path, "Máy chủ đang dừng: the server is stopping")
            return
        if done or answering:  # finished, or already sending its answer (which then finishes)
            await task
            return
        abandoned = True
        task.cancel()  # takes effect when the worker thread returns: its answer is dropped
        task.add_done_callback(_forget)
        log.warning("request past its deadline of %g s: %s", self.seconds, path)
        line = (
            f"Yêu cầu quá thời hạn {self.seconds:g} s (web.request_timeout_s): máy chủ đang bận, thử lại sau"
        )
        await send_one_line(send, 503, path, line)


def _forget(task: asyncio.Future[None]) -> None:
    """Collect what an abandoned request ended with, so that asyncio does not report it as never retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("a request abandoned at its deadline failed later: %s", task.exception())
