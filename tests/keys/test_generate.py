import re

import pytest

from aomi.errors import InvalidInput
from aomi.keys.generate import (
    BASE62_ALPHABET,
    SECRET_CHARS,
    base62_encode,
    display_prefix,
    generate_key,
    hash_key,
)

KEY_RE = re.compile(r"sk-([a-z]{1,8})-([0-9A-Za-z]+)")


def base62_decode(text: str) -> int:
    number = 0
    for ch in text:
        number = number * 62 + BASE62_ALPHABET.index(ch)
    return number


def test_generated_key_has_the_documented_format() -> None:
    key = generate_key("mcd")
    match = KEY_RE.fullmatch(key)
    assert match is not None
    assert match.group(1) == "mcd"
    # 62**43 is the smallest power of 62 above 2**256: 43 digits carry any 32-byte secret.
    assert len(match.group(2)) == SECRET_CHARS == 43
    assert 62**42 < 2**256 < 62**43


def test_generated_keys_differ() -> None:
    keys = {generate_key("a") for _ in range(200)}
    assert len(keys) == 200


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x01", b"\xff" * 32, bytes(range(32))])
def test_base62_round_trips(data: bytes) -> None:
    encoded = base62_encode(data, SECRET_CHARS)
    assert len(encoded) == SECRET_CHARS
    assert set(encoded) <= set(BASE62_ALPHABET)
    assert base62_decode(encoded) == int.from_bytes(data, "big")


def test_base62_known_values() -> None:
    assert base62_encode(b"\x3d") == "z"  # 61
    assert base62_encode(b"\x3e") == "10"  # 62
    assert base62_encode(b"\x00", 3) == "000"


@pytest.mark.parametrize("slug", ["", "ABC", "abcdefghi", "a1", "a-b", "é", " abc"])
def test_bad_slug_is_rejected(slug: str) -> None:
    with pytest.raises(InvalidInput, match="slug"):
        generate_key(slug)


@pytest.mark.parametrize("slug", ["a", "mcd", "abcdefgh"])
def test_good_slugs(slug: str) -> None:
    assert generate_key(slug).startswith(f"sk-{slug}-")


def test_hash_is_deterministic_hex_and_depends_on_secret_and_key() -> None:
    key = generate_key("mcd")
    first = hash_key(b"secret-1", key)
    assert first == hash_key(b"secret-1", key)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != hash_key(b"secret-2", key)
    assert first != hash_key(b"secret-1", key + "x")


def test_hash_is_hmac_sha256() -> None:
    # RFC 4231 test case 2.
    assert (
        hash_key(b"Jefe", "what do ya want for nothing?")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_prefix_of_generated_key() -> None:
    key = generate_key("mcd")
    prefix = display_prefix(key)
    assert prefix == key[: len("sk-mcd-") + 4]
    secret = key.removeprefix("sk-mcd-")
    assert len(prefix) - len("sk-mcd-") <= len(secret) // 10


@pytest.mark.parametrize("length", [20, 31, 32, 100, 256])
def test_prefix_of_imported_key_is_short(length: int) -> None:
    key = ("Ab3" * 100)[:length]
    prefix = display_prefix(key)
    assert key.startswith(prefix)
    assert 1 <= len(prefix) <= 8
    assert len(prefix) <= length // 4


def test_prefix_of_long_imported_key_is_first_8_chars() -> None:
    assert display_prefix("legacy_live_0123456789abcdefghij") == "legacy_l"


@pytest.mark.parametrize(
    "key", ["x" * 19, "x" * 257, "x" * 10 + " " + "x" * 10, "x" * 20 + "\n", "x" * 20 + "\x00", "ü" * 20]
)
def test_prefix_rejects_invalid_imported_keys(key: str) -> None:
    with pytest.raises(InvalidInput):
        display_prefix(key)
