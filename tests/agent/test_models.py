"""The model registry: labels to pydantic-ai models, with a clear error for unknown labels; retries."""

from __future__ import annotations

import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from aomi.agent.models import ModelRegistry, RetryingModel, default_model_registry
from aomi.errors import UnknownModel


def test_default_registry_holds_the_offline_model() -> None:
    registry = default_model_registry()
    assert registry.labels() == ["offline"]
    assert "offline" in registry
    model = registry.get("offline")
    assert isinstance(model, FunctionModel)
    assert model.model_name == "offline"


def test_unknown_label_lists_the_known_ones() -> None:
    registry = default_model_registry()
    registry.register("scripted", TestModel())
    with pytest.raises(UnknownModel) as info:
        registry.get("gpt-9")
    assert info.value.message == "unknown model 'gpt-9' (known: offline, scripted)"
    assert info.value.status == 400
    assert "gpt-9" not in registry


def test_empty_registry_and_empty_label() -> None:
    registry = ModelRegistry()
    with pytest.raises(UnknownModel, match=r"\(known: none\)"):
        registry.get("offline")
    with pytest.raises(ValueError, match="empty"):
        registry.register("", TestModel())


async def test_a_plain_request_is_retried_with_backoff_until_the_budget_is_spent() -> None:
    failures: list[Exception] = [ModelHTTPError(503, "m"), ModelHTTPError(429, "m", retry_after=3.0)]

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if failures:
            raise failures.pop(0)
        return ModelResponse(parts=[TextPart("ok")])

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    model = RetryingModel(FunctionModel(answer), retries=2, sleep=sleep)
    assert (await Agent(model).run("hi")).output == "ok"
    assert slept == [0.5, 3.0]  # exponential from 0.5 s, or the provider's Retry-After when longer

    failures[:] = [ModelHTTPError(500, "m")] * 4
    with pytest.raises(ModelHTTPError):
        await Agent(model).run("hi")
    # One try and two retries: the fourth failure is never reached.
    assert slept[2:] == [0.5, 1.0] and len(failures) == 1

    failures[:] = [ModelHTTPError(401, "m")]
    with pytest.raises(ModelHTTPError):
        await Agent(model).run("hi")
    assert len(slept) == 4  # a rejected key is not retried
