"""Listing sessions, newest activity first, keyset-paginated: a wallet's threads (the public
`GET /api/sessions`) and the operator's search (`GET /admin/api/sessions`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db import tables as t
from aomi.sessions.model import Session, SessionInfo
from aomi.timeutil import iso_ms


@dataclass(frozen=True)
class SessionSummary(SessionInfo):
    """A listed session with what an operator looks for besides its title."""

    wallet_address: str | None
    chain_id: int | None
    status: str

    def admin_json(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "app": self.app,
            "title": self.title,
            "wallet": self.wallet_address,
            "chain_id": self.chain_id,
            "status": self.status,
            "archived": self.is_archived,
            "created_at": iso_ms(self.created_ms),
            "updated_at": iso_ms(self.updated_ms),
        }


@dataclass(frozen=True)
class SessionQuery:
    limit: int
    before: tuple[int, str] | None = None
    """The (updated_ms, id) of the last session of the previous page."""
    wallet: str | None = None
    apps: Collection[str] | None = None
    text: str | None = None
    """Matches a part of the title, the start of the id or a part of the wallet address."""


async def list_sessions(engine: AsyncEngine, q: SessionQuery) -> list[SessionSummary]:
    c = t.sessions.c
    query = select(
        c.id, c.title, c.archived, c.app, c.created_ms, c.updated_ms, c.wallet_address, c.chain_id, c.status
    )
    if q.wallet is not None:
        query = query.where(c.wallet_address == q.wallet)
    if q.apps is not None:
        query = query.where(c.app.in_(list(q.apps)))
    if q.text:
        needle = q.text.strip()
        query = query.where(
            or_(
                c.title.icontains(needle, autoescape=True),
                c.id.startswith(needle.lower(), autoescape=True),
                c.wallet_address.icontains(needle, autoescape=True),
            )
        )
    if q.before is not None:
        ms, sid = q.before
        query = query.where(or_(c.updated_ms < ms, and_(c.updated_ms == ms, c.id < sid)))
    query = query.order_by(c.updated_ms.desc(), c.id.desc()).limit(q.limit)
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        # The columns are selected in the order of the dataclass fields.
        return [SessionSummary(*row) for row in rows]


def summary_of(s: Session) -> SessionSummary:
    """The listing row of a loaded session."""
    wallet = s.wallet
    return SessionSummary(
        s.id,
        s.title,
        s.archived,
        s.app,
        s.created_ms,
        s.updated_ms,
        wallet.address if wallet is not None else None,
        wallet.chain_id if wallet is not None else None,
        s.status.value,
    )
