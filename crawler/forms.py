"""Request bodies a target carries: urlencoded forms and multipart forms with a stable boundary.

A random boundary (what httpx makes) would give the same request different bytes on every run; a boundary
derived from the content keeps a target's identity and its evidence comparable across runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import urlencode


def urlencoded(fields: Mapping[str, str]) -> tuple[bytes, str]:
    return urlencode(fields).encode("utf-8"), "application/x-www-form-urlencoded; charset=UTF-8"


def multipart(fields: Mapping[str, str]) -> tuple[bytes, str]:
    digest = hashlib.sha256(repr(sorted(fields.items())).encode("utf-8")).hexdigest()[:24]
    boundary = f"----cchcwatch{digest}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
