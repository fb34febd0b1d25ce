"""The App value object. Kept apart from the loader so tools and the agent can import it
without pulling in the manifest machinery (and without an import cycle through the tools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_APP_NAME = "default"
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
SecretSource = Literal["operator", "client", "either"]


@dataclass(frozen=True)
class SecretSlot:
    """A named value the App's tools need (SPEC 2.1): from the operator
    (`AOMI_APP_<APP>_<NAME>`), from the client (`POST /api/secrets`), or either (the client's
    value first)."""

    name: str
    description: str = ""
    required: bool = True
    source: SecretSource = "either"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "required": self.required}


@dataclass(frozen=True)
class App:
    """One assistant environment: its preamble, models and tools."""

    name: str
    description: str
    public: bool
    preamble: str
    default_model: str
    allowed_models: tuple[str, ...]
    """Model labels the App may use, the default first."""
    tools: tuple[str, ...]
    """Names of built-in tools (keys of `aomi.tools.registry.BUILTIN_TOOLS`)."""
    secrets: tuple[SecretSlot, ...] = ()
    """The secret slots its tools may read, and nothing else."""
