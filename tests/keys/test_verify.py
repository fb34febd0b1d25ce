import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.errors import KeyInvalid
from aomi.keys.store import KeyStore
from aomi.keys.verify import INVALID_MESSAGE, KeyVerifier
from aomi.timeutil import now_ms
from tests.keys.conftest import SECRET


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(0.01)


async def _last_used_written(store: KeyStore, key_id: str) -> bool:
    return (await store.resolve(key_id)).last_used_ms is not None


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(store: KeyStore, clock: FakeClock) -> KeyVerifier:
    return KeyVerifier(store, SECRET, cache_seconds=1.0, clock=clock)


async def test_valid_key(store: KeyStore, verifier: KeyVerifier) -> None:
    issued = await store.create(["default"])
    assert await verifier.verify(issued.key) == issued.record


@pytest.mark.parametrize("key", ["sk-abc-unknown", "", "x" * 257])
async def test_unknown_key_is_rejected_without_echo(verifier: KeyVerifier, key: str) -> None:
    with pytest.raises(KeyInvalid) as info:
        await verifier.verify(key)
    assert info.value.message == INVALID_MESSAGE
    assert not key or key not in str(info.value)


async def test_revoked_key_is_rejected(store: KeyStore, verifier: KeyVerifier) -> None:
    issued = await store.create(["default"])
    await store.revoke(issued.record.id)
    with pytest.raises(KeyInvalid):
        await verifier.verify(issued.key)


async def test_expired_key_is_rejected(store: KeyStore, verifier: KeyVerifier) -> None:
    issued = await store.create(["default"], expires_ms=now_ms() - 1)
    with pytest.raises(KeyInvalid):
        await verifier.verify(issued.key)


async def test_cached_key_expires_at_its_deadline(store: KeyStore) -> None:
    wall = [now_ms()]
    verifier = KeyVerifier(store, SECRET, cache_seconds=3600, wall_clock_ms=lambda: wall[0])
    issued = await store.create(["default"], expires_ms=wall[0] + 5000)
    await verifier.verify(issued.key)
    wall[0] += 5000
    with pytest.raises(KeyInvalid):
        await verifier.verify(issued.key)


async def test_cached_verification_does_no_database_io(
    store: KeyStore, verifier: KeyVerifier, statements: StatementCounter, clock: FakeClock
) -> None:
    issued = await store.create(["default"])
    statements.count = 0
    await verifier.verify(issued.key)
    assert statements.count > 0  # the first verification reads the database
    statements.count = 0
    for _ in range(50):
        clock.now += 0.01
        await verifier.verify(issued.key)
    assert statements.count == 0
    clock.now += 1.0
    await verifier.verify(issued.key)
    assert statements.count > 0  # past cache_seconds the database is asked again


async def test_unknown_keys_are_cached_too(verifier: KeyVerifier, statements: StatementCounter) -> None:
    for _ in range(2):
        with pytest.raises(KeyInvalid):
            await verifier.verify("sk-abc-not-a-real-key")
    first_read = statements.count
    assert first_read > 0
    with pytest.raises(KeyInvalid):
        await verifier.verify("sk-abc-not-a-real-key")
    assert statements.count == first_read


async def test_unknown_key_cache_is_bounded(store: KeyStore) -> None:
    verifier = KeyVerifier(store, SECRET, cache_seconds=60, max_unknown_entries=5)
    issued = await store.create(["default"])
    await verifier.verify(issued.key)
    for i in range(20):
        with pytest.raises(KeyInvalid):
            await verifier.verify(f"sk-abc-random-{i}")
    assert verifier.cached_entries == 6  # 5 unknown + the valid key, which random keys cannot evict


async def test_revocation_is_seen_after_cache_seconds(
    store: KeyStore, verifier: KeyVerifier, clock: FakeClock
) -> None:
    issued = await store.create(["default"])
    await verifier.verify(issued.key)
    await store.revoke(issued.record.id)  # as another replica would: this verifier is not told
    clock.now += 0.5
    await verifier.verify(issued.key)  # still trusted from memory
    clock.now += 0.5
    with pytest.raises(KeyInvalid):
        await verifier.verify(issued.key)


async def test_invalidate_drops_cached_entries(store: KeyStore, verifier: KeyVerifier) -> None:
    one = await store.create(["default"])
    two = await store.create(["default"])
    await verifier.verify(one.key)
    await verifier.verify(two.key)
    await store.revoke(one.record.id)
    await store.revoke(two.record.id)
    verifier.invalidate(one.record.id)
    with pytest.raises(KeyInvalid):
        await verifier.verify(one.key)
    await verifier.verify(two.key)  # other keys stay cached
    verifier.invalidate()
    with pytest.raises(KeyInvalid):
        await verifier.verify(two.key)


async def test_new_key_imported_after_a_miss_is_seen_after_invalidate(
    store: KeyStore, verifier: KeyVerifier
) -> None:
    key = "imported-key-0123456789abcdef"
    with pytest.raises(KeyInvalid):
        await verifier.verify(key)
    await store.create(["default"], import_key=key)
    verifier.invalidate()
    assert (await verifier.verify(key)).apps == frozenset({"default"})


async def test_concurrent_first_verifications_share_one_read(
    store: KeyStore, verifier: KeyVerifier, statements: StatementCounter
) -> None:
    issued = await store.create(["default"])
    statements.count = 0
    await verifier.verify(issued.key)
    reads_for_one = statements.count
    verifier.invalidate()
    statements.count = 0
    records = await asyncio.gather(*(verifier.verify(issued.key) for _ in range(20)))
    assert {r.id for r in records} == {issued.record.id}
    assert statements.count == reads_for_one


async def test_last_used_is_written_by_flush(store: KeyStore, verifier: KeyVerifier) -> None:
    issued = await store.create(["default"])
    before = now_ms()
    await verifier.verify(issued.key)
    assert (await store.resolve(issued.record.id)).last_used_ms is None  # verify never writes
    await verifier.flush_last_used()
    last_used = (await store.resolve(issued.record.id)).last_used_ms
    assert last_used is not None
    assert before <= last_used <= now_ms()


async def test_flush_without_uses_does_no_io(verifier: KeyVerifier, statements: StatementCounter) -> None:
    await verifier.flush_last_used()
    assert statements.count == 0


async def test_failed_flush_keeps_uses_for_retry(store: KeyStore, engine: AsyncEngine) -> None:
    verifier = KeyVerifier(store, SECRET, cache_seconds=60)
    issued = await store.create(["default"])
    await verifier.verify(issued.key)

    def fail(*_args: Any) -> None:
        raise RuntimeError("database down")

    event.listen(engine.sync_engine, "before_cursor_execute", fail)
    with pytest.raises(RuntimeError):
        await verifier.flush_last_used()
    event.remove(engine.sync_engine, "before_cursor_execute", fail)
    await verifier.flush_last_used()
    assert (await store.resolve(issued.record.id)).last_used_ms is not None


async def test_background_loop_writes_last_used(store: KeyStore) -> None:
    verifier = KeyVerifier(store, SECRET, cache_seconds=60, touch_interval_seconds=0.01)
    issued = await store.create(["default"])
    verifier.start()
    verifier.start()  # idempotent
    try:
        await verifier.verify(issued.key)
        await eventually(lambda: _last_used_written(store, issued.record.id))
    finally:
        await verifier.aclose()


async def test_aclose_flushes_remaining_uses(store: KeyStore) -> None:
    verifier = KeyVerifier(store, SECRET, cache_seconds=60, touch_interval_seconds=3600)
    issued = await store.create(["default"])
    verifier.start()
    await verifier.verify(issued.key)
    await verifier.aclose()
    assert (await store.resolve(issued.record.id)).last_used_ms is not None


async def test_background_loop_survives_a_failed_write(
    store: KeyStore, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = KeyVerifier(store, SECRET, cache_seconds=60, touch_interval_seconds=0.01)
    issued = await store.create(["default"])
    await verifier.verify(issued.key)

    def fail(*_args: Any) -> None:
        raise RuntimeError("database down")

    event.listen(engine.sync_engine, "before_cursor_execute", fail)
    verifier.start()
    try:
        await eventually(lambda: _logged(caplog, "will retry"))
        event.remove(engine.sync_engine, "before_cursor_execute", fail)
        await eventually(lambda: _last_used_written(store, issued.record.id))
    finally:
        if event.contains(engine.sync_engine, "before_cursor_execute", fail):
            event.remove(engine.sync_engine, "before_cursor_execute", fail)
        await verifier.aclose()


async def test_last_used_is_written_at_most_once_per_interval(
    store: KeyStore, clock: FakeClock, statements: StatementCounter
) -> None:
    wall = [now_ms()]
    verifier = KeyVerifier(
        store,
        SECRET,
        cache_seconds=3600,
        touch_interval_seconds=60,
        clock=clock,
        wall_clock_ms=lambda: wall[0],
    )
    issued = await store.create(["default"])
    await verifier.verify(issued.key)
    await verifier.flush_last_used()  # the first use is written at once
    assert (await store.resolve(issued.record.id)).last_used_ms == wall[0]

    wall[0] += 30_000
    clock.now += 30
    await verifier.verify(issued.key)
    statements.count = 0
    await verifier.flush_last_used()  # written 30 s ago: not due yet
    assert statements.count == 0

    clock.now += 30
    await verifier.flush_last_used()
    assert (await store.resolve(issued.record.id)).last_used_ms == wall[0]

    wall[0] += 1000
    await verifier.verify(issued.key)
    await verifier.flush_last_used(force=True)  # shutdown: everything pending, due or not
    assert (await store.resolve(issued.record.id)).last_used_ms == wall[0]


async def test_a_key_in_constant_use_is_written_once_per_interval(
    store: KeyStore, engine: AsyncEngine
) -> None:
    """The README's promise: `last_used_at` at most once per interval per key (a minute by
    default), however busy the key is; the background loop ticks four times per interval."""
    interval = 0.2
    verifier = KeyVerifier(store, SECRET, cache_seconds=60, touch_interval_seconds=interval)
    issued = await store.create(["default"])
    writes = StatementCounter()

    def count_updates(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE APP_KEYS"):
            writes()

    event.listen(engine.sync_engine, "before_cursor_execute", count_updates)
    verifier.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < 5 * interval:
            await verifier.verify(issued.key)
            await asyncio.sleep(interval / 20)
    finally:
        elapsed = time.monotonic() - started
        await verifier.aclose()
        event.remove(engine.sync_engine, "before_cursor_execute", count_updates)
    # A slow machine ticks less, never more: at most one write per interval begun, plus aclose's.
    assert 1 <= writes.count <= elapsed / interval + 2, (writes.count, elapsed)
