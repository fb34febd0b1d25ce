"""SessionManager: the three-tier load (memory -> database -> create) and the event log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aomi.errors import SessionNotFound
from aomi.sessions.bus import EventBus
from aomi.sessions.leases import Leases
from aomi.sessions.model import HTTP_EVENT_KINDS, SYSTEM_ERROR, Event, Message, Session, Status
from aomi.sessions.store import SessionStore
from aomi.timeutil import now_ms

log = logging.getLogger("aomi.sessions")


class SessionManager:
    def __init__(
        self, store: SessionStore, bus: EventBus, leases: Leases, *, cache_size: int, idle_seconds: float
    ) -> None:
        self.store = store
        self.bus = bus
        self.leases = leases
        self.owner = leases.owner
        store.origin = self.owner
        self.cache_size = cache_size
        self.idle_seconds = idle_seconds
        self._cache: OrderedDict[str, Session] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    # -- loading -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self, session_id: str) -> AsyncIterator[None]:
        """Per-id lock for load/create, so concurrent first requests make one session."""
        lock, users = self._locks.get(session_id, (asyncio.Lock(), 0))
        self._locks[session_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[session_id]
            if users == 1:
                del self._locks[session_id]
            else:
                self._locks[session_id] = (lock, users - 1)

    def _cached(self, session_id: str) -> Session | None:
        s = self._cache.get(session_id)
        if s is None:
            return None
        if s.stale and s.task is None and not s.starting:
            # Another replica wrote it: read it again (a turn running here finishes on its copy).
            del self._cache[session_id]
            return None
        if s.is_processing and s.lease_owner != self.owner:
            # Processing elsewhere (another replica, or a crashed one): the database knows more.
            return None
        s.last_access = time.monotonic()
        self._cache.move_to_end(session_id)
        return s

    def peek(self, session_id: str) -> Session | None:
        """The session if this process holds a fresh copy in memory (no database access)."""
        return self._cached(session_id)

    async def get(self, session_id: str) -> Session | None:
        """Memory, else database; None when the session does not exist. Creates nothing."""
        s = self._cached(session_id)
        if s is not None:
            return s
        async with self._locked(session_id):
            return self._cached(session_id) or await self._load(session_id)

    async def get_or_create(self, session_id: str, app: str, model: str) -> tuple[Session, bool]:
        """The session, created (bound to ``app``) when unknown; True when this call created it."""
        s = self._cached(session_id)
        if s is not None:
            return s, False
        async with self._locked(session_id):
            s = self._cached(session_id) or await self._load(session_id)
            if s is not None:
                return s, False
            s = Session(id=session_id, app=app, model=model)
            if not await self.store.create(s):  # another replica created it first
                loaded = await self._load(session_id)
                assert loaded is not None
                return loaded, False
            self._remember(s)
            return s, True

    async def _load(self, session_id: str) -> Session | None:
        s = await self.store.load(session_id)
        if s is None:
            return None
        if s.is_processing and not s.parked:  # a parked turn has no lease and is no orphan
            if s.lease_expires_ms is not None and s.lease_expires_ms >= now_ms():
                return s  # owned by a live process: served, not cached
            if not await self._recover(s):
                return await self._load(session_id)  # someone else settled it first: read again
        self._remember(s)
        return s

    def _remember(self, s: Session) -> None:
        s.last_access = time.monotonic()
        self._cache[s.id] = s
        self._cache.move_to_end(s.id)
        if len(self._cache) > self.cache_size:
            self.evict()

    def evict(self) -> int:
        """Drop idle sessions and, over the size bound, the least recently used; never a running turn.

        The cache is in access order, so the walk stops at the first recent entry once the size fits.
        """
        deadline = time.monotonic() - self.idle_seconds
        excess = len(self._cache) - self.cache_size
        victims: list[str] = []
        for sid, s in self._cache.items():
            if len(victims) >= excess and s.last_access > deadline:
                break
            if s.idle_here:
                victims.append(sid)
        for sid in victims:
            del self._cache[sid]
        return len(victims)

    def remote_change(self, payload: str) -> None:
        """A change notification (`<session id>:<origin>`) from another replica: the cached copy
        is stale, and local event streams re-read the log."""
        session_id, _, origin = payload.partition(":")
        if origin == self.owner:
            return
        s = self._cache.get(session_id)
        if s is not None:
            s.stale = True
        self.bus.resync(session_id)

    def note_outage(self, session_id: str) -> None:
        """A turn's end could not be written: drop the session from memory (the database is the
        truth once it is back) and let recovery say the database was the cause."""
        self.leases.note_outage(session_id)
        self.forget(session_id)

    def forget(self, session_id: str) -> None:
        self._cache.pop(session_id, None)

    def forget_all(self) -> None:
        """Every cached session is read again on its next use (a turn running here keeps its own);
        every event stream re-reads the log."""
        for sid, s in self._cache.items():
            s.stale = True
            self.bus.resync(sid)

    def running(self) -> list[Session]:
        return [s for s in self._cache.values() if s.task is not None]

    def __len__(self) -> int:
        return len(self._cache)

    # -- crash recovery ------------------------------------------------------------------------

    async def _recover(self, s: Session) -> bool:
        """A processing session whose owner is gone becomes interrupted, with a SystemError saying why."""
        if not await self.leases.claim_orphan(s.id):
            return False
        s.status = Status.INTERRUPTED
        s.lease_owner = s.lease_expires_ms = None
        streaming = [m for m in s.messages if m.is_streaming]
        for m in streaming:
            m.is_streaming = False
        await self.store.save_messages(s.id, streaming)
        await self.add_event(s, SYSTEM_ERROR, self.leases.orphan_message(s.id))
        log.warning("session %s: recovered an orphaned turn (marked interrupted)", s.id)
        return True

    async def recover_orphans(self) -> int:
        """Sweep the database for orphaned turns (run at start-up and periodically)."""
        count = 0
        for sid in await self.leases.orphaned_ids():
            cached = self._cache.get(sid)
            if cached is not None and cached.lease_owner == self.owner:
                continue
            self._cache.pop(sid, None)
            async with self._locked(sid):
                if await self._load(sid) is not None:
                    count += 1
        return count

    # -- events and snapshots ------------------------------------------------------------------

    async def add_event(self, s: Session, kind: str, payload: Any) -> Event:
        """Append to the session's event log: persisted, then published to live subscribers.

        HTTP-kind events also wait in the session for the next snapshot.
        """
        async with self.logging_events(s, (kind, payload)) as events:
            await self.store.append_events(s.id, events)
        return events[0]

    @asynccontextmanager
    async def logging_events(self, s: Session, *entries: tuple[str, Any]) -> AsyncIterator[list[Event]]:
        """Number events for the caller to write in its own transaction (with other changes);
        once the block ends without an error they count as logged: published to live
        subscribers, HTTP-kind ones kept for the next snapshot. An error logs nothing."""
        # One append at a time per session: subscribers see events in sequence order.
        async with s.event_lock:
            events = [
                Event(seq=s.last_event_seq + i, kind=kind, payload=payload)
                for i, (kind, payload) in enumerate(entries, start=1)
            ]
            yield events
            for event in events:
                s.last_event_seq = event.seq
                if event.kind in HTTP_EVENT_KINDS:
                    s.pending_events.append(event)
                    s.changed()
                self.bus.publish(s.id, event)

    async def snapshot(self, s: Session) -> bytes:
        """The session's snapshot; HTTP-kind events in it are marked delivered (each is delivered once)."""
        data = s.snapshot()
        if s.pending_events:
            delivered, s.pending_events = s.pending_events, []
            for e in delivered:
                e.http_delivered = True
            await self.store.mark_delivered(s.id, [e.seq for e in delivered])
        return data

    async def save_messages(self, s: Session, msgs: Iterable[Message]) -> None:
        await self.store.save_messages(s.id, msgs)

    async def add_message(self, s: Session, msg: Message, kind: str, payload: Any) -> None:
        """A message from outside a turn and its event, numbered by the database, in one commit."""
        async with self.logging_events(s, (kind, payload)) as events:
            await self.store.add_messages(s.id, [msg], events)
            s.add_message(msg)

    async def delete(self, s: Session) -> None:
        """Remove the session, its messages and events from the database and from memory."""
        await self.store.delete(s.id)
        self.forget(s.id)

    async def require(self, session_id: str) -> Session:
        s = await self.get(session_id)
        if s is None:
            raise SessionNotFound(f"no session {session_id}")
        return s
