"""`aomi usage`: turns, model requests, tokens and tool calls per App, App key and model."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aomi.cli.common import EXIT_USAGE, build_settings, fail, guarded
from aomi.db.engine import create_engine, upgrade
from aomi.keys.store import KeyStore
from aomi.settings import Settings
from aomi.timeutil import now_ms
from aomi.usage import UsageStore, UsageTotal

_SINCE_RE = re.compile(r"([0-9]{1,9})([smhdw])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
SINCE_ERROR = "--since: use a number with s, m, h, d or w, e.g. 7d"


def parse_since_ms(text: str) -> int:
    """``7d`` -> how far back, in milliseconds (units s, m, h, d, w)."""
    match = _SINCE_RE.fullmatch(text.strip())
    if match is None:
        fail(SINCE_ERROR, EXIT_USAGE)
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


async def _fetch(
    settings: Settings, app: str | None, key: str | None, since_ms: int | None
) -> tuple[list[UsageTotal], dict[str, str]]:
    """The totals, and the display prefix of every App key (by id) for the table."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        keys = KeyStore(engine, settings.resolved_secret_key)
        key_id = (await keys.resolve(key)).id if key is not None else None
        totals = await UsageStore(engine).totals(app=app, key_id=key_id, since_ms=since_ms)
        return totals, {record.id: record.prefix for record in await keys.list()}
    finally:
        await engine.dispose()


def _seconds(ms: int) -> str:
    return f"{ms / 1000:,.1f} s"


def _figures(t: UsageTotal) -> list[str]:
    numbers = (t.turns, t.requests, t.input_tokens, t.output_tokens, t.tool_calls, t.errors)
    return [f"{n:,}" for n in numbers] + [_seconds(t.duration_ms)]


def _grand_total(totals: list[UsageTotal]) -> UsageTotal:
    return UsageTotal(
        app="",
        key_id=None,
        model_label="",
        provider="",
        turns=sum(t.turns for t in totals),
        requests=sum(t.requests for t in totals),
        input_tokens=sum(t.input_tokens for t in totals),
        output_tokens=sum(t.output_tokens for t in totals),
        tool_calls=sum(t.tool_calls for t in totals),
        errors=sum(t.errors for t in totals),
        duration_ms=sum(t.duration_ms for t in totals),
    )


@guarded
def usage_command(
    app: Annotated[str | None, typer.Option("--app", metavar="APP", help="Only this App's turns.")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="KEY",
            help="Only the turns paid by this App key: its id, a unique start of "
            "its id or prefix, or the full key.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DURATION",
            help="Only turns of the last DURATION: a number and s, m, h, d or w (e.g. 7d). Default: all.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """Usage per App, App key and model: turns, model requests, input and output tokens, tool
    calls, turns that ended in error or were interrupted, and time spent."""
    since_ms = now_ms() - parse_since_ms(since) if since is not None else None
    totals, prefixes = asyncio.run(_fetch(build_settings(), app, key, since_ms))
    if as_json:
        typer.echo(json.dumps([t.to_json() for t in totals]))
        return
    if not totals:
        filtered = app is not None or key is not None or since is not None
        typer.echo("No usage matches these filters." if filtered else "No usage recorded yet.")
        return
    table = Table("App", "Key", "Model", "Provider", "Turns", "Requests", "Input tokens", "Output tokens")
    for name in ("Tool calls", "Errors", "Time"):
        table.add_column(name)
    for column in table.columns[4:]:
        column.justify = "right"
    for t in totals:
        shown_key = "-"
        if t.key_id is not None:
            prefix = prefixes.get(t.key_id)
            shown_key = f"{t.key_id} ({prefix})" if prefix else t.key_id
        # Text cells: an App or model name holding "[...]" must not be read as Rich markup.
        table.add_row(*(Text(c) for c in [t.app, shown_key, t.model_label, t.provider, *_figures(t)]))
    table.add_section()
    table.add_row(Text("Total", style="bold"), "", "", "", *(Text(c) for c in _figures(_grand_total(totals))))
    Console().print(table, highlight=False)
