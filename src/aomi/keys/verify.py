"""App key verification with a short-lived in-memory cache and batched ``last_used`` writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aomi.errors import KeyInvalid
from aomi.keys.generate import IMPORT_MAX_CHARS, hash_key
from aomi.keys.store import KeyRecord, KeyStore
from aomi.timeutil import now_ms

log = logging.getLogger("aomi.keys")

INVALID_MESSAGE = "the App key is unknown, revoked or expired"


@dataclass(frozen=True)
class _Entry:
    record: KeyRecord | None
    fetched_at: float


class _Lru:
    """A size-bounded mapping that forgets the least recently used entry first."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None:
            self._data.move_to_end(key)
        return entry

    def put(self, key: str, entry: _Entry) -> None:
        self._data[key] = entry
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def drop_record(self, key_id: str) -> None:
        for key in [k for k, e in self._data.items() if e.record is not None and e.record.id == key_id]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class KeyVerifier:
    """Checks presented App keys; a key verified less than ``cache_seconds`` ago costs no database I/O.

    Known and unknown keys are cached apart, so a flood of random keys can only evict other
    unknown keys. Uses are remembered in memory and written by `flush_last_used` (never by
    `verify`), at most once per ``touch_interval_seconds`` per key; `start` runs it in the background.
    """

    def __init__(
        self,
        store: KeyStore,
        secret: bytes,
        cache_seconds: float,
        touch_interval_seconds: float = 60.0,
        *,
        max_known_entries: int = 100_000,
        max_unknown_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = now_ms,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._on_lookup = on_lookup
        """Told of every verification: True when memory answered it (for metrics)."""
        self._store = store
        self._secret = secret
        self._cache_seconds = cache_seconds
        self._touch_interval = touch_interval_seconds
        self._clock = clock
        self._wall_ms = wall_clock_ms
        self._found = _Lru(max_known_entries)
        self._unknown = _Lru(max_unknown_entries)
        self._generation = 0  # bumped by invalidate: reads begun earlier are not cached
        self._inflight: dict[str, asyncio.Task[KeyRecord | None]] = {}
        self._uses: dict[str, int] = {}  # key id -> latest use (ms), not yet written
        self._written_at: dict[str, float] = {}  # key id -> clock() of its last write
        self._loop_task: asyncio.Task[None] | None = None

    async def verify(self, key: str, *, max_age: float | None = None) -> KeyRecord:
        """The active key's record; `KeyInvalid` (without echoing the key) otherwise.

        ``max_age`` trusts a cached verification for at most that long (less than the cache's own).
        """
        if not key or len(key) > IMPORT_MAX_CHARS:
            raise KeyInvalid(INVALID_MESSAGE)
        key_hash = hash_key(self._secret, key)
        entry = self._found.get(key_hash) or self._unknown.get(key_hash)
        trusted = self._cache_seconds if max_age is None else min(max_age, self._cache_seconds)
        cached = entry is not None and self._clock() - entry.fetched_at < trusted
        if self._on_lookup is not None:
            self._on_lookup(cached)
        if cached:
            assert entry is not None
            record = entry.record
        else:
            record = await self._load_once(key_hash)
        now = self._wall_ms()
        # Expiry is checked on every call, so a cached key still stops at its deadline.
        if record is None or not record.is_active(now):
            raise KeyInvalid(INVALID_MESSAGE)
        if self._uses.get(record.id, -1) < now:
            self._uses[record.id] = now
        return record

    async def _load_once(self, key_hash: str) -> KeyRecord | None:
        # Concurrent first verifications of one key share one database read.
        task = self._inflight.get(key_hash)
        if task is None:
            task = asyncio.create_task(self._load(key_hash))
            self._inflight[key_hash] = task
            task.add_done_callback(lambda t: self._load_done(key_hash, t))
        # shield: a caller that gives up must not cancel the read others wait on.
        return await asyncio.shield(task)

    def _load_done(self, key_hash: str, task: asyncio.Task[KeyRecord | None]) -> None:
        self._inflight.pop(key_hash, None)
        if not task.cancelled():
            task.exception()  # marks it retrieved even when every waiter was cancelled

    async def _load(self, key_hash: str) -> KeyRecord | None:
        fetched_at, generation = self._clock(), self._generation
        record = await self._store.find_by_hash(key_hash)
        if generation != self._generation:
            return record
        entry = _Entry(record, fetched_at)
        if record is None:
            self._found.pop(key_hash)
            self._unknown.put(key_hash, entry)
        else:
            self._unknown.pop(key_hash)
            self._found.put(key_hash, entry)
        return record

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget cached verifications: of one key id, or all of them when ``None``."""
        self._generation += 1
        if key_id is None:
            self._found.clear()
            self._unknown.clear()
        else:
            self._found.drop_record(key_id)

    @property
    def cached_entries(self) -> int:
        return len(self._found) + len(self._unknown)

    async def flush_last_used(self, *, force: bool = False) -> None:
        """Write remembered uses in one transaction, each key at most once per touch interval.

        ``force`` writes every pending use (at shutdown). A failed write is kept for retry.
        """
        now = self._clock()
        # Forget write times older than the interval: such keys are due anyway.
        self._written_at = {k: t for k, t in self._written_at.items() if now - t < self._touch_interval}
        due = {k: ms for k, ms in self._uses.items() if force or k not in self._written_at}
        if not due:
            return
        for key_id in due:
            del self._uses[key_id]
        try:
            await self._store.touch_last_used(due)
        except BaseException:
            for key_id, ms in due.items():
                self._uses[key_id] = max(ms, self._uses.get(key_id, ms))
            raise
        self._written_at.update(dict.fromkeys(due, now))

    async def run_touch_loop(self) -> None:
        """Flush due uses until cancelled; a failed write is retried on the next tick."""
        # Ticking faster than the interval writes a key between 1 and 1.25 intervals after the last
        # write; a key used all the time is still written once per interval, never once per tick.
        tick = self._touch_interval / 4
        while True:
            await asyncio.sleep(tick)
            try:
                await self.flush_last_used()
            except Exception:
                log.warning("could not record App key use times; will retry", exc_info=True)

    def start(self) -> None:
        """Run `run_touch_loop` in the background (idempotent)."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self.run_touch_loop(), name="aomi-key-touch")

    async def aclose(self) -> None:
        """Stop the background loop and write the remaining uses."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self.flush_last_used(force=True)
