"""The Apps this server offers: the built-in `default` App plus every manifest in the apps directory."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from aomi.agent.labels import OFFLINE_LABEL
from aomi.apps.app import DEFAULT_APP_NAME, App
from aomi.apps.manifest import MANIFEST_FILE, parse_manifest
from aomi.errors import ManifestError

__all__ = ["App", "AppRegistry", "default_app", "load_registry"]

DEFAULT_PREAMBLE = """\
You are Aomi, a helpful assistant for people using Ethereum and other EVM chains.
Answer clearly and briefly. Use your tools for facts that change (such as token prices) \
instead of guessing, and say so when a tool fails. Never ask for private keys or seed phrases."""


def builtin_tool_names() -> tuple[str, ...]:
    # Imported here: the tools load the agent runtime, which commands like `aomi --help` don't need.
    from aomi.tools.registry import BUILTIN_TOOLS

    return tuple(BUILTIN_TOOLS)


def default_app() -> App:
    """The built-in public App: general-purpose, every built-in tool, the offline model."""
    return App(
        name=DEFAULT_APP_NAME,
        description="General-purpose web3 assistant (built in)",
        public=True,
        preamble=DEFAULT_PREAMBLE,
        default_model=OFFLINE_LABEL,
        allowed_models=(OFFLINE_LABEL,),
        tools=builtin_tool_names(),
    )


class AppRegistry:
    """A fixed set of Apps, looked up by name."""

    def __init__(self, apps: Iterable[App]) -> None:
        self._apps: dict[str, App] = {}
        for app in apps:
            if app.name in self._apps:
                raise ValueError(f"duplicate App name {app.name!r}")
            self._apps[app.name] = app

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


def load_registry(apps_dir: Path, model_labels: Collection[str] = (OFFLINE_LABEL,)) -> AppRegistry:
    """The default App plus `apps_dir/<name>/app.toml` for every App directory.

    A missing `apps_dir` is fine (a fresh install has only the default App); an invalid
    manifest raises `ManifestError`, so a broken App is noticed at start-up, not at first use.
    """
    apps = [default_app()]
    if apps_dir.exists():
        if not apps_dir.is_dir():
            raise ManifestError(f"{apps_dir}: the apps directory is not a directory")
        for manifest in sorted(apps_dir.glob(f"*/{MANIFEST_FILE}")):
            apps.append(parse_manifest(manifest, tool_names=builtin_tool_names(), model_labels=model_labels))
    return AppRegistry(apps)
