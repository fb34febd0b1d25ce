"""The Apps this server offers: the built-in `default` App plus every manifest in the apps directory."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aomi.agent.labels import OFFLINE_LABEL
from aomi.agent.models import ModelRegistry
from aomi.apps.app import DEFAULT_APP_NAME, App
from aomi.apps.manifest import MANIFEST_FILE, parse_manifest
from aomi.errors import ManifestError

__all__ = ["App", "AppRegistry", "default_app", "load_registry"]

if TYPE_CHECKING:
    from aomi.apps.toolsets import Toolset
else:
    Toolset = Any

log = logging.getLogger("aomi.apps")

DEFAULT_PREAMBLE = """\
You are Aomi, a helpful assistant for people using Ethereum and other EVM chains.
Answer clearly and briefly. Use your tools for facts that change (such as token prices) \
instead of guessing, and say so when a tool fails. Never ask for private keys or seed phrases."""


def builtin_tool_names() -> tuple[str, ...]:
    # Imported here: the tools load the agent runtime, which commands like `aomi --help` don't need.
    from aomi.tools.registry import BUILTIN_TOOLS

    return tuple(BUILTIN_TOOLS)


def default_app(provider_models: Sequence[str] = (), keyless: Collection[str] = ()) -> App:
    """The built-in public App: general-purpose, every built-in tool, `offline` and every
    provider model configured. Its default is the first of those the server holds a key for,
    else `offline`."""
    served = [label for label in provider_models if label not in keyless]
    default = served[0] if served else OFFLINE_LABEL
    others = [label for label in (OFFLINE_LABEL, *provider_models) if label != default]
    return App(
        name=DEFAULT_APP_NAME,
        description="General-purpose web3 assistant (built in)",
        public=True,
        preamble=DEFAULT_PREAMBLE,
        default_model=default,
        allowed_models=tuple(dict.fromkeys([default, *others])),
        tools=builtin_tool_names(),
    )


def _fall_back(app: App, keyless: Collection[str]) -> App:
    """An App whose default model has no server key starts sessions on `offline` instead (the
    model stays allowed for clients that bring their own key)."""
    if app.default_model not in keyless:
        return app
    log.warning(
        "App %s: its default model %s has no server key; new sessions use %s",
        app.name,
        app.default_model,
        OFFLINE_LABEL,
    )
    allowed = (OFFLINE_LABEL, *(m for m in app.allowed_models if m != OFFLINE_LABEL))
    return replace(app, default_model=OFFLINE_LABEL, allowed_models=allowed)


class AppRegistry:
    """A fixed set of Apps, looked up by name, with each App's own toolsets (Python, HTTP, MCP)."""

    def __init__(self, apps: Iterable[App], toolsets: Mapping[str, Sequence[Toolset]] | None = None) -> None:
        self._apps: dict[str, App] = {}
        for app in apps:
            if app.name in self._apps:
                raise ValueError(f"duplicate App name {app.name!r}")
            self._apps[app.name] = app
        self._toolsets = {name: list(sets) for name, sets in (toolsets or {}).items()}

    def toolsets(self, name: str) -> list[Toolset]:
        """The App's own toolsets; none for built-in-only Apps."""
        return self._toolsets.get(name, [])

    async def aclose(self) -> None:
        """Stop the MCP servers the Apps started (stdio servers live across turns)."""
        from aomi.apps.toolsets import McpGuard

        for sets in self._toolsets.values():
            for toolset in sets:
                if isinstance(toolset, McpGuard):
                    await toolset.aclose()

    def get(self, name: str) -> App | None:
        return self._apps.get(name)

    def all(self) -> list[App]:
        """Every App, `default` first, then by name."""
        return sorted(self._apps.values(), key=lambda app: (app.name != DEFAULT_APP_NAME, app.name))

    def names(self) -> list[str]:
        return [app.name for app in self.all()]

    def __contains__(self, name: object) -> bool:
        return name in self._apps

    def __len__(self) -> int:
        return len(self._apps)


def load_registry(apps_dir: Path, models: ModelRegistry | None = None) -> AppRegistry:
    """The default App plus `apps_dir/<name>/app.toml` for every App directory, checked against
    the models (default: `offline` only).

    A missing `apps_dir` is fine (a fresh install has only the default App); an invalid
    manifest raises `ManifestError`, so a broken App is noticed at start-up, not at first use.
    """
    model_labels = models.labels() if models is not None else [OFFLINE_LABEL]
    keyless = models.keyless() if models is not None else []
    apps = [default_app(models.provider_labels() if models is not None else [], keyless)]
    toolsets: dict[str, list[Toolset]] = {}
    if apps_dir.exists():
        if not apps_dir.is_dir():
            raise ManifestError(f"{apps_dir}: the apps directory is not a directory")
        for manifest in sorted(apps_dir.glob(f"*/{MANIFEST_FILE}")):
            app, toolsets[manifest.parent.name] = load_app(manifest, model_labels)
            apps.append(_fall_back(app, keyless))
    return AppRegistry(apps, toolsets)


def load_app(manifest: Path, model_labels: Collection[str]) -> tuple[App, list[Toolset]]:
    """One App from its manifest, with its own toolsets built (Python modules imported): the
    same checks for `aomi apps validate` and for start-up. ManifestError names file and field."""
    from aomi.apps.toolsets import build_toolsets

    app = parse_manifest(manifest, tool_names=builtin_tool_names(), model_labels=model_labels)
    return app, build_toolsets(app)
