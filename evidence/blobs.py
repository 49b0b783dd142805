"""Content-addressed blob storage: the SHA-256 of the raw bytes names a blob; zstd on disk; atomic writes.

The interface is small (put, get, has, digests) so that an object-store backend is one more class.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import zstandard

from evidence.errors import BlobCorrupt, BlobMissing


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    stored_size: int
    new: bool  # False when identical content was already stored


class BlobStore(Protocol):
    def put(self, data: bytes) -> StoredBlob: ...

    def get(self, sha256: str) -> bytes:
        """The blob's bytes, checked against their name (BlobCorrupt otherwise)."""
        ...

    def has(self, sha256: str) -> bool: ...

    def digests(self) -> Iterator[str]: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TEMP_ATTEMPTS = 3


class LocalBlobStore:
    """Blobs as <root>/ab/cd/<sha256>.zst, written to a temp file, fsynced, then renamed into place."""

    def __init__(self, root: Path, *, level: int = 3, durable: bool = True) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.level = level
        self.durable = durable  # fsync file and folder: survives power loss, not only a killed process
        self._compressor = zstandard.ZstdCompressor(level=level)
        self._decompressor = zstandard.ZstdDecompressor()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put(self, data: bytes) -> StoredBlob:
        digest = sha256_hex(data)
        final = self.path(digest)
        if final.exists():
            return StoredBlob(digest, len(data), final.stat().st_size, new=False)
        compressed = self._compressor.compress(data)
        final.parent.mkdir(parents=True, exist_ok=True)
        # A temp file in the store's own tmp/ (same filesystem): a killed writer leaves only a tmp file,
        # never a half-written blob under a real name. remove_stale_temp_files() cleans them.
        for attempt in range(1, TEMP_ATTEMPTS + 1):
            try:
                self._write_into_place(compressed, final)
                break
            except _TempSwept:
                if attempt == TEMP_ATTEMPTS:
                    raise OSError(
                        f"{self.tmp}: temp files keep disappearing before they are renamed"
                    ) from None
        if self.durable:
            _fsync_dir(final.parent)
        return StoredBlob(digest, len(data), len(compressed), new=True)

    def _write_into_place(self, compressed: bytes, final: Path) -> None:
        fd, temp_name = tempfile.mkstemp(dir=self.tmp, prefix=final.name[:16], suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                # Held until the file is renamed: another process's clean-up leaves a live writer's file alone.
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                handle.write(compressed)
                if self.durable:
                    handle.flush()
                    os.fsync(handle.fileno())
                try:
                    Path(temp_name).replace(final)  # before the handle closes, so still under the lock
                except FileNotFoundError:
                    # Another process's clean-up took it between mkstemp and flock: write it again.
                    raise _TempSwept from None
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            compressed = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        try:
            data = self._decompressor.decompress(compressed)
        except zstandard.ZstdError as exc:
            raise BlobCorrupt(sha256, f"cannot decompress: {exc}") from None
        actual = sha256_hex(data)
        if actual != sha256:
            raise BlobCorrupt(sha256, f"content hashes to {actual}")
        return data

    def digests(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*.zst"):
            yield path.name.removesuffix(".zst")

    def remove_stale_temp_files(self) -> list[Path]:
        """Remove what killed writers left in tmp/. Several processes may write to one store and each cleans
        up when it opens it, so a file whose lock a live writer holds is left alone."""
        removed = []
        for path in self.tmp.glob("*.part"):
            try:
                with path.open("rb") as handle:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    path.unlink()
            except (FileNotFoundError, BlockingIOError):
                continue  # renamed into place meanwhile, or still being written
            removed.append(path)
        return removed


class _TempSwept(Exception):
    """A temp file vanished before its rename: a clean-up took it before its writer locked it."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
