"""The App value object. Kept apart from the loader so tools and the agent can import it
without pulling in the manifest machinery (and without an import cycle through the tools)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class HttpToolSpec:
    """An HTTP tool declared in the manifest (`[[http_tools]]`): one request per call."""

    name: str
    description: str
    method: HttpMethod
    url: str
    """Template: `{param}` (URL-encoded argument) and `{secret.NAME}` placeholders."""
    parameters: dict[str, Any]
    """JSON schema of the arguments (an object schema)."""
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    select: str | None = None
    """Dotted path into the JSON answer (`data.items.0.price`); the whole answer when None."""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class McpServerSpec:
    """An MCP server whose tools the App offers (`[[mcp_servers]]`): streamable HTTP or stdio."""

    name: str
    url: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    """For HTTP servers; values may hold `{secret.NAME}`."""
    allow: tuple[str, ...] | None = None
    """The server's tool names the App offers; all of them when None."""
    prefix: str | None = None
    """Prepended as `<prefix>_` to the tool names, to keep them apart from other tools."""
    timeout_seconds: float = 30.0


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
    root: Path | None = None
    """The App's directory (None for the built-in App): Python tools, files and documents live there."""
    python_tools: tuple[str, ...] = ()
    """`module:attribute` names, resolved inside `root`: functions or pydantic-ai toolsets."""
    http_tools: tuple[HttpToolSpec, ...] = ()
    mcp_servers: tuple[McpServerSpec, ...] = ()
    documents: tuple[str, ...] = ()
    """Globs (relative to `root`) of the files `search_docs` searches."""

    def tool_summary(self) -> list[str]:
        """Every tool source, as shown by `aomi apps`: built-in names, `module:attr`, `http:<name>`,
        `mcp:<server>` and `search_docs`."""
        return [
            *self.tools,
            *self.python_tools,
            *(f"http:{t.name}" for t in self.http_tools),
            *(f"mcp:{m.name}" for m in self.mcp_servers),
            *(["search_docs"] if self.documents else []),
        ]
