"""Serving the app with uvicorn, so that SIGTERM stops it within seconds, whatever is still computing.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and gives the requests in flight
web.shutdown_grace_s to finish. A page's work runs in a worker thread that Python cannot interrupt, and the
process would wait for it at exit; so a watchdog started by the signal ends the process SHUTDOWN_SLACK_S after
the grace time, whatever is left. The app only reads, so nothing is lost by not waiting.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

SHUTDOWN_SLACK_S = 2.0  # for uvicorn's own shutdown steps and the app's lifespan (closing its engines)
EXIT_STOPPED = 128 + 15  # what a process ended by SIGTERM reports


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, grace_s: float) -> None:
        super().__init__(config)
        self.grace_s = grace_s
        self._watchdog: threading.Thread | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(
                target=self._end_after_grace, name="cchc-serve-watchdog", daemon=True
            )
            self._watchdog.start()
        super().handle_exit(sig, frame)

    def _end_after_grace(self) -> None:
        time.sleep(self.grace_s + SHUTDOWN_SLACK_S)
        sys.stderr.write(
            f"stopped: requests still computing {self.grace_s:g} s after the stop signal were abandoned "
            "(web.shutdown_grace_s)\n"
        )
        sys.stderr.flush()
        os._exit(EXIT_STOPPED)


def serve(app: FastAPI, host: str, port: int, grace_s: float) -> None:
    """Serve until SIGTERM or Ctrl-C; return within grace_s and a little more, or end the process then."""
    whole_seconds = math.ceil(grace_s)  # uvicorn counts its graceful shutdown in whole seconds
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=whole_seconds
    )
    _Server(config, whole_seconds).run()
