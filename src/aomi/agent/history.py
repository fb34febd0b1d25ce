"""The model's view of a session: stored one message per row, appended as a turn produces it,
and trimmed to a token budget for each model request (never in the store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.tools import RunContext

from aomi.agent.deps import TurnDeps
from aomi.sessions.store import HistoryWrite

_ONE: TypeAdapter[ModelMessage] = TypeAdapter(ModelMessage)
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4


def dump(message: ModelMessage) -> str:
    return _ONE.dump_json(message).decode()


def load(rows: Sequence[str]) -> list[ModelMessage]:
    return ModelMessagesTypeAdapter.validate_json("[" + ",".join(rows) + "]")


class HistoryLog:
    """What the store holds of one session's history, and the writes that bring it up to date.

    A turn only appends, except that the last stored message may be rewritten once (a history
    that ended in unanswered tool calls is repaired before the next prompt)."""

    def __init__(self, rows: Sequence[str]) -> None:
        self.rows = list(rows)
        self._floor = max(0, len(self.rows) - 1)

    def changes(self, messages: Sequence[ModelMessage]) -> HistoryWrite | None:
        new = [dump(m) for m in messages[self._floor :]]
        old = self.rows[self._floor :]
        same = 0
        while same < min(len(old), len(new)) and old[same] == new[same]:
            same += 1
        if same == len(old) == len(new):
            return None
        return HistoryWrite(self._floor + same, new[same:])

    def applied(self, write: HistoryWrite | None) -> None:
        if write is not None:
            self.rows = self.rows[: write.start] + list(write.rows)


def estimate_tokens(message: ModelMessage) -> int:
    """A provider-independent estimate (about four characters a token): trimming needs the order
    of magnitude, not the provider's exact count."""
    chars = 0
    for part in message.parts:
        if isinstance(part, ToolCallPart):
            chars += len(part.tool_name) + len(part.args_as_json_str())
        elif isinstance(part, TextPart | ThinkingPart):
            chars += len(part.content)
        else:
            content: Any = getattr(part, "content", "")
            chars += len(content) if isinstance(content, str) else len(str(content))
    return chars // CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS


def _starts_turn(message: ModelMessage) -> bool:
    return isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts)


def trim(messages: list[ModelMessage], budget: int) -> list[ModelMessage]:
    """Leave out the oldest whole turns (a user prompt and everything up to the next one) until
    the estimate fits ``budget``; the current turn is always kept whole."""
    starts = [i for i, m in enumerate(messages) if _starts_turn(m)]
    if len(starts) < 2:
        return messages
    sizes = [estimate_tokens(m) for m in messages]
    total = sum(sizes)
    cut = 0
    for nxt in starts[1:]:
        if total <= budget:
            break
        total -= sum(sizes[cut:nxt])
        cut = nxt
    return messages[cut:] if cut else messages


@dataclass
class RequestHistory(AbstractCapability["TurnDeps"]):
    """Before each model request: the history so far is stored (the turn's checkpoint, so tool
    results survive a crash during a long model call), then the request gets at most ``budget``
    estimated tokens of it. Only the request is trimmed: the run's history, and so the store,
    keep every message. Instructions (the App's preamble and the wallet context) are not part of
    the history and always go out."""

    budget: int

    async def before_model_request(
        self, ctx: RunContext[TurnDeps], request_context: ModelRequestContext
    ) -> ModelRequestContext:
        if ctx.deps.checkpoint is not None:
            await ctx.deps.checkpoint(ctx.messages)
        request_context.messages = trim(request_context.messages, self.budget)
        return request_context

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None


def last_answer(messages: Sequence[ModelMessage]) -> str:
    """The text of the last model response (for a title)."""
    for message in reversed(messages):
        if isinstance(message, ModelResponse):
            text = "".join(p.content for p in message.parts if isinstance(p, TextPart))
            if text.strip():
                return text
    return ""
