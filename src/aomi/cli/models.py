"""`aomi models`: the models this server offers (`offline` plus `AOMI_MODELS` / `AOMI_MODELS_FILE`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aomi.cli.common import build_settings, guarded

models_app = typer.Typer(help="Inspect the models this server offers.", no_args_is_help=True)


@models_app.command("list")
@guarded
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List model labels with their provider and whether the server holds a key for them."""
    from aomi.agent.models import default_model_registry

    entries = default_model_registry(build_settings()).entries()
    if as_json:
        rows = [
            {"label": e.label, "provider": e.provider, "model": e.target, "server_key": e.server_key}
            for e in entries
        ]
        typer.echo(json.dumps(rows))
        return
    table = Table("Label", "Provider", "Model", "Available")
    for e in entries:
        available = "yes" if e.server_key else "only with a client's own key (no server key)"
        table.add_row(*(Text(c) for c in (e.label, e.provider, e.target, available)))
    Console().print(table, highlight=False)
