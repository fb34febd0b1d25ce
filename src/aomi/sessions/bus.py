"""In-process fan-out of session events to live subscribers (the /api/updates streams).

Publishing never waits: each subscriber has a bounded queue, and one that falls behind is
flagged ``overflowed`` and catches up from the persisted event log instead. Every event is
persisted before it is published, so the log is always a superset of what a queue held.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aomi.sessions.model import Event


class Subscription:
    def __init__(self, session_id: str, limit: int) -> None:
        self.session_id = session_id
        self.limit = limit
        # Holds at most `limit` events plus one None: the sign to resync from the log.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False
        self.closed = False

    def close(self) -> None:
        """End the subscription: the reader gets None and finds ``closed`` set."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def offer(self, event: Event) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    def resync(self) -> None:
        """Another replica wrote events: the reader re-reads the log from what it sent last."""
        if not self.overflowed and not self.closed:
            self.overflowed = True
            self.queue.put_nowait(None)

    async def next(self) -> Event | None:
        """The next event; None when the subscriber fell behind and must resync from the log,
        or when the subscription was closed."""
        return await self.queue.get()

    def reset(self) -> None:
        """Drop what is queued (the caller re-reads the log) and take events again."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.overflowed = False


class EventBus:
    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, session_id: str) -> Subscription:
        sub = Subscription(session_id, self.queue_size)
        self._subscribers[session_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.session_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.session_id]

    def publish(self, session_id: str, event: Event) -> None:
        for sub in self._subscribers.get(session_id, ()):
            sub.offer(event)

    def resync(self, session_id: str) -> None:
        for sub in self._subscribers.get(session_id, ()):
            sub.resync()

    def subscribers(self, session_id: str) -> list[Subscription]:
        return list(self._subscribers.get(session_id, ()))

    def subscriber_count(self, session_id: str | None = None) -> int:
        if session_id is not None:
            return len(self._subscribers.get(session_id, ()))
        return sum(len(s) for s in self._subscribers.values())
