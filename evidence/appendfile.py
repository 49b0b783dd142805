"""Files of JSON lines that only grow: the writer's journal and the witness.

A line is appended with one write under an exclusive lock, then fsynced (and the folder too when the file is
new), so several processes may append to one file and a line is on disk before anything that relies on it.
Reading streams the file, forwards or from its end, and never holds more than one line in memory; a line
longer than MAX_LINE_BYTES, or one that is not a JSON object, is reported by its number and skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from evidence.errors import AppendFileError
from evidence.ledger import canonical_json

MAX_LINE_BYTES = 64 * 1024
BLOCK = 64 * 1024


@dataclass(frozen=True)
class Line:
    number: int | None  # from 1; None when read from the end (the count is not known)
    value: dict[str, Any] | None  # None: not a JSON object
    problem: str = ""


class AppendOnlyFile:
    def __init__(self, path: Path, *, durable: bool = True, mode: int = 0o644) -> None:
        self.path = Path(path)
        self.durable = durable
        self.mode = mode
        self._fd: int | None = None  # kept open between appends (a writer appends once per record)

    def append(self, value: dict[str, Any]) -> None:
        self.append_many([value])

    def append_many(self, values: list[dict[str, Any]]) -> None:
        """Lines appended with one write and one fsync (a power loss may cut the last; verify skips it)."""
        if not values:
            return
        line = b"".join(canonical_json(value) + b"\n" for value in values)
        try:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = os.write(fd, line)
                while written < len(line):  # a short write (a signal, a full pipe): the rest follows at once
                    written += os.write(fd, line[written:])
                if self.durable:
                    os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise AppendFileError(str(self.path), f"cannot append: {exc.strerror}") from None

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # A line a power loss cut short stays apart from the next one. (So does the last line of a batch
            # whose write() a SIGKILL cut at a page boundary: its records were never committed.)
            if os.fstat(fd).st_size and _last_byte(self.path) != b"\n":
                os.write(fd, b"\n")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        if created and self.durable:
            _fsync_dir(self.path.parent)
        self._fd = fd
        return fd

    def _read(self) -> BinaryIO | None:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AppendFileError(str(self.path), f"cannot read: {exc.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def size(self) -> int:
        """The file's size now: a reader that stops there sees the file as it was at this moment."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise AppendFileError(str(self.path), f"cannot read: {exc.strerror}") from None

    def lines(self, end: int | None = None) -> Iterator[Line]:
        """Every line from the first, up to byte `end` (default: the end of the file). A last line without its
        newline is being written (or was cut by a power loss): it is skipped."""
        handle = self._read()
        if handle is None:
            return
        with handle:
            limit = end if end is not None else os.fstat(handle.fileno()).st_size
            number = 0
            while handle.tell() < limit:
                raw = handle.readline(min(MAX_LINE_BYTES + 1, limit - handle.tell()))
                if not raw:
                    return
                number += 1
                if not raw.endswith(b"\n"):
                    if len(raw) <= MAX_LINE_BYTES:
                        return  # an unfinished last line
                    while raw and not raw.endswith(b"\n") and handle.tell() < limit:  # the rest of it
                        raw = handle.readline(min(MAX_LINE_BYTES + 1, limit - handle.tell()))
                    yield Line(number, None, f"longer than {MAX_LINE_BYTES} bytes")
                    continue
                yield _parse(raw, number)

    def lines_from_end(self, end: int | None = None) -> Iterator[Line]:
        """Every line from the last (before byte `end`, default the end of the file), back to the first: a reader
        that needs only the recent ones stops early. An unfinished last line is skipped."""
        handle = self._read()
        if handle is None:
            return
        with handle:
            position = end if end is not None else handle.seek(0, os.SEEK_END)
            head = b""  # the bytes before the last newline seen: the end of a line that starts further back
            skipping = (
                True  # inside a line to skip (an unfinished last one, or an overlong one) up to its start
            )
            if position:
                handle.seek(position - 1)
                skipping = handle.read(1) != b"\n"
            while position > 0:
                step = min(BLOCK, position)
                position -= step
                handle.seek(position)
                block = handle.read(step)
                if skipping:
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        continue
                    skipping, block = False, block[: cut + 1]
                parts = (block + head).split(b"\n")
                head = parts[0]
                for raw in reversed(parts[1:]):
                    if raw:
                        yield _parse(raw, None)
                if len(head) > MAX_LINE_BYTES:
                    yield Line(None, None, f"longer than {MAX_LINE_BYTES} bytes")
                    head, skipping = b"", True
            if head and not skipping:
                yield _parse(head, None)


def _parse(raw: bytes, number: int | None) -> Line:
    text = raw.strip()
    if not text:
        return Line(number, None, "empty line")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return Line(number, None, "not JSON")
    if not isinstance(value, dict):
        return Line(number, None, "not a JSON object")
    return Line(number, value)


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
