"""Following one agent turn through successive snapshots: the new text (as deltas), tool calls
and wallet requests, each reported once."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aomi.client.models import Message, Snapshot, ToolCall, WalletRequest

TextHandler = Callable[[str], Awaitable[object] | object]
ToolHandler = Callable[[ToolCall], Awaitable[object] | object]
# May return a wallet answer (see `tx_complete`, `tx_rejected`, ...) to post at once; None leaves
# the request pending and `send` returns with it in `TurnResult.wallet_requests`.
WalletHandler = Callable[[WalletRequest], Awaitable[dict[str, Any] | None] | dict[str, Any] | None]


class TurnHandlers(TypedDict, total=False):
    """The callbacks of `send` and `wait` (each optional, plain or async) and its time limit."""

    on_text: TextHandler | None
    """The agent's new text as it streams."""
    on_tool: ToolHandler | None
    """Each tool call of the turn."""
    on_wallet_request: WalletHandler | None
    """Each wallet request; return an answer to post it, None to leave it pending."""
    turn_timeout: float
    """Seconds before `TimeoutError` (default 300)."""


async def call(handler: Callable[..., Any] | None, *args: Any) -> Any:
    """Run a callback that may be plain or async."""
    if handler is None:
        return None
    result = handler(*args)
    return await result if inspect.isawaitable(result) else result


@dataclass
class TurnResult:
    """How `send` ended: the final snapshot and what the turn produced."""

    snapshot: Snapshot
    messages: list[Message]
    """The turn's messages after the user's: agent text, tool calls, system messages."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    wallet_requests: list[WalletRequest] = field(default_factory=list)
    """Requests still waiting for the wallet (the turn is parked on them)."""
    errors: list[str] = field(default_factory=list)
    """`SystemError` texts the turn produced (a limit, a provider failure)."""

    @property
    def text(self) -> str:
        """The agent's answer: its text messages of this turn, joined."""
        return "\n".join(m.content for m in self.messages if m.sender == "agent" and m.content)

    @property
    def status(self) -> str:
        return self.snapshot.status

    @property
    def waiting_for_wallet(self) -> bool:
        return bool(self.wallet_requests)


@dataclass
class TurnFollower:
    """The diff between what was already reported and the latest snapshot."""

    start: int
    """Index of the first message of this turn (after the user's message)."""
    emitted: dict[str, str] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)
    pending: list[WalletRequest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_was_text: bool = False

    @classmethod
    def after_last_user_message(cls, snapshot: Snapshot) -> TurnFollower:
        users = [i for i, m in enumerate(snapshot.messages) if m.sender == "user"]
        return cls(start=users[-1] + 1 if users else len(snapshot.messages))

    def turn_messages(self, snapshot: Snapshot) -> list[Message]:
        return snapshot.messages[self.start :]

    async def feed(self, snapshot: Snapshot, handlers: TurnHandlers) -> list[dict[str, Any]]:
        """Report what is new in ``snapshot``; the wallet answers the handler returned."""
        for message in self.turn_messages(snapshot):
            if message.tool_result is not None:
                await self._tool(message, handlers.get("on_tool"))
            elif message.sender == "agent" and message.content:
                await self._text(message, handlers.get("on_text"))
        answers = []
        for event in snapshot.system_events:
            if isinstance(event.get("SystemError"), str):
                self.errors.append(event["SystemError"])
            request = WalletRequest.from_event(event)
            if request is None:
                continue
            answer = await call(handlers.get("on_wallet_request"), request)
            if answer is None:
                self.pending.append(request)
            else:
                answers.append(answer)
        return answers

    async def _tool(self, message: Message, on_tool: ToolHandler | None) -> None:
        if message.id in self.emitted:
            return
        self.emitted[message.id] = ""
        assert message.tool_result is not None
        topic, result = ([*message.tool_result, "", ""])[:2]
        tool = ToolCall(message_id=message.id, topic=topic, result=result)
        self.tool_calls.append(tool)
        self.last_was_text = False
        await call(on_tool, tool)

    async def _text(self, message: Message, on_text: TextHandler | None) -> None:
        before = self.emitted.get(message.id, "")
        if message.content == before:
            return
        delta = message.content[len(before) :] if message.content.startswith(before) else message.content
        if message.id not in self.emitted and self.last_was_text:
            delta = "\n" + delta  # a second text message of the turn starts on its own line
        self.emitted[message.id] = message.content
        self.last_was_text = True
        await call(on_text, delta)

    def result(self, snapshot: Snapshot) -> TurnResult:
        return TurnResult(
            snapshot=snapshot,
            messages=self.turn_messages(snapshot),
            tool_calls=list(self.tool_calls),
            wallet_requests=list(self.pending),
            errors=list(self.errors),
        )


def tx_complete(request_id: int, tx_hash: str) -> dict[str, Any]:
    """The wallet's answer: it sent the transaction ``request_id`` as ``tx_hash``."""
    payload = {"txHash": tx_hash, "status": "success", "pending_tx_ids": [request_id]}
    return {"type": "wallet:tx_complete", "payload": payload}


def tx_rejected(request_id: int, error: str = "rejected by the user") -> dict[str, Any]:
    """The wallet's answer: the user rejected the transaction (or the wallet failed)."""
    payload = {"status": "failed", "error": error, "pending_tx_ids": [request_id]}
    return {"type": "wallet:tx_complete", "payload": payload}


def signature_complete(request_id: int, signature: str) -> dict[str, Any]:
    """The wallet's answer: it signed the typed data ``request_id``."""
    payload = {"status": "success", "signature": signature, "pending_eip712_id": request_id}
    return {"type": "wallet_eip712_response", "payload": payload}


def signature_rejected(request_id: int, error: str = "rejected by the user") -> dict[str, Any]:
    """The wallet's answer: the user refused to sign."""
    payload = {"status": "failed", "error": error, "pending_eip712_id": request_id}
    return {"type": "wallet_eip712_response", "payload": payload}


def rejection(request: WalletRequest, error: str = "rejected by the user") -> dict[str, Any]:
    """A rejection of ``request``, whatever its kind."""
    if request.is_transaction:
        return tx_rejected(request.request_id, error)
    return signature_rejected(request.request_id, error)
