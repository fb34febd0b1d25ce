"""Projects pydantic-ai stream events onto the session's visible messages.

Text streams into an agent message (``is_streaming: true``); each tool call becomes an agent
message with empty content and ``tool_result = [topic, result]``. Completed messages are
returned by ``take_completed`` so the runner commits them as soon as they complete.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_ai import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
)
from pydantic_ai.messages import TextPart, TextPartDelta, ToolCallPart

from aomi.sessions.model import Message, Sender, Session

TOPIC_MAX = 80


def tool_topic(call: ToolCallPart) -> str:
    """A short human label of a call: ``get_token_price(symbol=ETH)``."""
    args = call.args_as_dict()
    inner = ", ".join(f"{k}={v}" for k, v in args.items())
    label = f"{call.tool_name}({inner})"
    return label if len(label) <= TOPIC_MAX else label[: TOPIC_MAX - 1] + "…"


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content, default=str)
    except (TypeError, ValueError):
        return str(content)


class TurnProjection:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.text: Message | None = None
        self.text_dirty = False
        self._tools: dict[str, Message] = {}
        self._completed: list[Message] = []

    def _append(self, msg: Message) -> Message:
        self.session.messages.append(msg)
        self.session.changed()
        return msg

    def _new(self, content: str, tool_result: tuple[str, str] | None = None) -> Message:
        return Message(
            seq=self.session.next_message_seq(),
            sender=Sender.AGENT,
            content=content,
            tool_result=tool_result,
            is_streaming=True,
        )

    def close_text(self) -> None:
        if self.text is not None:
            self.text.is_streaming = False
            self._completed.append(self.text)
            self.text = None
            self.text_dirty = False
            self.session.changed()

    def handle(self, event: object) -> None:
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            self.close_text()
            self.text = self._append(self._new(event.part.content))
            self.text_dirty = True
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            if self.text is None:
                self.text = self._append(self._new(""))
            self.text.content += event.delta.content_delta
            self.text_dirty = True
            self.session.changed()
        elif isinstance(event, FunctionToolCallEvent):
            self.close_text()
            call = event.part
            if call.tool_call_id in self._tools:  # a resumed wallet call: its message exists
                return
            call_msg = self._append(self._new("", (tool_topic(call), "")))
            self._tools[call.tool_call_id] = call_msg
            self._completed.append(call_msg)  # committed at once so a crash still shows the call
        elif isinstance(event, FunctionToolResultEvent):
            done = self._tools.pop(event.tool_call_id, None)
            if done is not None and done.tool_result is not None:
                done.tool_result = (done.tool_result[0], _result_text(event.part.content))
                done.is_streaming = False
                self._completed.append(done)
                self.session.changed()

    def park_call(self, tool_call_id: str, text: str) -> Message | None:
        """A deferred call waits for the wallet: its message says so and is complete for now."""
        msg = self._tools.pop(tool_call_id, None)
        if msg is not None and msg.tool_result is not None:
            msg.tool_result = (msg.tool_result[0], text)
            msg.is_streaming = False
            self._completed.append(msg)
            self.session.changed()
        return msg

    def resume_call(self, tool_call_id: str, msg: Message) -> None:
        """A parked call's message gets the call's result when the resumed run produces it."""
        msg.is_streaming = True
        self._tools[tool_call_id] = msg
        self.session.changed()

    def close_all(self) -> None:
        """Turn end or interrupt: nothing stays marked streaming."""
        self.close_text()
        for msg in self._tools.values():
            msg.is_streaming = False
            self._completed.append(msg)
        self._tools.clear()
        self.session.changed()

    def take_completed(self) -> list[Message]:
        done, self._completed = self._completed, []
        return done

    def take_streaming(self) -> Message | None:
        """The text message in progress if it changed since the last flush."""
        if self.text is not None and self.text_dirty:
            self.text_dirty = False
            return self.text
        return None
