"""Session persistence: the only module that reads or writes session rows."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aomi.db import tables as t
from aomi.db.notify import notify
from aomi.errors import SessionNotFound
from aomi.sessions.leases import Leases, claimable
from aomi.sessions.listing import SessionQuery, SessionSummary, list_sessions
from aomi.sessions.model import (
    HTTP_EVENT_KINDS,
    SYSTEM_EVENT_KINDS,
    Event,
    Message,
    Sender,
    Session,
    Status,
    session_owner,
)
from aomi.sessions.parking import (
    answer_requests,
    close_open,
    insert_requests,
    open_requests,
    still_pending,
)
from aomi.sessions.user_state import Wallet
from aomi.timeutil import now_ms
from aomi.usage import TurnUsage, insert_usage
from aomi.wallet.requests import RequestStatus, WalletRequest


@dataclass(frozen=True)
class TurnStart:
    """What a turn reads in the transaction that claims the session."""

    history: list[str]
    """The model history, as `SessionStore.model_history` returns it."""
    sealed_key: str | None
    """The client's BYOK key for the turn's provider, still encrypted (None: it has none)."""
    closed: list[WalletRequest] = field(default_factory=list)
    """Wallet requests of a parked turn whose answers this run hands to the agent."""
    message_seq: int = 0
    """The first of the message numbers reserved for this run (`MESSAGE_BLOCK` of them)."""


@dataclass(frozen=True)
class TitleCharge:
    """The tokens of the model request that titled a session, billed to the turn before it."""

    usage_id: int
    input_tokens: int
    output_tokens: int


def _message_row(session_id: str, m: Message) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "seq": m.seq,
        "id": m.id,
        "sender": m.sender.value,
        "content": m.content,
        "tool_topic": m.tool_result[0] if m.tool_result else None,
        "tool_content": m.tool_result[1] if m.tool_result else None,
        "timestamp_ms": m.timestamp_ms,
        "is_streaming": m.is_streaming,
    }


MESSAGE_BLOCK = 1000
"""Message numbers a turn (or a resumed part of one) reserves when it claims the session: its
messages are numbered from them in memory, while anyone else's (a system message on another
replica) gets numbers after the block. Far more than a turn's request limit lets it write."""


def _message(row: Row[Any]) -> Message:
    tool = (row.tool_topic, row.tool_content or "") if row.tool_topic is not None else None
    return Message(
        seq=row.seq,
        id=row.id,
        sender=Sender(row.sender),
        content=row.content,
        tool_result=tool,
        timestamp_ms=row.timestamp_ms,
        is_streaming=row.is_streaming,
    )


def _event(row: Row[Any]) -> Event:
    return Event(
        seq=row.seq,
        kind=row.kind,
        payload=json.loads(row.payload),
        created_ms=row.created_ms,
        http_delivered=row.http_delivered,
    )


def _wallet(row: Row[Any]) -> Wallet | None:
    if row.wallet_address is None:
        return None
    echo = json.loads(row.user_state) if row.user_state else {"address": row.wallet_address}
    return Wallet(echo=echo, address=row.wallet_address, chain_id=row.chain_id)


# Session attributes a service may change outside a turn, and the columns each is stored in.
ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "wallet": ("wallet_address", "chain_id", "user_state"),
    "client_id": ("client_id",),
    "title": ("title",),
    "title_manual": ("title_manual",),
    "archived": ("archived",),
    "model": ("model",),
    "app": ("app",),
}


async def _exists(conn: AsyncConnection, session_id: str) -> bool:
    return await conn.scalar(select(t.sessions.c.id).where(t.sessions.c.id == session_id)) is not None


def _gone(session_id: str) -> SessionNotFound:
    return SessionNotFound(f"session {session_id} was deleted")


def _session_values(s: Session) -> dict[str, Any]:
    """Columns a session row holds, from the in-memory session."""
    return {
        "app": s.app,
        "model": s.model,
        "title": s.title,
        "title_manual": s.title_manual,
        "archived": s.archived,
        "status": s.status.value,
        "wallet_address": s.wallet_address,
        "chain_id": s.chain_id,
        "user_state": json.dumps(s.user_state) if s.user_state is not None else None,
        "client_id": s.client_id,
        "updated_ms": s.updated_ms,
        "parked_until_ms": s.parked_until_ms,
    }


# What a turn itself writes to its session row; anything else (title, wallet, archive, model)
# may have been changed meanwhile by a request on another replica and is left alone.
TURN_COLUMNS = ("status", "updated_ms", "parked_until_ms")


def _turn_values(s: Session, attributes: Collection[str] = ()) -> dict[str, Any]:
    """The turn's own columns of ``s``, and those of the ``attributes`` the turn's request changed."""
    every = _session_values(s)
    columns = {*TURN_COLUMNS, *(c for name in attributes for c in ATTRIBUTE_COLUMNS[name])}
    return {column: every[column] for column in columns}


@dataclass(frozen=True)
class HistoryWrite:
    """Model-history rows to store from position ``start`` on (rows after them are dropped)."""

    start: int
    rows: Sequence[str]


class SessionStore:
    def __init__(self, engine: AsyncEngine, origin: str = "") -> None:
        self.engine = engine
        self.origin = origin
        """This process's id in change notifications: its own are not news to it."""
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def _changed(self, conn: AsyncConnection, session_id: str) -> None:
        """Other replicas learn, once this transaction commits, that the session changed."""
        await notify(conn, "session", f"{session_id}:{self.origin}")

    async def _allocate(self, conn: AsyncConnection, session_id: str, column: str, n: int) -> int:
        """Move one of the session's counters on by ``n`` in this transaction and return its new
        value. The row lock this takes orders concurrent writers: numbers are handed out in
        commit order, so a reader never sees a later number before an earlier one. Every
        allocation is a visible change (a message or an event): other replicas are told.
        `SessionNotFound` when the session is gone."""
        c = t.sessions.c
        counter = c[column]
        value = await conn.scalar(
            update(t.sessions).where(c.id == session_id).values({counter: counter + n}).returning(counter)
        )
        if value is None:
            raise _gone(session_id)
        await self._changed(conn, session_id)
        return int(value)

    async def _reserve_messages(self, conn: AsyncConnection, session_id: str) -> int:
        """A block of `MESSAGE_BLOCK` message numbers for a turn; the first of them."""
        return await self._allocate(conn, session_id, "next_message_seq", MESSAGE_BLOCK) - MESSAGE_BLOCK

    async def load(self, session_id: str) -> Session | None:
        """The session with its messages and undelivered events: two round trips as a rule (the
        session row answers whether events wait and which wallet request id came last)."""
        e, w = t.session_events.c, t.wallet_requests.c
        waiting = (e.session_id == session_id, e.kind.in_(HTTP_EVENT_KINDS), e.http_delivered.is_(False))
        undelivered = exists().where(*waiting).label("undelivered")
        last_request = select(func.max(w.id)).where(w.session_id == session_id).scalar_subquery()
        query = select(t.sessions, undelivered, last_request.label("last_request"))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query.where(t.sessions.c.id == session_id))).first()
            if row is None:
                return None
            msgs = await conn.execute(
                select(t.messages).where(t.messages.c.session_id == session_id).order_by(t.messages.c.seq)
            )
            pending = (
                list(
                    await conn.execute(
                        select(t.session_events)
                        .where(
                            e.session_id == session_id,
                            e.kind.in_(HTTP_EVENT_KINDS),
                            e.http_delivered.is_(False),
                        )
                        .order_by(e.seq)
                    )
                )
                if row.undelivered
                else []
            )
            parked = row.parked_until_ms is not None
            return Session(
                id=row.id,
                app=row.app,
                model=row.model,
                title=row.title,
                title_manual=row.title_manual,
                archived=row.archived,
                status=Status(row.status),
                wallet=_wallet(row),
                client_id=row.client_id,
                created_ms=row.created_ms,
                updated_ms=row.updated_ms,
                messages=[_message(r) for r in msgs],
                pending_events=[_event(r) for r in pending],
                last_event_seq=max(row.event_seq, row.event_seq_base),
                lease_owner=row.lease_owner,
                lease_expires_ms=row.lease_expires_ms,
                parked_until_ms=row.parked_until_ms,
                wallet_requests=await open_requests(conn, session_id) if parked else [],
                wallet_seq=row.last_request or 0,
            )

    async def create(self, s: Session) -> bool:
        """Insert a new session; False when the id exists already (another request won).

        A session re-created under a deleted one's id numbers its events after the deleted one's.
        """
        async with self.engine.begin() as conn:
            base = await conn.scalar(
                select(t.session_tombstones.c.last_event_seq).where(t.session_tombstones.c.id == s.id)
            )
            stmt = (
                self._insert(t.sessions)
                .values(
                    id=s.id,
                    created_ms=s.created_ms,
                    event_seq_base=base or 0,
                    event_seq=base or 0,
                    **_session_values(s),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            result = await conn.execute(stmt)
        if result.rowcount:
            s.last_event_seq = base or 0
        return bool(result.rowcount)

    async def begin_turn(
        self,
        s: Session,
        user_message: Message,
        leases: Leases,
        events: Sequence[Event] = (),
        byok: tuple[str, str] | None = None,
        *,
        supersede: bool = False,
        attributes: Collection[str] = (),
    ) -> TurnStart | None:
        """Claim the session for a turn (see `leases`) and commit the user message and ``events``,
        atomically; returns the model history and, for ``byok`` = (owner, provider), that owner's
        sealed key, both read in the same transaction. A parked turn's open wallet requests are
        withdrawn (the user moved on) and returned with it, for the agent to hear.

        None when another owner holds a live lease on a processing session (nothing written).
        """
        now = now_ms()
        values = {**_turn_values(s, attributes), **leases.claim_values(now)}
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                update(t.sessions).where(t.sessions.c.id == s.id, claimable(now)).values(**values)
            )
            if not claimed.rowcount:
                if not await _exists(conn, s.id):
                    raise _gone(s.id)
                return None
            user_message.seq = (
                await self._allocate(conn, s.id, "next_message_seq", MESSAGE_BLOCK) - MESSAGE_BLOCK
            )
            await conn.execute(t.messages.insert().values(**_message_row(s.id, user_message)))
            await self._insert_events(conn, s.id, events)
            closed = await close_open(conn, s.id, now, RequestStatus.SUPERSEDED) if supersede else []
            start = await self._turn_start(conn, s.id, byok, closed, user_message.seq)
        return start

    async def _turn_start(
        self,
        conn: AsyncConnection,
        session_id: str,
        byok: tuple[str, str] | None,
        closed: list[WalletRequest],
        message_seq: int | None = None,
    ) -> TurnStart:
        history = await self._model_history(conn, session_id)
        sealed_key: str | None = None
        if byok is not None:
            k = t.provider_keys.c
            owner, provider = byok
            found = await conn.execute(select(k.ciphertext).where(k.owner == owner, k.provider == provider))
            sealed_key = found.scalar()
        if message_seq is None:  # a resumed part: it reserves numbers of its own
            message_seq = (
                await self._allocate(conn, session_id, "next_message_seq", MESSAGE_BLOCK) - MESSAGE_BLOCK
            )
        return TurnStart(history, sealed_key, closed, message_seq)

    async def park_turn(
        self,
        s: Session,
        changed: Iterable[Message],
        history: HistoryWrite | None,
        requests: Sequence[WalletRequest],
        events: Sequence[Event],
        usage: TurnUsage,
    ) -> None:
        """Park a turn that waits for the wallet, in one transaction: its messages and history so
        far, its wallet requests and their events, the usage of the part that ran; the session
        stays `processing` with no lease until ``s.parked_until_ms``."""
        values = _turn_values(s)
        values.update(status=Status.PROCESSING.value, lease_owner=None, lease_expires_ms=None)
        changed = list(changed)
        async with self.engine.begin() as conn:
            await self._write_messages(conn, s.id, changed)
            await self._write_history(conn, s.id, history)
            await insert_requests(conn, s.id, requests)
            await conn.execute(update(t.sessions).where(t.sessions.c.id == s.id).values(**values))
            await self._insert_events(conn, s.id, events)
            await insert_usage(conn, usage)

    async def settle(
        self,
        s: Session,
        answers: Sequence[WalletRequest],
        leases: Leases,
        byok: tuple[str, str] | None = None,
        *,
        pending_as: RequestStatus | None = None,
    ) -> tuple[list[int], TurnStart | None]:
        """Store wallet answers (requests still pending only); once none of the parked turn's
        requests is pending, or with ``pending_as`` (an expiry), claim the session for the turn's
        next part, in the same transaction. The ids answered, and the resumed part's start (None
        while requests still wait, or when another request resumed the turn first)."""
        now = now_ms()
        async with self.engine.begin() as conn:
            done = await answer_requests(conn, s.id, answers, now)
            await self._changed(conn, s.id)
            if pending_as is None and await still_pending(conn, s.id):
                return done, None
            c = t.sessions.c
            claimed = await conn.execute(
                update(t.sessions)
                .where(c.id == s.id, c.status == Status.PROCESSING.value, c.parked_until_ms.is_not(None))
                .values(parked_until_ms=None, **leases.claim_values(now))
            )
            if not claimed.rowcount:
                return done, None
            closed = await close_open(conn, s.id, now, pending_as or RequestStatus.EXPIRED)
            return done, await self._turn_start(conn, s.id, byok, closed)

    async def cancel_parked(self, s: Session, events: Sequence[Event]) -> bool:
        """Interrupt a parked turn: its requests are cancelled, the session `interrupted`; False
        when it was no longer parked."""
        now = now_ms()
        c = t.sessions.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t.sessions)
                .where(c.id == s.id, c.status == Status.PROCESSING.value, c.parked_until_ms.is_not(None))
                .values(status=Status.INTERRUPTED.value, parked_until_ms=None, updated_ms=now)
            )
            if not result.rowcount:
                return False
            await close_open(conn, s.id, now, RequestStatus.CANCELLED)
            await self._insert_events(conn, s.id, events)
        return True

    async def parked_due(self, now: int) -> list[str]:
        """Parked sessions whose wallet wait is over."""
        c = t.sessions.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.id).where(c.status == Status.PROCESSING.value, c.parked_until_ms < now)
            )
            return [r.id for r in rows]

    async def finish_turn(
        self,
        s: Session,
        changed: Iterable[Message],
        status: Status,
        history: HistoryWrite | None,
        events: Sequence[Event] = (),
        usage: TurnUsage | None = None,
        title: str | None = None,
    ) -> int | None:
        """Write the turn's end in one transaction: status, final message contents, the model
        history's last rows, the end's events and the turn's usage row; release the lease; an
        automatic ``title`` unless the session was titled by hand meanwhile. The usage row's id
        (None without one)."""
        values = _turn_values(s)
        values.update(status=status.value, lease_owner=None, lease_expires_ms=None)
        changed = list(changed)
        async with self.engine.begin() as conn:
            await self._write_messages(conn, s.id, changed)
            await self._write_history(conn, s.id, history)
            await conn.execute(update(t.sessions).where(t.sessions.c.id == s.id).values(**values))
            if title is not None:
                c = t.sessions.c
                await conn.execute(
                    update(t.sessions).where(c.id == s.id, c.title_manual.is_(False)).values(title=title)
                )
            await self._insert_events(conn, s.id, events)
            usage_id = await insert_usage(conn, usage) if usage is not None else None
        return usage_id

    async def save_progress(
        self, session_id: str, msgs: Iterable[Message], history: HistoryWrite | None
    ) -> None:
        """A running turn's completed messages and new model-history rows, in one transaction."""
        msgs = list(msgs)
        try:
            async with self.engine.begin() as conn:
                await self._write_messages(conn, session_id, msgs)
                await self._write_history(conn, session_id, history)
        except IntegrityError:
            await self._raise_if_gone(session_id)
            raise

    async def model_history(self, session_id: str) -> list[str]:
        """The session's model history: one JSON document per pydantic-ai message, in order."""
        async with self.engine.connect() as conn:
            return await self._model_history(conn, session_id)

    async def _model_history(self, conn: AsyncConnection, session_id: str) -> list[str]:
        rows = await conn.execute(
            select(t.model_messages.c.data)
            .where(t.model_messages.c.session_id == session_id)
            .order_by(t.model_messages.c.seq)
        )
        return [r.data for r in rows]

    async def _write_history(
        self, conn: AsyncConnection, session_id: str, history: HistoryWrite | None
    ) -> None:
        """Rows from ``history.start`` on are replaced by ``history.rows`` (usually pure appends)."""
        if history is None:
            return
        c = t.model_messages.c
        await conn.execute(delete(t.model_messages).where(c.session_id == session_id, c.seq >= history.start))
        if history.rows:
            await conn.execute(
                t.model_messages.insert(),
                [
                    {"session_id": session_id, "seq": history.start + i, "data": data}
                    for i, data in enumerate(history.rows)
                ],
            )

    async def save_messages(self, session_id: str, msgs: Iterable[Message]) -> None:
        """Write messages of this process's turn (numbered from the block it reserved)."""
        msgs = list(msgs)
        try:
            async with self.engine.begin() as conn:
                await self._write_messages(conn, session_id, msgs)
        except IntegrityError:
            await self._raise_if_gone(session_id)
            raise

    async def add_messages(
        self, session_id: str, msgs: Sequence[Message], events: Sequence[Event] = ()
    ) -> None:
        """Append messages outside a turn (system messages), numbered by the database, with
        ``events``, in one transaction."""
        async with self.engine.begin() as conn:
            last = await self._allocate(conn, session_id, "next_message_seq", len(msgs))
            for i, m in enumerate(msgs):
                m.seq = last - len(msgs) + i
            await self._write_messages(conn, session_id, msgs)
            await self._insert_events(conn, session_id, events)

    async def _write_messages(self, conn: AsyncConnection, session_id: str, msgs: Sequence[Message]) -> None:
        """Insert messages, or update the row of the same message (same id) written before: a
        retry after a commit whose answer was lost (a cancelled flush) is harmless. Another
        writer's row under that number is never touched (numbers are reserved per writer)."""
        rows = [_message_row(session_id, m) for m in msgs]
        if not rows:
            return
        stmt = self._insert(t.messages)
        stmt = stmt.on_conflict_do_update(
            index_elements=["session_id", "seq"],
            set_={
                "content": stmt.excluded.content,
                "tool_topic": stmt.excluded.tool_topic,
                "tool_content": stmt.excluded.tool_content,
                "is_streaming": stmt.excluded.is_streaming,
            },
            where=t.messages.c.id == stmt.excluded.id,
        )
        await conn.execute(stmt, rows)

    async def append_events(self, session_id: str, events: Sequence[Event]) -> None:
        try:
            async with self.engine.begin() as conn:
                await self._insert_events(conn, session_id, events)
        except IntegrityError:
            await self._raise_if_gone(session_id)
            raise

    async def _raise_if_gone(self, session_id: str) -> None:
        """After a failed insert: `SessionNotFound` when the session row was deleted meanwhile (the
        foreign key refused the row), so a write racing a delete answers 404."""
        async with self.engine.connect() as conn:
            if not await _exists(conn, session_id):
                raise _gone(session_id)

    async def _insert_events(self, conn: AsyncConnection, session_id: str, events: Sequence[Event]) -> None:
        """Insert events numbered by the database (the numbers the caller gave are replaced)."""
        if not events:
            return
        last = await self._allocate(conn, session_id, "event_seq", len(events))
        for i, event in enumerate(events):
            event.seq = last - len(events) + 1 + i
        await conn.execute(
            t.session_events.insert(),
            [
                {
                    "session_id": session_id,
                    "seq": event.seq,
                    "kind": event.kind,
                    "payload": json.dumps(event.payload),
                    "http_delivered": event.http_delivered,
                    "created_ms": event.created_ms,
                }
                for event in events
            ],
        )

    async def events_after(self, session_id: str, after_seq: int) -> list[Event]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.session_events)
                .where(t.session_events.c.session_id == session_id, t.session_events.c.seq > after_seq)
                .order_by(t.session_events.c.seq)
            )
            return [_event(r) for r in rows]

    async def system_events(self, session_id: str, count: int | None = None) -> list[Event]:
        """The session's SystemEvents, oldest first; only the last ``count`` when given."""
        query = select(t.session_events).where(
            t.session_events.c.session_id == session_id, t.session_events.c.kind.in_(SYSTEM_EVENT_KINDS)
        )
        async with self.engine.connect() as conn:
            if count is None:
                rows = list(await conn.execute(query.order_by(t.session_events.c.seq)))
            else:
                rows = list(await conn.execute(query.order_by(t.session_events.c.seq.desc()).limit(count)))
                rows.reverse()
        return [_event(r) for r in rows]

    async def update_attributes(self, s: Session, attributes: Collection[str]) -> None:
        """Write the columns of the given attributes of ``s`` (see `ATTRIBUTE_COLUMNS`), leaving
        status and lease alone; `SessionNotFound` when the session row is gone."""
        every = _session_values(s)
        values = {column: every[column] for name in attributes for column in ATTRIBUTE_COLUMNS[name]}
        async with self.engine.begin() as conn:
            result = await conn.execute(update(t.sessions).where(t.sessions.c.id == s.id).values(**values))
            await self._changed(conn, s.id)
        if not result.rowcount:
            raise _gone(s.id)

    async def set_auto_title(
        self, session_id: str, title: str, updated_ms: int, charge: TitleCharge | None = None
    ) -> bool:
        """An automatic title, unless someone titled the session by hand meanwhile (False then).
        ``charge``: the model request that wrote it, added to its turn's usage row either way."""
        c = t.sessions.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(t.sessions)
                .where(c.id == session_id, c.title_manual.is_(False))
                .values(title=title, updated_ms=updated_ms)
            )
            await self._changed(conn, session_id)
            if charge is not None:
                u = t.usage.c
                await conn.execute(
                    update(t.usage)
                    .where(u.id == charge.usage_id)
                    .values(
                        requests=u.requests + 1,
                        input_tokens=u.input_tokens + charge.input_tokens,
                        output_tokens=u.output_tokens + charge.output_tokens,
                    )
                )
        return bool(result.rowcount)

    async def delete(self, session_id: str) -> None:
        """Delete the session, its messages and events; its last event number is kept (a tombstone)."""
        async with self.engine.begin() as conn:
            c = t.sessions.c
            row = (
                await conn.execute(select(c.event_seq_base, c.event_seq).where(c.id == session_id))
            ).first()
            if row is None:
                return
            last = max(row.event_seq, row.event_seq_base)
            stone = self._insert(t.session_tombstones).values(
                id=session_id, last_event_seq=last, deleted_ms=now_ms()
            )
            excluded = stone.excluded
            await conn.execute(
                stone.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"last_event_seq": excluded.last_event_seq, "deleted_ms": excluded.deleted_ms},
                )
            )
            # Children first: correct even where foreign-key cascades are off.
            await conn.execute(delete(t.session_events).where(t.session_events.c.session_id == session_id))
            await conn.execute(delete(t.messages).where(t.messages.c.session_id == session_id))
            await conn.execute(delete(t.model_messages).where(t.model_messages.c.session_id == session_id))
            await conn.execute(delete(t.wallet_requests).where(t.wallet_requests.c.session_id == session_id))
            # Usage stays (operators bill from it), no longer tied to the deleted thread.
            await conn.execute(
                update(t.usage).where(t.usage.c.session_id == session_id).values(session_id=None)
            )
            # BYOK keys the session owned itself (it had no client id); a client's keys stay.
            owner = t.provider_keys.c.owner == session_owner(session_id)
            await conn.execute(delete(t.provider_keys).where(owner))
            await conn.execute(delete(t.sessions).where(t.sessions.c.id == session_id))
            await self._changed(conn, session_id)

    async def list_by_wallet(
        self, address: str, apps: Collection[str], limit: int, before: tuple[int, str] | None
    ) -> list[SessionSummary]:
        """Sessions bound to a wallet, most recently active first, keyset-paginated."""
        return await list_sessions(self.engine, SessionQuery(limit, before, wallet=address, apps=apps))

    async def search(self, q: SessionQuery) -> list[SessionSummary]:
        """Sessions of any wallet (the operator's view), most recently active first."""
        return await list_sessions(self.engine, q)

    async def mark_delivered(self, session_id: str, seqs: Sequence[int]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.session_events)
                .where(t.session_events.c.session_id == session_id, t.session_events.c.seq.in_(seqs))
                .values(http_delivered=True)
            )
