"""`aomi apps`: the Apps this server offers (the built-in `default` plus the manifests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aomi.apps.app import App
from aomi.apps.manifest import MANIFEST_FILE
from aomi.cli.common import build_settings, fail, guarded, load_apps
from aomi.errors import ManifestError

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
                "tools": app.tool_summary(),
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
            ", ".join(app.tool_summary()) or "-",
            app.description,
        ]
        table.add_row(*(Text(c) for c in cells))
    Console().print(table, highlight=False)


@apps_app.command("validate")
@guarded
def validate(
    path: Annotated[Path, typer.Argument(help="An App directory, its app.toml, or a directory of Apps.")],
) -> None:
    """Check App manifests the way start-up does (Python tools are imported); every error names the
    file, the field and the fix."""
    from aomi.agent.models import default_model_registry
    from aomi.apps.registry import load_app

    if path.is_file():
        manifests = [path]
    elif (path / MANIFEST_FILE).is_file():
        manifests = [path / MANIFEST_FILE]
    else:
        manifests = sorted(path.glob(f"*/{MANIFEST_FILE}"))
        if not manifests:
            fail(f"{path}: no {MANIFEST_FILE} there, nor in its subdirectories")
    labels = default_model_registry(build_settings()).labels()
    for manifest in manifests:
        app, _ = load_app(manifest, labels)
        tools = app.tool_summary()
        typer.echo(f"ok: {app.name} ({manifest}): {len(tools)} tool source(s): {', '.join(tools) or 'none'}")


def _describe(app: App) -> dict[str, Any]:
    from aomi.secrets import operator_variable

    return {
        "name": app.name,
        "description": app.description,
        "public": app.public,
        "directory": str(app.root) if app.root else None,
        "default_model": app.default_model,
        "allowed_models": list(app.allowed_models),
        "preamble": app.preamble,
        "tools": list(app.tools),
        "python_tools": list(app.python_tools),
        "http_tools": [{"name": t.name, "method": t.method, "url": t.url} for t in app.http_tools],
        "mcp_servers": [
            {
                "name": m.name,
                "transport": "http" if m.url else "stdio",
                "target": m.url or " ".join([m.command or "", *m.args]),
                "allow": list(m.allow) if m.allow is not None else None,
                "prefix": m.prefix,
            }
            for m in app.mcp_servers
        ],
        "secrets": [
            {
                **slot.to_json(),
                "source": slot.source,
                "operator_variable": operator_variable(app.name, slot.name)
                if slot.source != "client"
                else None,
            }
            for slot in app.secrets
        ],
        "documents": list(app.documents),
    }


@apps_app.command("show")
@guarded
def show(
    name: Annotated[str, typer.Argument(help="The App's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show one App: models, preamble, every tool source, secret slots and documents."""
    registry = load_apps(build_settings())
    app = registry.get(name)
    if app is None:
        fail(f"no App named {name!r} (known: {', '.join(registry.names())})")
    info = _describe(app)
    if as_json:
        typer.echo(json.dumps(info))
        return
    console = Console(highlight=False)
    console.print(Text(f"{app.name}: {app.description or '(no description)'}", style="bold"))
    rows = [
        ("Public", "yes" if app.public else "no (key required)"),
        ("Directory", info["directory"] or "(built in)"),
        ("Models", ", ".join(app.allowed_models) + f" (default {app.default_model})"),
        ("Built-in tools", ", ".join(app.tools) or "-"),
        ("Python tools", ", ".join(app.python_tools) or "-"),
        ("HTTP tools", ", ".join(f"{t.name} ({t.method} {t.url})" for t in app.http_tools) or "-"),
        (
            "MCP servers",
            ", ".join(f"{m['name']} ({m['transport']}: {m['target']})" for m in info["mcp_servers"]) or "-",
        ),
        (
            "Secrets",
            ", ".join(
                f"{s['name']} ({s['source']}{', required' if s['required'] else ''})" for s in info["secrets"]
            )
            or "-",
        ),
        ("Documents", ", ".join(app.documents) or "-"),
        ("Preamble", app.preamble if len(app.preamble) <= 300 else app.preamble[:299] + "…"),
    ]
    table = Table(show_header=False, box=None)
    for label, value in rows:
        table.add_row(Text(label, style="bold"), Text(value))
    console.print(table)


def find_app(name: str) -> App:
    """An App by name, as the server loads it; a one-line error when there is none."""
    registry = load_apps(build_settings())
    app = registry.get(name)
    if app is None:
        raise ManifestError(f"no App named {name!r} (known: {', '.join(registry.names())})")
    return app
