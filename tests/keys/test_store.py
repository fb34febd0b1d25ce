import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.tables import app_key_scopes, app_keys, metadata
from aomi.errors import InvalidInput, KeyNotFound
from aomi.keys.generate import hash_key
from aomi.keys.store import KeyRecord, KeyStore, default_slug
from aomi.timeutil import now_ms
from tests.keys.conftest import SECRET

IMPORTED = "legacy_live_0123456789abcdefghij"


async def test_create_returns_key_and_record(store: KeyStore) -> None:
    before = now_ms()
    issued = await store.create(["mycoindex", "default"], label="prod", slug="mcd")
    record = issued.record
    assert issued.key.startswith("sk-mcd-")
    assert record.prefix == issued.key[:11]
    assert record.apps == frozenset({"mycoindex", "default"})
    assert record.label == "prod"
    assert len(record.id) == 32
    assert before <= record.created_ms <= now_ms()
    assert (record.expires_ms, record.revoked_ms, record.last_used_ms) == (None, None, None)
    assert record.is_active(now_ms())
    assert await store.find_by_hash(hash_key(SECRET, issued.key)) == record


async def test_slug_defaults_to_first_app_letters(store: KeyStore) -> None:
    issued = await store.create(["MyCoinIndex", "zeta"])
    assert issued.key.startswith("sk-myc-")
    assert default_slug("a1-b2") == "ab"
    assert default_slug("42") == "app"


async def test_create_rejects_bad_input(store: KeyStore) -> None:
    with pytest.raises(InvalidInput, match="at least one App"):
        await store.create([])
    with pytest.raises(InvalidInput, match="slug"):
        await store.create(["default"], slug="BAD")
    with pytest.raises(InvalidInput, match="list of App names"):
        await store.create("default")
    with pytest.raises(InvalidInput, match="label"):
        await store.create(["default"], label="x" * 201)
    assert await store.list() == []


async def test_list_is_newest_first(store: KeyStore) -> None:
    first = await store.create(["a"])
    second = await store.create(["b"])
    while second.record.created_ms == first.record.created_ms:  # same millisecond: issue another
        second = await store.create(["b"])
    listed = await store.list()
    assert listed[0] == second.record
    assert listed[-1] == first.record


async def test_resolve_by_id_prefix_display_prefix_and_full_key(store: KeyStore) -> None:
    issued = await store.create(["default"], slug="abc")
    record = issued.record
    assert await store.resolve(record.id) == record
    assert await store.resolve(record.id[:10]) == record
    assert await store.resolve(record.prefix) == record
    assert await store.resolve(issued.key) == record


async def test_resolve_unknown_and_ambiguous(store: KeyStore) -> None:
    with pytest.raises(KeyNotFound, match="no key matches 'sk-xx'"):
        await store.resolve("sk-xx")
    with pytest.raises(KeyNotFound):
        await store.resolve("   ")
    one = await store.create(["default"], slug="same")
    two = await store.create(["default"], slug="same")
    with pytest.raises(InvalidInput, match="matches 2 keys") as info:
        await store.resolve("sk-same-")
    assert one.record.id in info.value.message
    assert two.record.id in info.value.message
    # LIKE wildcards in the needle are literal, not patterns.
    with pytest.raises(KeyNotFound):
        await store.resolve("%")
    with pytest.raises(KeyNotFound):
        await store.resolve("sk-sam_")


async def test_revoke_is_idempotent(store: KeyStore) -> None:
    issued = await store.create(["default"])
    revoked = await store.revoke(issued.record.prefix)
    assert revoked.revoked_ms is not None
    assert not revoked.is_active(now_ms())
    assert revoked.status(now_ms()) == "revoked"
    again = await store.revoke(issued.record.id)
    assert again.revoked_ms == revoked.revoked_ms
    with pytest.raises(KeyNotFound):
        await store.revoke("nope")


async def test_expiry(store: KeyStore) -> None:
    now = now_ms()
    issued = await store.create(["default"], expires_ms=now + 60_000)
    record = issued.record
    assert record.is_active(now)
    assert not record.is_active(now + 60_000)
    assert record.status(now + 60_000) == "expired"
    stored = await store.resolve(record.id)
    assert stored.expires_ms == now + 60_000


async def test_import_and_duplicate_import(store: KeyStore) -> None:
    issued = await store.create(["default"], import_key=IMPORTED, label="legacy")
    assert issued.key == IMPORTED
    assert issued.record.prefix == "legacy_l"
    assert await store.find_by_hash(hash_key(SECRET, IMPORTED)) == issued.record
    with pytest.raises(InvalidInput, match="this key is already registered"):
        await store.create(["other"], import_key=IMPORTED)
    with pytest.raises(InvalidInput, match="slug"):
        await store.create(["default"], import_key=IMPORTED + "x", slug="abc")
    with pytest.raises(InvalidInput, match="20 to 256"):
        await store.create(["default"], import_key="short")
    assert len(await store.list()) == 1


async def test_concurrent_duplicate_imports_register_one(store: KeyStore) -> None:
    results = await asyncio.gather(
        *(store.create(["default"], import_key=IMPORTED) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, InvalidInput) for r in results) == 3
    assert len(await store.list()) == 1


async def test_touch_last_used_never_moves_backwards(store: KeyStore) -> None:
    a = (await store.create(["default"])).record
    b = (await store.create(["default"])).record
    await store.touch_last_used({a.id: 1000, b.id: 2000, "missing": 5})
    await store.touch_last_used({a.id: 500})
    assert (await store.resolve(a.id)).last_used_ms == 1000
    assert (await store.resolve(b.id)).last_used_ms == 2000
    await store.touch_last_used({})


async def test_plaintext_key_is_never_stored(store: KeyStore, engine: AsyncEngine) -> None:
    generated = await store.create(["default"], slug="mcd", label="label")
    imported = await store.create(["default"], import_key=IMPORTED)
    async with engine.connect() as conn:
        dump: list[str] = []
        for table in metadata.sorted_tables:
            dump.extend(repr(tuple(row)) for row in await conn.execute(select(table)))
        scopes = (await conn.execute(select(app_key_scopes))).all()
        hashes = set((await conn.scalars(select(app_keys.c.key_hash))).all())
    text = "\n".join(dump)
    assert len(scopes) == 2
    assert hashes == {hash_key(SECRET, generated.key), hash_key(SECRET, imported.key)}
    secret_part = generated.key.removeprefix("sk-mcd-")
    assert generated.record.prefix in text  # the dump does hold the key rows
    assert secret_part[:12] not in text
    assert secret_part[-12:] not in text
    assert IMPORTED not in text
    assert IMPORTED[8:] not in text


async def test_record_status_revocation_wins_over_expiry() -> None:
    record = KeyRecord("id", "p", None, frozenset({"a"}), 0, expires_ms=10, revoked_ms=5, last_used_ms=None)
    assert record.status(100) == "revoked"
