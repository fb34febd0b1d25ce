"""The wallet-request rows of parked turns, written in the session store's transactions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aomi.db import tables as t
from aomi.wallet.requests import RequestStatus, WalletRequest

_w = t.wallet_requests.c


def _request(row: Row[Any]) -> WalletRequest:
    return WalletRequest(
        id=row.id,
        kind=row.kind,
        tool_call_id=row.tool_call_id,
        payload=json.loads(row.payload),
        message_seq=row.message_seq,
        key_id=row.key_id,
        expires_ms=row.expires_ms,
        created_ms=row.created_ms,
        status=RequestStatus(row.status),
        answer=json.loads(row.answer) if row.answer else None,
    )


async def open_requests(conn: AsyncConnection, session_id: str) -> list[WalletRequest]:
    """The requests whose answers the agent has not been given yet, oldest first."""
    rows = await conn.execute(
        select(t.wallet_requests).where(_w.session_id == session_id, _w.closed_ms.is_(None)).order_by(_w.id)
    )
    return [_request(r) for r in rows]


async def insert_requests(conn: AsyncConnection, session_id: str, requests: Sequence[WalletRequest]) -> None:
    if not requests:
        return
    await conn.execute(
        t.wallet_requests.insert(),
        [
            {
                "session_id": session_id,
                "id": r.id,
                "kind": r.kind,
                "tool_call_id": r.tool_call_id,
                "payload": json.dumps(r.payload),
                "message_seq": r.message_seq,
                "key_id": r.key_id,
                "status": r.status.value,
                "answer": None,
                "created_ms": r.created_ms,
                "expires_ms": r.expires_ms,
            }
            for r in requests
        ],
    )


async def answer_requests(
    conn: AsyncConnection, session_id: str, answers: Sequence[WalletRequest], now: int
) -> list[int]:
    """Store the answers of requests still pending; the ids that were (an answer that lost a
    race with another one, or with an expiry, changes nothing)."""
    done = []
    for r in answers:
        result = await conn.execute(
            update(t.wallet_requests)
            .where(_w.session_id == session_id, _w.id == r.id, _w.status == RequestStatus.PENDING.value)
            .values(status=r.status.value, answer=json.dumps(r.answer) if r.answer else None, answered_ms=now)
        )
        if result.rowcount:
            done.append(r.id)
    return done


async def close_open(
    conn: AsyncConnection, session_id: str, now: int, pending_as: RequestStatus
) -> list[WalletRequest]:
    """Hand the open requests' answers to the agent (closing them); the ones still pending get
    ``pending_as`` (superseded, expired, cancelled). The closed requests, as now stored."""
    await conn.execute(
        update(t.wallet_requests)
        .where(
            _w.session_id == session_id,
            _w.closed_ms.is_(None),
            _w.status == RequestStatus.PENDING.value,
        )
        .values(status=pending_as.value, answered_ms=now)
    )
    closed = await open_requests(conn, session_id)
    await conn.execute(
        update(t.wallet_requests)
        .where(_w.session_id == session_id, _w.closed_ms.is_(None))
        .values(closed_ms=now)
    )
    return closed


async def still_pending(conn: AsyncConnection, session_id: str) -> int:
    return int(
        await conn.scalar(
            select(func.count()).where(
                _w.session_id == session_id,
                _w.closed_ms.is_(None),
                _w.status == RequestStatus.PENDING.value,
            )
        )
        or 0
    )
