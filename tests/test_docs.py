"""Docs are a tested contract: every setting, route and CLI option is in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.core
import typer.main

from aomi.cli.main import app as cli_app
from aomi.server import create_app
from aomi.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_settings_table() -> None:
    names = [f"AOMI_{name.upper()}" for name in Settings.model_fields]
    missing = [name for name in names if f"`{name}`" not in README]
    assert not missing, f"undocumented settings: {missing}"


def test_every_route_is_documented(tmp_path: Path) -> None:
    paths = create_app(Settings(data_dir=tmp_path, apps_dir=tmp_path)).openapi()["paths"]
    routes = [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]
    assert "POST /api/chat" in routes
    missing = [r for r in routes if f"`{r}" not in README]
    assert not missing, f"undocumented routes: {missing}"


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, typer.core.TyperGroup):
            found += _commands(cmd, path)
        else:
            found.append((path, cmd))
    return found


def test_every_cli_command_and_option_is_documented() -> None:
    root = typer.main.get_command(cli_app)
    assert isinstance(root, typer.core.TyperGroup)
    commands = _commands(root, "aomi")
    assert len(commands) >= 6
    missing = []
    for path, cmd in commands:
        if f"`{path}" not in README:
            missing.append(path)
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help" and opt not in README:
                    missing.append(f"{path} {opt}")
            is_option = isinstance(param, typer.core.TyperOption)
            assert not is_option or param.help, f"{path} {param.name}: no help"
    assert not missing, f"undocumented CLI commands/options: {missing}"
