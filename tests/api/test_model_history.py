"""The model history is stored as the turn produces it, and the limits tell their causes apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai.messages import ModelMessage, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from aomi.agent.models import ModelRegistry, default_model_registry
from aomi.settings import Settings
from tests.support.harness import new_id, running, write_app


class GatedToolModel:
    """Calls the price tool, then waits for ``release`` before answering."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()
        self.model = FunctionModel(self._plain, stream_function=self._stream, model_name="gated")

    def _plain(self, messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise AssertionError("the server streams turns")

    async def _stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            self.waiting.set()
            await self.release.wait()
            yield "ETH is worth what the tool said."
        else:
            yield {0: DeltaToolCall("get_token_price", '{"symbol": "ETH"}', tool_call_id="call-1")}


def registry_with(label: str, model: FunctionModel) -> ModelRegistry:
    registry = default_model_registry()
    registry.register(label, model)
    return registry


async def test_tool_call_and_result_are_stored_before_the_turn_ends(settings: Settings) -> None:
    gated = GatedToolModel()
    write_app(settings.apps_dir, "gatedapp", public=True, models=("gated",))
    async with running(settings, registry_with("gated", gated.model)) as server:
        sid = new_id()
        assert (await server.chat(sid, "price of ETH?", app="gatedapp")).status_code == 200
        await asyncio.wait_for(gated.waiting.wait(), 10)
        # Mid-turn: what a crash now would leave for the next turn already includes the tool work.
        rows = [json.loads(r) for r in await server.services.manager.store.model_history(sid)]
        kinds = [part["part_kind"] for row in rows for part in row["parts"]]
        assert kinds == ["user-prompt", "tool-call", "tool-return"]
        gated.release.set()
        body = await server.wait_idle(sid, app="gatedapp")
        assert body["status"] == "idle"
        rows = [json.loads(r) for r in await server.services.manager.store.model_history(sid)]
        assert [p["part_kind"] for p in rows[-1]["parts"]] == ["text"]
        assert len(rows) == 4


async def test_a_timeout_is_an_error_and_an_interrupt_is_not(settings: Settings) -> None:
    gated = GatedToolModel()
    write_app(settings.apps_dir, "gatedapp", public=True, models=("gated",))
    quick = settings.model_copy(update={"turn_timeout_seconds": 0.5})
    async with running(quick, registry_with("gated", gated.model)) as server:
        sid = new_id()
        await server.chat(sid, "price of ETH?", app="gatedapp")
        body = await server.wait_idle(sid, app="gatedapp")
        assert body["status"] == "error"
        assert body["system_events"] == [{"SystemError": "The turn took longer than 0.5 s and was stopped."}]
    gated = GatedToolModel()
    async with running(settings, registry_with("gated", gated.model)) as server:
        sid = new_id()
        await server.chat(sid, "price of ETH?", app="gatedapp")
        await asyncio.wait_for(gated.waiting.wait(), 10)
        assert (await server.client.post("/api/interrupt", headers={"X-Session-Id": sid})).status_code == 200
        body = await server.wait_idle(sid, app="gatedapp")
        assert body["status"] == "interrupted" and body["system_events"] == []
