"""App key strings: generation (`sk-<slug>-<secret>`), keyed hashing and display prefixes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from aomi.errors import InvalidInput

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SECRET_BYTES = 32
# 62**43 > 2**256 > 62**42: every 32-byte secret fits in exactly 43 base62 digits.
SECRET_CHARS = 43
SECRET_PREFIX_CHARS = 4
IMPORTED_PREFIX_CHARS = 8
IMPORT_MIN_CHARS = 20
IMPORT_MAX_CHARS = 256

_SLUG_RE = re.compile(r"[a-z]{1,8}")
GENERATED_KEY_RE = re.compile(rf"sk-([a-z]{{1,8}})-([0-9A-Za-z]{{{SECRET_CHARS}}})")
# At least 9 characters: never the prefix of an imported key (at most 8).
_GENERATED_PREFIX_RE = re.compile(rf"sk-([a-z]{{1,8}})-[0-9A-Za-z]{{{SECRET_PREFIX_CHARS}}}")


def base62_encode(data: bytes, width: int = 0) -> str:
    """Big-endian base62 of ``data``, left-padded with ``0`` to ``width`` digits."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62_ALPHABET[rest])
    return "".join(reversed(digits)).rjust(max(width, 1), "0")


def validate_slug(slug: str) -> str:
    if not _SLUG_RE.fullmatch(slug):
        raise InvalidInput(f"invalid key slug {slug!r}: use 1 to 8 lowercase ASCII letters (a-z), e.g. 'mcd'")
    return slug


def generate_key(slug: str) -> str:
    """A fresh key ``sk-<slug>-<43 base62 chars>`` carrying 32 random bytes."""
    validate_slug(slug)
    return f"sk-{slug}-{base62_encode(secrets.token_bytes(SECRET_BYTES), SECRET_CHARS)}"


def validate_import_key(key: str) -> str:
    """Check an operator-supplied key string: 20-256 visible ASCII characters."""
    if not IMPORT_MIN_CHARS <= len(key) <= IMPORT_MAX_CHARS:
        raise InvalidInput(
            f"an imported key must be {IMPORT_MIN_CHARS} to {IMPORT_MAX_CHARS} characters long "
            f"(got {len(key)})"
        )
    # Keys travel in HTTP headers: only visible ASCII survives every client unchanged.
    if not all("!" <= ch <= "~" for ch in key):
        raise InvalidInput(
            "an imported key may hold only visible ASCII characters (no spaces or control characters)"
        )
    return key


def hash_key(secret: bytes, key: str) -> str:
    """Hex HMAC-SHA256 of the key under the server secret: what the database stores."""
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    """The short, non-secret part of a key shown in listings (e.g. ``sk-mcd-Ab3x``).

    Generated keys keep their slug plus 4 of 43 secret characters. Imported keys keep
    their first 8 characters, but never more than a quarter of the key.
    """
    match = GENERATED_KEY_RE.fullmatch(key)
    if match:
        return f"sk-{match.group(1)}-{match.group(2)[:SECRET_PREFIX_CHARS]}"
    validate_import_key(key)
    return key[: min(IMPORTED_PREFIX_CHARS, len(key) // 4)]


def slug_of_prefix(prefix: str) -> str | None:
    """The slug of a generated key, from its display prefix; None for an imported key."""
    match = _GENERATED_PREFIX_RE.fullmatch(prefix)
    return match.group(1) if match else None
