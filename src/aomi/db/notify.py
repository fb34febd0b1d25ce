"""Fan-out between replicas on one PostgreSQL (SPEC 6): `NOTIFY` sent in the writing
transaction (so it is delivered only if that commits), and one listening connection per
process. Payloads carry ids only (`key:<id>`); receivers read rows themselves.

SQLite is single-process: there `notify` does nothing and no listener runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("aomi.db")

CHANNEL = "aomi"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def notify(conn: AsyncConnection, kind: str, ident: str) -> None:
    """Tell every replica, once this transaction commits, that ``kind`` ``ident`` changed."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": f"{kind}:{ident}"})


Handler = Callable[[str], None]


class Listener:
    """One asyncpg connection that `LISTEN`s and calls ``handlers[kind](ident)`` per payload.

    A lost connection is re-opened (backing off up to 5 s); notifications sent meanwhile are lost,
    so ``on_gap`` runs after every reconnect (callers drop what they cached)."""

    def __init__(
        self, database_url: str, handlers: Mapping[str, Handler], on_gap: Callable[[], None]
    ) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.handlers = dict(handlers)
        self.on_gap = on_gap
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        kind, _, ident = payload.partition(":")
        handler = self.handlers.get(kind)
        if handler is None:
            return
        try:
            handler(ident)
        except Exception:
            log.exception("handling the notification %r failed", payload)

    async def _run(self) -> None:
        delay, connected_before = 0.1, False
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning(
                    "cannot listen for changes from other replicas (%s); retrying", type(exc).__name__
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(CHANNEL, self._received)
                if connected_before:
                    self.on_gap()
                connected_before, delay = True, 0.1
                self.ready.set()
                await lost.wait()
                log.warning("the connection listening for other replicas' changes was lost; reconnecting")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Listen in the background; returns once the first connection listens, or after
        ``wait_seconds`` (it keeps trying; until then other replicas' changes are not heard)."""
        self._task = asyncio.create_task(self._run(), name="aomi-listen")
        try:
            await asyncio.wait_for(self.ready.wait(), wait_seconds)
        except TimeoutError:
            log.warning("not yet listening for other replicas' changes; serving anyway")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
