"""`aomi apps`: the Apps this server offers (the built-in `default` plus the manifests)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aomi.cli.common import build_settings, guarded, load_apps

apps_app = typer.Typer(help="Inspect the Apps this server offers.", no_args_is_help=True)


@apps_app.command("list")
@guarded
def list_apps(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the Apps: the built-in `default` App and every manifest in the apps directory."""
    registry = load_apps(build_settings())
    apps = registry.all()
    if as_json:
        rows = [
            {
                "name": app.name,
                "description": app.description,
                "public": app.public,
                "default_model": app.default_model,
                "allowed_models": list(app.allowed_models),
                "tools": list(app.tools),
            }
            for app in apps
        ]
        typer.echo(json.dumps(rows))
        return
    table = Table("Name", "Public", "Default model", "Allowed models", "Tools", "Description")
    for app in apps:
        cells = [
            app.name,
            "yes" if app.public else "no (key required)",
            app.default_model,
            ", ".join(app.allowed_models),
            ", ".join(app.tools) or "-",
            app.description,
        ]
        table.add_row(*(Text(c) for c in cells))
    Console().print(table, highlight=False)
