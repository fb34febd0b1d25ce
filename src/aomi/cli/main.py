"""The `aomi` command: serve, db, keys, apps, docs, models, usage."""

from __future__ import annotations

from typing import Annotated

import typer

from aomi.cli.apps import apps_app
from aomi.cli.chat import chat_command
from aomi.cli.common import EXIT_FAILURE, build_settings, guarded
from aomi.cli.db import db_app
from aomi.cli.docs import docs_app
from aomi.cli.keys import keys_app
from aomi.cli.models import models_app
from aomi.cli.usage import usage_command

app = typer.Typer(
    name="aomi",
    help="Aomi server: a self-hostable backend for web3 AI assistants.",
    no_args_is_help=True,
    # Operators get one-line errors (see `guarded`), never a traceback.
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(apps_app, name="apps")
app.add_typer(docs_app, name="docs")
app.add_typer(models_app, name="models")
app.command("usage")(usage_command)
app.command("chat")(chat_command)


@app.command("serve")
@guarded
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: AOMI_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: AOMI_PORT or 8080).")] = None,
) -> None:
    """Run the HTTP server."""
    settings = build_settings(host=host, port=port)
    # Imported here: the server pulls in FastAPI and the agent, which other commands do not need.
    from aomi.server import serve as run_server

    run_server(settings)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception as exc:  # a bug, not an operator mistake: still one line, with its type
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
