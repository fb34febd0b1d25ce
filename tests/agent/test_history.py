"""Model history: rows written as diffs, trimmed per request to a token budget."""

from __future__ import annotations

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from aomi.agent.history import HistoryLog, dump, estimate_tokens, last_answer, load, trim


def turn(question: str, answer: str, tool: bool = False) -> list[ModelMessage]:
    msgs: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(question)])]
    if tool:
        msgs.append(ModelResponse(parts=[ToolCallPart("get_token_price", {"symbol": "ETH"}, "c1")]))
        msgs.append(ModelRequest(parts=[ToolReturnPart("get_token_price", "3000", "c1")]))
    msgs.append(ModelResponse(parts=[TextPart(answer)]))
    return msgs


def test_rows_round_trip_and_diffs_are_appends() -> None:
    first = turn("hi", "hello")
    log = HistoryLog([])
    write = log.changes(first)
    assert write is not None and write.start == 0 and len(write.rows) == 2
    log.applied(write)
    assert load(log.rows) == first
    assert log.changes(first) is None  # nothing new: nothing to write
    both = first + turn("price?", "3000", tool=True)
    write = log.changes(both)
    assert write is not None and write.start == 2 and len(write.rows) == 4


def test_a_rewritten_last_message_is_replaced_not_duplicated() -> None:
    stored = [dump(m) for m in turn("hi", "hello")]
    log = HistoryLog(stored)
    changed = load(stored)
    changed[-1] = ModelResponse(parts=[TextPart("hello, repaired")])
    write = log.changes(changed)
    assert write is not None and write.start == 1 and len(write.rows) == 1
    log.applied(write)
    assert load(log.rows)[-1] == changed[-1] and len(log.rows) == 2


def test_trim_drops_oldest_whole_turns_and_keeps_the_current_one() -> None:
    old = turn("a" * 400, "b" * 400, tool=True)
    middle = turn("c" * 400, "d" * 400)
    current: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("now?")])]
    history = old + middle + current
    assert trim(history, 10_000) == history  # fits: untouched
    size = sum(estimate_tokens(m) for m in middle + current)
    assert trim(history, size) == middle + current  # the oldest turn (with its tool call) goes first
    assert trim(history, 1) == current  # the current turn always stays
    assert trim(current, 1) == current


def test_estimates_count_tool_calls_and_results() -> None:
    call = ModelResponse(parts=[ToolCallPart("t", {"x": "y" * 400}, "c")])
    ret = ModelRequest(parts=[ToolReturnPart("t", {"v": "w" * 400}, "c")])
    assert estimate_tokens(call) > 100 and estimate_tokens(ret) > 100


def test_last_answer() -> None:
    assert last_answer(turn("q", "the answer", tool=True)) == "the answer"
    assert last_answer([ModelRequest(parts=[UserPromptPart("q")])]) == ""
