"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from the server secret.

Each use names a ``purpose`` (e.g. ``provider-keys``, ``client-secrets``): the key is derived with
HKDF-SHA256 from the server secret with the purpose as HKDF ``info``, so one use's ciphertext
never opens under another's key, and the server secret itself never encrypts anything.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"aomi-sealer-v1"


class UnsealError(Exception):
    """A sealed value cannot be opened: it was sealed under another server secret or purpose
    (``AOMI_SECRET_KEY`` changed), or it is corrupt. The message never holds the value."""


def derive_key(secret: bytes, purpose: str) -> bytes:
    """32 bytes for ``purpose``, from the server secret (HKDF-SHA256)."""
    if not purpose:
        raise ValueError("a sealer needs a purpose")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode("utf-8"))
    return hkdf.derive(secret)


class Sealer:
    """Encrypts text for storage and decrypts it back; tokens are URL-safe ASCII."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self.purpose = purpose
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, purpose)))

    def __repr__(self) -> str:
        return f"Sealer(purpose={self.purpose!r})"

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """The plaintext sealed in ``token``; `UnsealError` when it does not open under this key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnsealError(
                f"a stored {self.purpose} value cannot be decrypted: it was encrypted under another "
                "AOMI_SECRET_KEY, or it is corrupt"
            ) from None
