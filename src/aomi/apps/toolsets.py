"""An App's own tools: Python functions or toolsets from its directory, HTTP tools and MCP
servers, each wrapped so that a failure is a failed tool result and no secret leaves in a result.

Python modules load under a package of their App's own (`aomi_app_<name>`), so two Apps may both
have a `tools.py` with a `lookup` function and never see each other's.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import sys
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai import CallDeferred, ModelRetry, RunContext, Tool, ToolFailed
from pydantic_ai.exceptions import ApprovalRequired
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from aomi.agent.deps import TurnDeps
from aomi.apps.app import App, McpServerSpec
from aomi.apps.httptool import http_tool
from aomi.apps.manifest import MANIFEST_FILE, SEARCH_DOCS_TOOL
from aomi.apps.templates import placeholders, render
from aomi.errors import AomiError, ManifestError
from aomi.secrets import operator_variable

log = logging.getLogger("aomi.apps")

Toolset = AbstractToolset[TurnDeps]


def redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (a tool result: text, or JSON-like data) with secret values redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, redact) for v in value]
    return value


@dataclass
class AppToolset(WrapperToolset[TurnDeps]):
    """An App's own tools: results and failures with the turn's secrets redacted; an unexpected
    exception becomes a failed tool result that names the tool (the run goes on)."""

    source: str = ""

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TurnDeps], tool: ToolsetTool[TurnDeps]
    ) -> Any:
        redact = ctx.deps.redact
        try:
            result = await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except (CallDeferred, ApprovalRequired):
            raise
        except ToolFailed as exc:
            raise ToolFailed(redact(str(exc.message))) from None
        except ModelRetry as exc:
            raise ModelRetry(redact(exc.message)) from None
        except AomiError as exc:
            raise ToolFailed(redact(exc.message)) from None
        except Exception as exc:
            text = redact(f"{type(exc).__name__}: {exc}")
            log.warning("App %s: tool %s (%s) failed: %s", ctx.deps.app.name, name, self.source, text)
            raise ToolFailed(f"the tool {name} failed: {text}") from None
        return redact_value(result, redact)


@dataclass
class McpGuard(AppToolset):
    """An MCP server's tools; a server that cannot be reached ends the turn with a clear error."""

    server: str = ""
    close: Callable[[], Awaitable[None]] | None = None
    """Stops a stdio server's process (it lives across turns)."""

    async def aclose(self) -> None:
        if self.close is not None:
            with contextlib.suppress(Exception):
                await self.close()

    async def __aenter__(self) -> McpGuard:
        try:
            await self.wrapped.__aenter__()
        except Exception as exc:
            raise AomiError(f"the MCP server {self.server!r} is unavailable: {_reason(exc)}") from None
        return self

    async def get_tools(self, ctx: RunContext[TurnDeps]) -> dict[str, ToolsetTool[TurnDeps]]:
        try:
            return await self.wrapped.get_tools(ctx)
        except AomiError:
            raise
        except Exception as exc:
            why = ctx.deps.redact(_reason(exc))
            raise AomiError(f"the MCP server {self.server!r} is unavailable: {why}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _reason(exc.exceptions[0])
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _package(app: App) -> str:
    """The App's own import package, rooted at its directory, loaded afresh: modules of an earlier
    load (of this App, or of another directory with its name) are forgotten first."""
    assert app.root is not None
    name = "aomi_app_" + re.sub(r"[^a-z0-9_]", "_", app.name)
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    package = types.ModuleType(name)
    package.__path__ = [str(app.root)]
    sys.modules[name] = package
    return name


def load_python_tool(app: App, package: str, spec: str, field: str) -> Callable[..., Any] | Toolset:
    """Import `module:attribute` from the App's directory: a function or a pydantic-ai toolset."""
    assert app.root is not None
    manifest = app.root / MANIFEST_FILE
    module_name, attribute = spec.split(":")
    expected = app.root / (module_name.replace(".", "/") + ".py")
    qualified = f"{package}.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (qualified == exc.name or qualified.startswith(exc.name + ".")):
            raise ManifestError(
                f"{manifest}: {field}: no module {module_name!r}: create {expected}"
            ) from None
        raise ManifestError(
            f"{manifest}: {field}: importing {module_name!r} failed: {_reason(exc)}"
        ) from None
    except Exception as exc:
        raise ManifestError(
            f"{manifest}: {field}: importing {module_name!r} failed: {_reason(exc)}"
        ) from None
    if not hasattr(module, attribute):
        raise ManifestError(f"{manifest}: {field}: {module_name!r} has no {attribute!r} (in {expected})")
    target = getattr(module, attribute)
    if isinstance(target, AbstractToolset):
        return target
    if not callable(target) or isinstance(target, type):
        raise ManifestError(f"{manifest}: {field}: {spec!r} is neither a function nor a pydantic-ai toolset")
    return target  # type: ignore[no-any-return]


def _claim(taken: dict[str, str], name: str, where: str, manifest: Path) -> None:
    if name in taken:
        raise ManifestError(f"{manifest}: {where}: the tool name {name!r} is already used by {taken[name]}")
    taken[name] = where


def build_toolsets(app: App) -> list[Toolset]:
    """The App's own toolsets (Python, HTTP, MCP), checked: ManifestError naming file and field."""
    if app.root is None:
        return []
    manifest = app.root / MANIFEST_FILE
    taken = {name: f"tools[{i}]" for i, name in enumerate(app.tools)}
    if app.documents:
        taken[SEARCH_DOCS_TOOL] = "documents"
    taken.update({t.name: f"http_tools[{i}]" for i, t in enumerate(app.http_tools)})
    functions: list[Tool[TurnDeps]] = [http_tool(spec) for spec in app.http_tools]
    toolsets: list[Toolset] = []
    package = _package(app) if app.python_tools else ""
    for i, spec in enumerate(app.python_tools):
        field = f"python_tools[{i}]"
        target = load_python_tool(app, package, spec, field)
        if isinstance(target, AbstractToolset):
            if isinstance(target, FunctionToolset):
                for name in target.tools:
                    _claim(taken, name, field, manifest)
            toolsets.append(AppToolset(target, source=spec))
            continue
        try:
            tool = Tool[TurnDeps](target)
        except Exception as exc:
            raise ManifestError(f"{manifest}: {field}: {spec!r} cannot be a tool: {_reason(exc)}") from None
        _claim(taken, tool.name, field, manifest)
        functions.append(tool)
    own: list[Toolset] = [AppToolset(FunctionToolset(functions), source="app")] if functions else []
    mcp: list[Toolset] = []
    for server in app.mcp_servers:
        toolset, close = _mcp_toolset(app, server)
        mcp.append(McpGuard(toolset, source=f"mcp:{server.name}", server=server.name, close=close))
    return [*own, *toolsets, *mcp]


def _mcp_toolset(app: App, server: McpServerSpec) -> tuple[Toolset, Callable[[], Awaitable[None]] | None]:
    """The server's toolset (allow-list and prefix applied), and what stops it (stdio only)."""
    # Imported only for Apps that use MCP: pydantic_ai.mcp costs about 2 s to import.
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPHeadersFunc, MCPToolset

    client: Any
    close: Callable[[], Awaitable[None]] | None = None
    headers: dict[str, str] | MCPHeadersFunc[TurnDeps] | None = dict(server.headers) or None
    if server.url is not None:
        client = server.url
        if any(placeholders(v)[1] for _, v in server.headers):

            async def resolve(ctx: RunContext[TurnDeps]) -> dict[str, str]:
                values = {n: await ctx.deps.secret(n) for _, t in server.headers for n in placeholders(t)[1]}
                return {k: render(t, {}, values.__getitem__) for k, t in server.headers}

            headers = resolve
    else:
        assert server.command is not None
        assert app.root is not None
        # stdio servers live across turns, so only operator secrets reach their environment.
        env = {
            k: render(t, {}, lambda n: os.environ.get(operator_variable(app.name, n), ""))
            for k, t in server.env
        }
        command = sys.executable if server.command == "python" else server.command
        client = StdioTransport(
            command, list(server.args), env=env or None, cwd=str(app.root), keep_alive=True
        )
        close = client.close
    toolset: Toolset = MCPToolset(
        client,
        headers=headers,
        tool_error_behavior="failed",
        init_timeout=server.timeout_seconds,
        read_timeout=server.timeout_seconds,
    )
    if server.allow is not None:
        allowed = set(server.allow)
        toolset = toolset.filtered(lambda ctx, tool: tool.name in allowed)
    if server.prefix is not None:
        toolset = toolset.prefixed(server.prefix)
    return toolset, close
