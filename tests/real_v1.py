"""The real api/v1 responses of the national portal (shared/real/dvcqg-v1), read in place, never copied.

The folder is found beside the repository (`../shared`; a worktree sits one level deeper, so `../../shared` too).
Tests that need it skip, saying so, when it is absent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probes._base import SnapshotView

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = (REPO.parent / "shared", REPO.parent.parent / "shared")
SHARED = next((c for c in CANDIDATES if (c / "real" / "dvcqg-v1" / "captures.json").is_file()), None)
REAL = SHARED / "real" / "dvcqg-v1" if SHARED else None
SKIP_REASON = (
    f"the real api/v1 responses are not beside the repository (looked in {', '.join(map(str, CANDIDATES))})"
)
needs_real = pytest.mark.skipif(REAL is None, reason=SKIP_REASON)


@dataclass(frozen=True)
class Capture:
    file: Path
    url: str
    payload: dict[str, Any]
    status: int
    content_type: str

    @property
    def endpoint(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def body(self) -> bytes:
        return self.file.read_bytes()

    def data(self) -> Any:
        return json.loads(self.body())["data"]

    def view(self, body: bytes | None = None) -> SnapshotView:
        return SnapshotView(
            url=self.url,
            method="POST",
            request_headers=(("Content-Type", "application/json"),),
            request_body=json.dumps(self.payload).encode(),
            status=self.status,
            headers=(("Content-Type", self.content_type),),
            body=self.body() if body is None else body,
        )


def captures() -> list[Capture]:
    if REAL is None:
        return []
    entries = json.loads((REAL / "captures.json").read_text(encoding="utf-8"))
    return [
        Capture(REAL / e["file"], e["url"], e["payload"], int(e["httpStatus"]), e["contentType"])
        for e in entries
    ]


def evaluations() -> list[Capture]:
    return [c for c in captures() if "/evaluation/" in c.url]


def capture(endpoint: str) -> Capture:
    found = next((c for c in captures() if c.endpoint == endpoint), None)
    if found is None:
        pytest.skip(SKIP_REASON)
    return found
