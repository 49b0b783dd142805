"""Tamper-evident evidence: content-addressed blobs, a hash-chained ledger of snapshots, signed checkpoints."""

from evidence.blobs import BlobStore, LocalBlobStore
from evidence.errors import BlobCorrupt, BlobMissing, EvidenceError, KeyFileError
from evidence.models import Blob, Checkpoint, Observation, ParseFailure, Run, Snapshot, SnapshotBlob
from evidence.store import EvidenceStore

__all__ = [
    "Blob",
    "BlobCorrupt",
    "BlobMissing",
    "BlobStore",
    "Checkpoint",
    "EvidenceError",
    "EvidenceStore",
    "KeyFileError",
    "LocalBlobStore",
    "Observation",
    "ParseFailure",
    "Run",
    "Snapshot",
    "SnapshotBlob",
]
