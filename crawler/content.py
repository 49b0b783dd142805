"""What a body means: its content-encoding undone within a size bound, and its charset found.

The fetcher keeps bodies as the server sent them (still gzip'd, say), so that the evidence is the bytes off
the wire. Everything that reads a body (robots.txt, the parsers, `reparse`, the web viewer) decodes it here,
with the same bound on what decompression may produce: a 200 KB gzip bomb never becomes 200 MB in memory.
A browser hands out bodies already decoded, whatever their Content-Encoding header says.
"""

from __future__ import annotations

import codecs
import zlib

import zstandard

CHUNK = 64 * 1024
DEFAULT_MAX_BYTES = 20_000_000  # the fetch policy's default body limit


class ContentError(ValueError):
    """A body that cannot be turned into what the server meant: bad encoding data, or an unknown one."""


class ContentTooLarge(ContentError):
    """Decoding would produce more than the allowed bytes (a compression bomb, or just too big)."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the {encoding} body decodes to more than {limit} bytes")


def decode_content(
    raw: bytes, content_encoding: str | None, *, max_bytes: int, already_decoded: bool = False
) -> bytes:
    """The body as the server meant it, never more than max_bytes (ContentTooLarge beyond).

    `already_decoded` is for bodies a browser handed out: Chromium undoes the encoding itself.
    Encodings listed in order of application ("gzip, br") are undone last first, as RFC 9110 §8.4 says.
    """
    if already_decoded:
        if len(raw) > max_bytes:
            raise ContentTooLarge("decoded", max_bytes)
        return raw
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    body = raw
    for encoding in reversed(encodings):
        body = _undo(body, encoding, max_bytes)
    if len(body) > max_bytes:
        raise ContentTooLarge(encodings[0] if encodings else "identity", max_bytes)
    return body


def _undo(data: bytes, encoding: str, max_bytes: int) -> bytes:
    if encoding in ("identity", ""):
        return data
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 47, encoding, max_bytes)  # 32 + 15: a gzip or zlib header, detected
    if encoding == "deflate":
        # "deflate" is meant to be zlib-wrapped, but some servers send a raw deflate stream.
        try:
            return _inflate(data, 15, encoding, max_bytes)
        except ContentTooLarge:
            raise
        except ContentError:
            return _inflate(data, -15, encoding, max_bytes)
    if encoding == "zstd":
        return _unzstd(data, max_bytes)
    raise ContentError(f"content encoding {encoding!r} is not supported")


def _inflate(data: bytes, wbits: int, encoding: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=wbits)
    out = bytearray()
    pending = data
    try:
        while pending:
            # max_length bounds each step's output, so a bomb is stopped before it is in memory.
            out += inflater.decompress(pending, CHUNK)
            if len(out) > max_bytes:
                raise ContentTooLarge(encoding, max_bytes)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        while not inflater.eof and (chunk := inflater.decompress(b"", CHUNK)):
            out += chunk
            if len(out) > max_bytes:
                raise ContentTooLarge(encoding, max_bytes)
    except zlib.error as exc:
        raise ContentError(f"the body is not valid {encoding}: {exc}") from exc
    if not inflater.eof:
        raise ContentError(f"the body is not valid {encoding}: the stream is cut short")
    return bytes(out)


def _unzstd(data: bytes, max_bytes: int) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    out = bytearray()
    try:
        while chunk := reader.read(CHUNK):
            out += chunk
            if len(out) > max_bytes:
                raise ContentTooLarge("zstd", max_bytes)
    except zstandard.ZstdError as exc:
        raise ContentError(f"the body is not valid zstd: {exc}") from exc
    return bytes(out)


def charset_of(content_type: str | None, default: str = "utf-8") -> str:
    """The charset a Content-Type names (a known codec's canonical name), else the default.

    An unknown charset is a ContentError: a page read in the wrong charset would be parsed as nonsense.
    """
    if not content_type or "charset=" not in content_type.lower():
        return default
    lowered = content_type.lower()
    name = content_type[lowered.index("charset=") + 8 :].split(";")[0].strip().strip("\"'")
    if not name:
        return default
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ContentError(f"unknown charset {name!r} in Content-Type {content_type!r}") from None


def text_of(body: bytes, content_type: str | None, default: str = "utf-8") -> str:
    """The body as text in its declared charset (undecodable bytes replaced, never an exception)."""
    return body.decode(charset_of(content_type, default), errors="replace")
