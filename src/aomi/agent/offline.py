"""The built-in `offline` model: deterministic, no network, no key.

It lets the server run end to end on a fresh machine. One decision procedure (`decide`) serves
both the plain and the streamed path, so `run()` and `run_stream_events()` always agree.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from aomi.agent.intents import CHAIN_INTENTS
from aomi.agent.labels import OFFLINE_LABEL

PRICE_TOOL = "get_token_price"
DOCS_TOOL = "search_docs"
# A question, or a request to look something up, that the App's documents may answer.
_DOCS_QUESTION = re.compile(
    r"\?\s*$|^\s*(?:what|how|why|when|where|which|who|can|does|do|is|are|should|explain|tell\s+me)\b"
    r"|\b(?:docs|documentation|documents)\b",
    re.IGNORECASE,
)
OFFLINE_NOTE = "(I am the offline model: no LLM provider is configured.)"

_TOKEN = r"([a-z][a-z0-9.\-]{0,31})"
# Each pattern captures the token in group 1. Order matters: "price of X" is the most specific.
_PRICE_PATTERNS = [
    re.compile(rf"\bprice\s+(?:of|for)\s+(?:the\s+|one\s+|1\s+|a\s+)?{_TOKEN}", re.IGNORECASE),
    re.compile(rf"\bhow\s+much\s+is\s+(?:the\s+|one\s+|1\s+|a\s+)?{_TOKEN}", re.IGNORECASE),
    re.compile(rf"\bwhat(?:'s|\s+is)\s+(?:the\s+|one\s+|1\s+|a\s+)?{_TOKEN}\s+worth\b", re.IGNORECASE),
    re.compile(rf"\b{_TOKEN}(?:'s)?\s+price\b", re.IGNORECASE),
]
# Words that fill the token slot in ordinary phrasing ("what is the price") but name no token.
_NOT_TOKENS = {"the", "a", "an", "its", "it", "this", "that", "token", "coin", "current", "what", "is", "of"}


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class CallTool:
    tool_name: str
    args_json: str
    tool_call_id: str


Decision = Say | CallTool


def price_question_token(text: str) -> str | None:
    """The token a price question asks about ("price of ETH", "btc price?"), or None."""
    for pattern in _PRICE_PATTERNS:
        for match in pattern.finditer(text):
            token = match.group(1).rstrip(".-")
            if token and token.lower() not in _NOT_TOKENS:
                return token
    return None


def _latest_user_text(messages: Sequence[ModelMessage]) -> str:
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in reversed(message.parts):
            if isinstance(part, UserPromptPart):
                if isinstance(part.content, str):
                    return part.content
                return " ".join(item for item in part.content if isinstance(item, str))
    return ""


WALLET_TOOLS = {"send_transaction_to_wallet", "request_typed_data_signature"}


def _answer_from_docs(text: str) -> str:
    """The best passage `search_docs` returned, with its citation: `[1] file: heading\nbody`."""
    first = text.split("\n\n[2] ", 1)[0]
    head, _, body = first.partition("\n")
    if not head.startswith("[1] ") or not body.strip():
        return f"{text} (via {DOCS_TOOL})."
    return f"According to {head[4:]}: {_quote(body, 600)} (via {DOCS_TOOL})."


def _answer_tool_result(part: ToolReturnPart) -> str:
    text = part.model_response_str(wrap_if_error=False).strip().rstrip(".")
    if part.outcome == "success" and part.tool_name == DOCS_TOOL:
        return _answer_from_docs(part.model_response_str(wrap_if_error=False).strip())
    if part.outcome != "success":
        if part.tool_name in WALLET_TOOLS:
            return f"The wallet request did not go through: {text}."
        what = "the price" if part.tool_name == PRICE_TOOL else f"a result from {part.tool_name}"
        return f"I could not get {what}: {text}."
    return f"{text} (via {part.tool_name})."


def _quote(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def decide(messages: Sequence[ModelMessage], info: AgentInfo) -> Decision:
    """What the offline model does next, from the conversation so far."""
    last = messages[-1] if messages else None
    if isinstance(last, ModelRequest):
        results = [part for part in last.parts if isinstance(part, ToolReturnPart)]
        # A new prompt wins over returns in the same request (e.g. calls closed as 'interrupted'
        # by `repair_messages` when the user moved on): answer what the user asked now.
        if results and not any(isinstance(part, UserPromptPart) for part in last.parts):
            return Say(" ".join(_answer_tool_result(part) for part in results) + " " + OFFLINE_NOTE)

    user_text = _latest_user_text(messages)
    tools = {tool.name for tool in info.function_tools}
    for tool_name, intent in CHAIN_INTENTS:
        args = intent(user_text)
        if args is None:
            continue
        if tool_name in tools:
            return CallTool(tool_name, json.dumps(args), f"offline_{uuid.uuid4().hex}")
        if DOCS_TOOL not in tools:  # an App with documents may answer it from them instead
            return Say(f"This App has no {tool_name} tool, so I cannot do that. {OFFLINE_NOTE}")
        break
    has_price_tool = PRICE_TOOL in tools
    token = price_question_token(user_text)
    if token is not None and (has_price_tool or DOCS_TOOL not in tools):
        if has_price_tool:
            # A fresh id per call: ids are matched across the stored history, so they must never repeat.
            call_id = f"offline_{uuid.uuid4().hex}"
            return CallTool(PRICE_TOOL, json.dumps({"symbol": token}), call_id)
        return Say(f"This App has no price tool, so I cannot look up the price of {token}. {OFFLINE_NOTE}")
    if DOCS_TOOL in tools and _DOCS_QUESTION.search(user_text):
        return CallTool(DOCS_TOOL, json.dumps({"query": user_text}), f"offline_{uuid.uuid4().hex}")

    if "get_balance" in tools:
        ability = (
            "I can look up token prices, balances, ENS names, the chain's latest block and contract "
            "reads, and hand a transfer to your wallet: try “price of ETH”, “what is my balance” or "
            "“send 0.1 ETH to 0x…”."
        )
    elif has_price_tool:
        ability = "I can look up token prices: try “price of ETH”."
    elif DOCS_TOOL in tools:
        ability = "I can search this App's documents: ask me a question."
    else:
        ability = "This App gives me no tool I know how to use offline."
    quoted = f" You said: “{_quote(user_text)}”." if user_text.strip() else ""
    return Say(
        "I am the offline model: no LLM provider is configured, so I answer from a fixed script. "
        f"{ability}{quoted}"
    )


def _text_chunks(text: str) -> list[str]:
    """Sentence-sized pieces (each with its trailing space): streaming stays visible, and each
    piece costs pydantic-ai's event machinery (about 0.1 ms a delta) once per sentence, not once
    per word."""
    return re.findall(r"[^.!?]+(?:[.!?]+|$)\s*", text) or [text]


async def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    decision = decide(messages, info)
    if isinstance(decision, CallTool):
        part = ToolCallPart(decision.tool_name, decision.args_json, tool_call_id=decision.tool_call_id)
        return ModelResponse(parts=[part])
    return ModelResponse(parts=[TextPart(decision.text)])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
    decision = decide(messages, info)
    if isinstance(decision, CallTool):
        yield {0: DeltaToolCall(decision.tool_name, decision.args_json, tool_call_id=decision.tool_call_id)}
        return
    for chunk in _text_chunks(decision.text):
        # Yield to the loop between chunks, as a network stream would, so interrupts and flushes interleave.
        await asyncio.sleep(0)
        yield chunk


def build_offline_model() -> FunctionModel:
    return FunctionModel(_respond, stream_function=_stream, model_name=OFFLINE_LABEL)
