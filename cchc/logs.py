"""Logging for the CLI and the daemon: plain lines by default, JSON lines with `--log-json`.

Both carry the record's extras (run_id, job_id, probe, units, holder …), so a daemon's months of logs can be
searched by run or job, and both give the time in the inspection's time zone with its offset
(2023-09-20T08:00:00.123+07:00), like every other time an operator reads.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, tzinfo
from typing import Any

from cchc.timeutil import VN_TZ

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonLines(logging.Formatter):
    def __init__(self, tz: tzinfo = VN_TZ) -> None:
        super().__init__()
        self.tz = tz

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class PlainLines(logging.Formatter):
    """`time level logger: message key=value …`: the extras that say which job, probe and units."""

    def __init__(self, tz: tzinfo = VN_TZ) -> None:
        super().__init__()
        self.tz = tz

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="milliseconds")
        extras = " ".join(f"{k}={_plain(v)}" for k, v in _extras(record).items())
        line = f"{moment} {record.levelname} {record.name}: {record.getMessage()}" + (
            f" {extras}" if extras else ""
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    text = str(value)
    return text if text and " " not in text else json.dumps(text, ensure_ascii=False)


def configure(json_lines: bool = False, level: int = logging.WARNING, tz: tzinfo = VN_TZ) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(tz) if json_lines else PlainLines(tz))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter stays out of the daemon's log unless it is a warning.
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
