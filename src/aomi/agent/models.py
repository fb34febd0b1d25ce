"""Models by label: what the control API and App manifests name (`offline`, later `gpt-4o`, ...)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic_ai.models import Model

from aomi.agent.labels import OFFLINE_LABEL
from aomi.agent.offline import build_offline_model
from aomi.errors import UnknownModel

ModelFactory = Callable[[], Model]

# Labels every server has. Provider-backed models (configured from settings and keys) will be
# registered next to these; a factory per label keeps construction lazy and in one place.
BUILTIN_MODEL_FACTORIES: dict[str, ModelFactory] = {
    OFFLINE_LABEL: build_offline_model,
}


class ModelRegistry:
    """Label -> pydantic-ai Model."""

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}

    def register(self, label: str, model: Model) -> None:
        if not label:
            raise ValueError("a model label must not be empty")
        self._models[label] = model

    def get(self, label: str) -> Model:
        try:
            return self._models[label]
        except KeyError:
            known = ", ".join(self.labels()) or "none"
            raise UnknownModel(f"unknown model {label!r} (known: {known})") from None

    def labels(self) -> list[str]:
        """Registered labels, in registration order (`offline` first)."""
        return list(self._models)

    def __contains__(self, label: object) -> bool:
        return label in self._models


def default_model_registry() -> ModelRegistry:
    registry = ModelRegistry()
    for label, factory in BUILTIN_MODEL_FACTORIES.items():
        registry.register(label, factory())
    return registry
