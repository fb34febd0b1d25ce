"""In-memory session state and its snapshot, the JSON clients poll."""

from __future__ import annotations

import asyncio
import bisect
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pydantic_core

from aomi.sessions.user_state import UserState, Wallet
from aomi.timeutil import iso_ms, now_ms
from aomi.wallet.requests import WalletRequest, pending_state

DEFAULT_TITLE = "New Chat"


class Status(StrEnum):
    IDLE = "idle"
    PROCESSING = "processing"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class Sender(StrEnum):
    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


# SystemEvent kinds (SPEC 4.1). HTTP-kind events are delivered once through snapshots;
# SSE-kind events, and the update kinds below, go to /api/updates subscribers.
INLINE_CALL, SYSTEM_NOTICE, SYSTEM_ERROR, ASYNC_CALLBACK = (
    "InlineCall",
    "SystemNotice",
    "SystemError",
    "AsyncCallback",
)
SYSTEM_EVENT_KINDS = frozenset({INLINE_CALL, SYSTEM_NOTICE, SYSTEM_ERROR, ASYNC_CALLBACK})
HTTP_EVENT_KINDS = frozenset({INLINE_CALL, SYSTEM_ERROR})
# Update kinds (SPEC 4.4): logged with the same sequence numbers, never in snapshots.
TITLE_CHANGED, TURN_STARTED, TURN_FINISHED = "title_changed", "turn_started", "turn_finished"


@dataclass
class Message:
    seq: int
    sender: Sender
    content: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tool_result: tuple[str, str] | None = None
    timestamp_ms: int = field(default_factory=now_ms)
    is_streaming: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender.value,
            "content": self.content,
            "tool_result": list(self.tool_result) if self.tool_result is not None else None,
            "timestamp": iso_ms(self.timestamp_ms),
            "is_streaming": self.is_streaming,
        }


@dataclass
class Event:
    """One entry of a session's append-only event log."""

    seq: int
    kind: str
    payload: Any
    created_ms: int = field(default_factory=now_ms)
    http_delivered: bool = False

    def to_json(self) -> dict[str, Any]:
        """The externally tagged SystemEvent: ``{"SystemNotice": "text"}``."""
        return {self.kind: self.payload}

    def to_update(self, session_id: str) -> dict[str, Any] | None:
        """The SSE payload (SPEC 4.4), or None for HTTP-kind events, which snapshots deliver."""
        if self.kind in HTTP_EVENT_KINDS:
            return None
        if self.kind == SYSTEM_NOTICE:
            return {"type": "system_notice", "session_id": session_id, "message": self.payload}
        if self.kind == ASYNC_CALLBACK:
            body = dict(self.payload) if isinstance(self.payload, dict) else {"payload": self.payload}
            body.setdefault("type", "async_callback")
            body["session_id"] = session_id
            return body
        return {"type": self.kind, "session_id": session_id, **(self.payload or {})}


@dataclass(frozen=True)
class SessionInfo:
    """A thread as the sessions routes list it."""

    session_id: str
    title: str | None
    is_archived: bool
    app: str
    created_ms: int
    updated_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "title": self.title,
            "is_archived": self.is_archived,
            "app": self.app,
            "created_at": iso_ms(self.created_ms),
            "updated_at": iso_ms(self.updated_ms),
        }


def session_owner(session_id: str) -> str:
    """The BYOK owner of a session without a client id (its keys go when it is deleted)."""
    return f"session:{session_id}"


@dataclass(eq=False)
class Session:
    id: str
    app: str
    model: str
    title: str | None = DEFAULT_TITLE
    title_manual: bool = False
    archived: bool = False
    status: Status = Status.IDLE
    wallet: Wallet | None = None
    client_id: str | None = None
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = field(default_factory=now_ms)
    messages: list[Message] = field(default_factory=list)
    pending_events: list[Event] = field(default_factory=list)
    last_event_seq: int = 0
    lease_owner: str | None = None
    lease_expires_ms: int | None = None
    parked_until_ms: int | None = None
    """Set while the turn is parked, waiting for the wallet (the session stays `processing`)."""
    wallet_requests: list[WalletRequest] = field(default_factory=list)
    """The wallet requests whose answers the agent has not been given yet, oldest first."""
    wallet_seq: int = 0
    """The last wallet request id used in this session (ids are never reused)."""
    # Runtime only, never persisted.
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    event_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    last_access: float = field(default_factory=time.monotonic, repr=False)
    starting: bool = field(default=False, repr=False)  # a turn's first write is in flight
    stale: bool = field(default=False, repr=False)  # another replica wrote it since it was read
    polled: tuple[str | None, object, str | None] | None = field(default=None, repr=False)
    """The raw `user_state` and `client_id` the state route last applied, with the wallet then."""
    _snapshot: bytes | None = field(default=None, repr=False)
    _seq_next: int = field(default=0, repr=False)

    @property
    def wallet_address(self) -> str | None:
        """The bound address, EIP-55 checksummed."""
        return self.wallet.address if self.wallet else None

    @property
    def chain_id(self) -> int | None:
        return self.wallet.chain_id if self.wallet else None

    @property
    def user_state(self) -> UserState | None:
        """What snapshots return: the client's last wallet fields, as it sent them, and the
        server's own pending wallet requests (`pending_txs`, `pending_eip712s`)."""
        if self.wallet is None:
            return None
        pending = pending_state(self.wallet_requests) if self.wallet_requests else None
        return {**self.wallet.echo, **pending} if pending else self.wallet.echo

    @property
    def is_processing(self) -> bool:
        return self.status is Status.PROCESSING

    @property
    def parked(self) -> bool:
        """The turn waits for the wallet: nothing runs, and a new chat message may start a turn
        (which withdraws the pending requests)."""
        return self.parked_until_ms is not None

    @property
    def idle_here(self) -> bool:
        """No turn runs here or elsewhere: the session row may be written whole."""
        return self.task is None and not self.starting and (not self.is_processing or self.parked)

    def info(self) -> SessionInfo:
        return SessionInfo(self.id, self.title, self.archived, self.app, self.created_ms, self.updated_ms)

    def changed(self) -> None:
        """Call after any change that a snapshot shows: the cached snapshot is dropped."""
        self._snapshot = None

    def next_message_seq(self) -> int:
        """The next number of the block this process's turn reserved (see `reserve`). Never one
        after the last message held: that one may be another writer's, from beyond the block."""
        seq = self._seq_next
        self._seq_next = seq + 1
        return seq

    def reserve(self, first: int) -> None:
        """This process's turn numbers its messages from ``first`` (a block the database reserved)."""
        self._seq_next = first

    def add_message(self, msg: Message) -> None:
        """Add a message in number order (one written first may land after a later-numbered one)."""
        bisect.insort(self.messages, msg, key=lambda m: m.seq)
        self.changed()

    @property
    def has_snapshot(self) -> bool:
        """Serialized bytes are cached: a snapshot costs nothing until the next change."""
        return self._snapshot is not None

    def snapshot(self) -> bytes:
        """The snapshot as JSON bytes, serialized once per change.

        Undelivered HTTP-kind events are included; the caller marks them delivered.
        """
        if self._snapshot is None or self.pending_events:
            body = {
                "messages": [m.to_json() for m in self.messages],
                "system_events": [e.to_json() for e in self.pending_events],
                "title": self.title,
                "is_processing": self.is_processing,
                "status": self.status.value,
                "user_state": self.user_state,
            }
            data = pydantic_core.to_json(body)
            if self.pending_events:
                return data
            self._snapshot = data
        return self._snapshot


def empty_snapshot() -> bytes:
    return pydantic_core.to_json(
        {
            "messages": [],
            "system_events": [],
            "title": None,
            "is_processing": False,
            "status": Status.IDLE.value,
            "user_state": None,
        }
    )
