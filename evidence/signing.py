"""The collector's Ed25519 key: made on first use in a 0600 PEM file (its folder 0700), its public half
exportable; and public keys as an inspector gives them (hex, or the PEM `cchc evidence public-key` prints).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.errors import KeyFileError
from evidence.ledger import signed_message

log = logging.getLogger("cchc.evidence")

MAX_KEY_FILE_BYTES = 16 * 1024
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class CollectorKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public_hex = (
            private_key.public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            .hex()
        )

    @classmethod
    def load_or_create(cls, path: Path) -> CollectorKey:
        path = Path(path)
        if path.exists():
            return cls.load(path)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # O_EXCL: two processes making the key at once must not overwrite each other's.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load(path)
        except OSError as exc:
            raise KeyFileError(str(path), f"cannot create the signing key: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> CollectorKey:
        try:
            if not path.is_file():
                raise KeyFileError(str(path), "not a file")
            if path.stat().st_size > MAX_KEY_FILE_BYTES:
                raise KeyFileError(str(path), "too large to be a key")
            data = path.read_bytes()
            mode = path.stat().st_mode
        except OSError as exc:
            raise KeyFileError(str(path), f"cannot read the signing key: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "%s: the signing key can be read by others (mode %o): chmod 600 it", path, mode & 0o777
            )
        try:
            loaded = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(str(path), f"not an unencrypted PEM private key ({exc})") from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise KeyFileError(str(path), f"expected an Ed25519 key, found {type(loaded).__name__}")
        return cls(loaded)

    @property
    def public_hex(self) -> str:
        return self._public_hex

    def public_pem(self) -> str:
        return (
            self._private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()

    def signed(self, statement: dict[str, Any]) -> dict[str, Any]:
        """A statement with the public key and the signature over its message (evidence.ledger.signed_message)."""
        return {**statement, "public_key": self.public_hex, "signature": self.sign(signed_message(statement))}


def signature_is_valid(public_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), message
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def parse_public_key(value: str) -> str:
    """An Ed25519 public key as raw hex, from hex or a PEM public key (text or a file holding either).

    Raises ValueError with what was wrong."""
    text = value.strip()
    if _HEX_KEY.match(text):
        return text.lower()
    if "-----BEGIN" not in text:
        path = Path(text).expanduser()
        try:
            if not path.is_file() or path.stat().st_size > MAX_KEY_FILE_BYTES:
                raise ValueError(f"{value!r} is neither a 64-digit hex key nor a key file")
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            raise ValueError(f"{value}: {exc.strerror}") from None
        if _HEX_KEY.match(text.split()[0] if text.split() else ""):
            return text.split()[0].lower()
    try:
        loaded = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        raise ValueError(f"{value!r}: not an Ed25519 public key (hex or PEM)") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError(f"{value!r}: expected an Ed25519 public key, found {type(loaded).__name__}")
    return loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
