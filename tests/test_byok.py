"""BYOK keys at rest: the sealer, and the store and service on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.agent.specs import PROVIDER_NAMES
from aomi.byok import SEALER_PURPOSE, ProviderKeys, ProviderKeyStore, key_prefix, owner_of
from aomi.crypto import Sealer, UnsealError
from aomi.db.tables import metadata
from aomi.errors import InvalidInput
from aomi.sessions.model import Session
from tests.conftest import TEST_SECRET

SECRET = TEST_SECRET.encode()
ANTHROPIC_KEY = "sk-ant-api03-" + "Qx7" * 30
OPENAI_KEY = "sk-proj-" + "Zq9Lm" * 10


def service(engine: AsyncEngine, secret: bytes = SECRET) -> ProviderKeys:
    return ProviderKeys(ProviderKeyStore(engine), Sealer(secret, SEALER_PURPOSE))


# -- the sealer -----------------------------------------------------------------------------------


def test_sealed_text_opens_again_and_never_shows_the_plaintext() -> None:
    sealer = Sealer(SECRET, SEALER_PURPOSE)
    token = sealer.seal(ANTHROPIC_KEY)
    assert ANTHROPIC_KEY not in token and "Qx7" not in token
    assert token != sealer.seal(ANTHROPIC_KEY)  # a fresh IV every time
    assert sealer.open(token) == ANTHROPIC_KEY
    assert sealer.open(sealer.seal("ünïcode ✓")) == "ünïcode ✓"
    assert "Qx7" not in repr(sealer)


def test_another_secret_or_purpose_cannot_open_it() -> None:
    token = Sealer(SECRET, SEALER_PURPOSE).seal(ANTHROPIC_KEY)
    for other in (
        Sealer(b"another-secret-of-enough-length-0123456789", SEALER_PURPOSE),
        Sealer(SECRET, "secrets"),
    ):
        with pytest.raises(UnsealError, match="cannot be decrypted") as info:
            other.open(token)
        assert ANTHROPIC_KEY not in str(info.value)
    for garbage in ("", "not-a-token", token[:-4] + "AAAA", "ü"):
        with pytest.raises(UnsealError):
            Sealer(SECRET, SEALER_PURPOSE).open(garbage)


def test_a_sealer_needs_a_purpose() -> None:
    with pytest.raises(ValueError, match="purpose"):
        Sealer(SECRET, "")


def test_key_prefix_never_shows_enough_to_use_the_key() -> None:
    assert key_prefix(ANTHROPIC_KEY) == "sk-ant-"
    assert key_prefix(OPENAI_KEY) == "sk-proj"
    assert key_prefix("abcdefghijkl") == "abcd"  # 12 characters: a third
    assert key_prefix("abc") == "a"
    assert key_prefix("ab") == ""


def test_owner_is_the_client_else_the_session() -> None:
    s = Session(id="5f0c6a8e-1111-4222-8333-444455556666", app="default", model="offline")
    assert owner_of(s) == "session:5f0c6a8e-1111-4222-8333-444455556666"
    s.client_id = "client-1"
    assert owner_of(s) == "client-1"


# -- the store and service, on both databases -----------------------------------------------------


async def test_save_replace_list_delete(engine: AsyncEngine) -> None:
    keys = service(engine)
    assert await keys.list("alice") == []
    assert await keys.key_for("alice", "anthropic") is None
    assert await keys.providers("alice") == set()

    saved = await keys.save("alice", "anthropic", ANTHROPIC_KEY, "  work  ")
    assert saved.to_json() == {
        "provider": "anthropic",
        "key_prefix": "sk-ant-",
        "label": "work",
        "is_active": True,
    }
    await keys.save("alice", "openai", f"\n {OPENAI_KEY}\r\n", None)  # pasted blanks are trimmed
    await keys.save("bob", "openai", "sk-bob-" + "b" * 40, "")
    assert [e.provider for e in await keys.list("alice")] == ["anthropic", "openai"]
    assert await keys.key_for("alice", "openai") == OPENAI_KEY
    assert await keys.providers("alice") == {"anthropic", "openai"}
    assert [e.label for e in await keys.list("bob")] == [None]  # a blank label is none

    first = (await keys.list("alice"))[0]
    replaced = await keys.save("alice", "anthropic", "sk-ant-second-" + "R" * 30, "home")
    assert (replaced.label, replaced.created_ms) == ("home", first.created_ms)
    assert replaced.updated_ms >= first.updated_ms
    assert await keys.key_for("alice", "anthropic") == "sk-ant-second-" + "R" * 30
    assert len(await keys.list("alice")) == 2  # one key per owner and provider

    assert await keys.delete("alice", "anthropic") is True
    assert await keys.delete("alice", "anthropic") is False
    assert await keys.key_for("alice", "anthropic") is None
    assert await keys.providers("alice") == {"openai"}
    assert await keys.key_for("bob", "openai") == "sk-bob-" + "b" * 40  # others untouched


async def test_bad_input_is_refused_without_quoting_the_key(engine: AsyncEngine) -> None:
    keys = service(engine)
    with pytest.raises(InvalidInput, match="unknown provider 'openia'") as info:
        await keys.save("alice", "openia", OPENAI_KEY, None)
    assert all(name in info.value.message for name in PROVIDER_NAMES)
    with pytest.raises(InvalidInput, match="unknown provider"):
        await keys.delete("alice", "nope")
    for bad in ("", "   \n", "sk-has space-in-it-0123456789", "sk-ünïcode-0123456789", "x" * 501):
        with pytest.raises(InvalidInput, match="api_key") as info:
            await keys.save("alice", "openai", bad, None)
        assert bad.strip() == "" or bad not in info.value.message
    with pytest.raises(InvalidInput, match="label"):
        await keys.save("alice", "openai", OPENAI_KEY, "x" * 201)
    with pytest.raises(InvalidInput, match="label"):
        await keys.save("alice", "openai", OPENAI_KEY, "nul\x00")
    assert await keys.save("alice", "openai", "k" * 500, "y" * 200)  # the limits themselves are fine
    assert await keys.list("alice") != []


async def test_the_plaintext_key_is_in_no_column_of_any_table(engine: AsyncEngine) -> None:
    keys = service(engine)
    await keys.save("client-42", "anthropic", ANTHROPIC_KEY, "label")
    await keys.save("session:abc", "openai", OPENAI_KEY, None)
    found = 0
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                text = " ".join(str(value) for value in row)
                found += "sk-ant-" in text
                assert ANTHROPIC_KEY not in text and OPENAI_KEY not in text, table.name
                assert "Qx7Qx7" not in text and "Zq9LmZq9Lm" not in text, table.name
    assert found == 1  # the display prefix, and nothing more


async def test_keys_saved_under_another_secret_are_inactive_not_fatal(engine: AsyncEngine) -> None:
    await service(engine, b"the-old-secret-that-was-rotated-0123456789").save(
        "alice", "openai", OPENAI_KEY, "old"
    )
    keys = service(engine)
    [entry] = await keys.list("alice")
    assert (entry.provider, entry.label, entry.is_active) == ("openai", "old", False)
    assert await keys.key_for("alice", "openai") is None
    assert await keys.providers("alice") == set()
    await keys.save("alice", "openai", OPENAI_KEY, "new")  # saving again repairs it
    assert [e.is_active for e in await keys.list("alice")] == [True]
