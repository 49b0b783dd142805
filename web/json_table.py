"""A JSON capture as a table an inspector can read: its records as rows (the largest list of objects in the
document), the request that asked for it decoded, and the document itself pretty-printed, each bounded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

MAX_ROWS = 500  # a report page holds 200 rows; more are counted, not shown
MAX_COLUMNS = 40
MAX_CELL = 200
MAX_PRETTY = 200_000  # characters of the pretty-printed document shown beside the table
MAX_DEPTH = 4  # how deep the records are looked for ({"data": {"items": [...]}})


@dataclass
class JsonTable:
    columns: list[str]
    rows: list[list[str]]
    total_rows: int  # rows in the document (more than shown when it is cut at MAX_ROWS)
    path: str  # where the records are in the document: "" (the document itself), "data", "data.items"
    pretty: str
    pretty_cut: bool
    hidden_columns: int = 0
    highlighted: set[int] = field(default_factory=set)  # 1-based positions of the rows behind a figure


def looks_like_json(content_type: str, body: bytes) -> bool:
    head = body.lstrip()[:1]
    return "json" in content_type.lower() or head in (b"[", b"{")


def json_table(body: bytes) -> JsonTable | None:
    """The document's records as a table, or None when the body is not JSON or holds no list of objects."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    found = _records(document, "", 0)
    pretty = json.dumps(document, ensure_ascii=False, indent=1)
    cut = len(pretty) > MAX_PRETTY
    if found is None:
        return JsonTable([], [], 0, "", pretty[:MAX_PRETTY], cut)
    path, records = found
    columns: list[str] = []
    for record in records[:MAX_ROWS]:
        for key in record:
            if key not in columns:
                columns.append(str(key))
    shown = columns[:MAX_COLUMNS]
    rows = [[_cell(record.get(c)) for c in shown] for record in records[:MAX_ROWS]]
    return JsonTable(shown, rows, len(records), path, pretty[:MAX_PRETTY], cut, len(columns) - len(shown))


def _records(value: Any, path: str, depth: int) -> tuple[str, list[dict[str, Any]]] | None:
    """The longest list of objects, the document itself first, then inside objects down to MAX_DEPTH."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return path, value
    if depth >= MAX_DEPTH or not isinstance(value, dict):
        return None
    best: tuple[str, list[dict[str, Any]]] | None = None
    for key, inner in value.items():
        found = _records(inner, f"{path}.{key}" if path else str(key), depth + 1)
        if found is not None and (best is None or len(found[1]) > len(best[1])):
            best = found
    return best


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def request_text(body: bytes) -> str:
    """A request body as a reader needs it: form fields decoded, a JSON value in one pretty-printed."""
    text = body[:MAX_PRETTY].decode("utf-8", errors="replace")
    fields = (
        parse_qsl(text, keep_blank_values=True) if "=" in text and "{" not in text.split("=", 1)[0] else []
    )
    if not fields:
        return _pretty(text)
    return "\n".join(f"{name} = {_pretty(value)}" for name, value in fields)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=1)
    except ValueError:
        return text
