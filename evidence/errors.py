"""Errors of the evidence store.

CchcError
 └── EvidenceError
      ├── BlobMissing        a digest the ledger names has no blob
      ├── BlobCorrupt        a blob whose bytes no longer hash to its name
      ├── LedgerConflict     two writers raced for the same chain position (retried internally)
      ├── KeyFileError       the collector's signing key cannot be read or written
      └── AppendFileError    the writer's journal or the witness cannot be read or written
"""

from __future__ import annotations

from cchc.errors import CchcError


class EvidenceError(CchcError):
    """Root of the evidence store's errors."""


class BlobMissing(EvidenceError):
    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        super().__init__(f"blob {sha256} is missing from the blob store")


class BlobCorrupt(EvidenceError):
    def __init__(self, sha256: str, reason: str) -> None:
        self.sha256 = sha256
        super().__init__(f"blob {sha256} is corrupt: {reason}")


class LedgerConflict(EvidenceError):
    """Another writer appended at the same position; the append is retried."""


class KeyFileError(EvidenceError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


class AppendFileError(EvidenceError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")
