"""The App value object. Kept apart from the loader so tools and the agent can import it
without pulling in the manifest machinery (and without an import cycle through the tools)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_APP_NAME = "default"


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
