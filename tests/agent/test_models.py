"""The model registry: labels to pydantic-ai models, with a clear error for unknown labels."""

from __future__ import annotations

import pytest
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.test import TestModel

from aomi.agent.models import ModelRegistry, default_model_registry
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
