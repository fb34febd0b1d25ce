"""The offline model driven through a real pydantic-ai Agent, the real price tool and a fake price API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    repair_messages,
)
from pydantic_ai.run import AgentRunResultEvent

from aomi.agent.deps import TurnDeps
from aomi.agent.labels import OFFLINE_LABEL
from aomi.agent.offline import build_offline_model, price_question_token
from aomi.apps.app import App
from aomi.apps.registry import default_app
from aomi.tools.registry import tools_for
from tests.support.price_server import FakePriceApi
from tests.support.turns import make_settings, turn_deps

NO_TOOLS_APP = App("plain", "", True, "Be kind.", OFFLINE_LABEL, (OFFLINE_LABEL,), ())


@dataclass
class StreamedTurn:
    text_chunks: list[str] = field(default_factory=list)
    calls: list[ToolCallPart] = field(default_factory=list)
    results: list[FunctionToolResultEvent] = field(default_factory=list)
    output: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_chunks)


@asynccontextmanager
async def offline_agent(
    tmp_path: Path, price_api: FakePriceApi, app: App | None = None
) -> AsyncIterator[tuple[Agent[TurnDeps, str], TurnDeps]]:
    app = app or default_app()
    async with turn_deps(make_settings(tmp_path, price_api.url), app) as deps:
        agent = Agent(
            build_offline_model(), deps_type=TurnDeps, tools=tools_for(app), instructions=app.preamble
        )
        yield agent, deps


async def stream_turn(
    agent: Agent[TurnDeps, str], deps: TurnDeps, prompt: str, history: list[ModelMessage] | None = None
) -> StreamedTurn:
    turn = StreamedTurn()
    async with agent.run_stream_events(prompt, deps=deps, message_history=history) as events:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                turn.text_chunks.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                turn.text_chunks.append(event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                turn.calls.append(event.part)
            elif isinstance(event, FunctionToolResultEvent):
                turn.results.append(event)
            elif isinstance(event, AgentRunResultEvent):
                turn.output = event.result.output
    return turn


async def test_run_answers_a_price_question_with_the_tool(tmp_path: Path, price_api: FakePriceApi) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        result = await agent.run("What's the price of ETH?", deps=deps)
    assert result.output.startswith("ETH price: $3,456.78 USD (via get_token_price).")
    assert "offline model" in result.output
    assert price_api.requests == ["/api/v3/simple/price?ids=ethereum&vs_currencies=usd"]
    calls = [p for m in result.all_messages() if isinstance(m, ModelResponse) for p in m.parts]
    assert [(p.tool_name, p.args) for p in calls if isinstance(p, ToolCallPart)] == [
        ("get_token_price", '{"symbol": "ETH"}')
    ]


async def test_run_reports_a_failed_lookup(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.fail = True
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        result = await agent.run("btc price?", deps=deps)
    assert result.output.startswith("I could not get the price: price API answered HTTP 500.")
    assert "offline model" in result.output


async def test_run_answers_other_messages_as_the_offline_model(
    tmp_path: Path, price_api: FakePriceApi
) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        result = await agent.run("Tell me a joke about gas fees", deps=deps)
    assert "offline model" in result.output
    assert "no LLM provider is configured" in result.output
    assert "token prices" in result.output
    assert "Tell me a joke about gas fees" in result.output
    assert price_api.requests == []


async def test_app_without_the_price_tool_says_so(tmp_path: Path, price_api: FakePriceApi) -> None:
    async with offline_agent(tmp_path, price_api, NO_TOOLS_APP) as (agent, deps):
        result = await agent.run("price of ETH", deps=deps)
        streamed = await stream_turn(agent, deps, "price of ETH")
    assert "no price tool" in result.output
    assert "offline model" in result.output
    assert streamed.output == result.output
    assert price_api.requests == []


async def test_stream_events_show_call_result_and_chunked_text(
    tmp_path: Path, price_api: FakePriceApi
) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        turn = await stream_turn(agent, deps, "how much is ether")
    assert [(c.tool_name, c.args) for c in turn.calls] == [("get_token_price", '{"symbol": "ether"}')]
    assert [(r.part.tool_call_id, r.part.outcome) for r in turn.results] == [
        (turn.calls[0].tool_call_id, "success")
    ]
    assert turn.output is not None
    assert turn.output.startswith("ETH price: $3,456.78 USD (via get_token_price).")
    assert turn.text == turn.output
    assert len(turn.text_chunks) > 1, "text streams in sentence-sized chunks"


async def test_stream_events_report_a_failed_lookup(tmp_path: Path, price_api: FakePriceApi) -> None:
    price_api.prices.clear()
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        turn = await stream_turn(agent, deps, "what is SOL worth?")
    assert [r.part.outcome for r in turn.results] == ["failed"]
    assert turn.output is not None
    assert turn.output.startswith(
        "I could not get the price: no price found for 'SOL' (looked up as 'solana')."
    )
    assert turn.text == turn.output


async def test_stream_and_run_give_the_same_answer(tmp_path: Path, price_api: FakePriceApi) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        ran = await agent.run("gm", deps=deps)
        streamed = await stream_turn(agent, deps, "gm")
    assert streamed.output == ran.output
    assert streamed.calls == []


async def test_tool_call_ids_are_unique_across_turns(tmp_path: Path, price_api: FakePriceApi) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        first = await agent.run("price of ETH", deps=deps)
        second = await agent.run("price of ETH", deps=deps, message_history=first.all_messages())
        third = await stream_turn(agent, deps, "price of BTC", history=second.all_messages())
    ids = [
        p.tool_call_id
        for m in second.all_messages()
        if isinstance(m, ModelResponse)
        for p in m.parts
        if isinstance(p, ToolCallPart)
    ] + [c.tool_call_id for c in third.calls]
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert third.output is not None
    assert third.output.startswith("BTC price: $97,123.50 USD")


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("price of ETH", "ETH"),
        ("What's the price of the bitcoin?", "bitcoin"),
        ("PRICE FOR usdc please", "usdc"),
        ("eth price?", "eth"),
        ("what is the ARB price today", "ARB"),
        ("How much is 1 SOL?", "SOL"),
        ("what's LINK worth", "LINK"),
        ("what is the price", None),
        ("hello there", None),
        ("", None),
    ],
)
def test_price_question_token(text: str, token: str | None) -> None:
    assert price_question_token(text) == token


async def test_new_prompt_after_an_interrupted_call_is_answered(
    tmp_path: Path, price_api: FakePriceApi
) -> None:
    async with offline_agent(tmp_path, price_api) as (agent, deps):
        first = await agent.run("price of ETH", deps=deps)
        # Cut the history right after the tool call, as a crash or interrupt mid-tool would leave it.
        cut = next(i for i, m in enumerate(first.all_messages()) if isinstance(m, ModelResponse)) + 1
        history = repair_messages(first.all_messages()[:cut])
        result = await agent.run("good morning", deps=deps, message_history=history)
    assert "You said: “good morning”" in result.output
