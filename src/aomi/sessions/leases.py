"""Session ownership by lease: the one module that says how a turn claims its session, how the
claim is renewed while the turn runs, and how a claim that lapsed is recovered.

A turn claims its session (status `processing`, this process as owner, a deadline) in the
transaction that commits its user message; the owner renews the leases of the turns it runs;
a processing session whose lease lapsed (the owner crashed, was killed or lost its host, or a
turn's end never reached the database) is an orphan: it is marked `interrupted`, and a
`SystemError` says why (the session manager appends it, since it owns the event log).

A turn parked for the wallet (`parked_until_ms` set) is `processing` without a lease and is no
orphan: its own deadline applies (`TurnRunner.expire_parked`), and a new turn may claim it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db import tables as t
from aomi.sessions.model import Status
from aomi.timeutil import now_ms

ORPHAN_MESSAGE = "The previous turn was interrupted: the server running it stopped before it finished."
OUTAGE_ORPHAN_MESSAGE = (
    "The previous turn was interrupted: the database became unavailable before its end was recorded."
)

_c = t.sessions.c


def _lapsed(now: int) -> ColumnElement[bool]:
    return or_(_c.lease_expires_ms.is_(None), _c.lease_expires_ms < now)


def claimable(now: int) -> ColumnElement[bool]:
    """A session a new turn may claim: not processing, or processing under a lapsed lease."""
    return or_(_c.status != Status.PROCESSING.value, _lapsed(now))


class Leases:
    def __init__(self, engine: AsyncEngine, owner: str, lease_seconds: float) -> None:
        self._engine = engine
        self.owner = owner
        self.lease_ms = int(lease_seconds * 1000)
        self._outages: set[str] = set()  # turns here whose end the database never heard

    def claim_values(self, now: int) -> dict[str, Any]:
        """The columns a claim writes (with the claimable condition, in the turn's first transaction)."""
        return {
            "status": Status.PROCESSING.value,
            "lease_owner": self.owner,
            "lease_expires_ms": now + self.lease_ms,
        }

    async def renew(self, session_ids: Collection[str]) -> None:
        """Extend the leases of the turns running here (only these: a turn whose end failed to be
        written lets its lease lapse, and recovery then settles the row)."""
        if not session_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t.sessions)
                .where(
                    _c.id.in_(list(session_ids)),
                    _c.lease_owner == self.owner,
                    _c.status == Status.PROCESSING.value,
                )
                .values(lease_expires_ms=now_ms() + self.lease_ms)
            )

    async def orphaned_ids(self) -> list[str]:
        """Processing sessions whose lease lapsed (a parked turn has none, and is no orphan)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_c.id).where(
                    _c.status == Status.PROCESSING.value, _lapsed(now_ms()), _c.parked_until_ms.is_(None)
                )
            )
            return [r.id for r in rows]

    async def claim_orphan(self, session_id: str) -> bool:
        """Mark an orphan interrupted; False when it no longer is one (someone settled it first)."""
        now = now_ms()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t.sessions)
                .where(
                    _c.id == session_id,
                    _c.status == Status.PROCESSING.value,
                    _lapsed(now),
                    _c.parked_until_ms.is_(None),
                )
                .values(
                    status=Status.INTERRUPTED.value, lease_owner=None, lease_expires_ms=None, updated_ms=now
                )
            )
        return bool(result.rowcount)

    def note_outage(self, session_id: str) -> None:
        """A turn here ended but the database never heard it: its recovery will say so."""
        self._outages.add(session_id)

    def orphan_message(self, session_id: str) -> str:
        """Why an orphan was interrupted, for its SystemError."""
        if session_id in self._outages:
            self._outages.discard(session_id)
            return OUTAGE_ORPHAN_MESSAGE
        return ORPHAN_MESSAGE
