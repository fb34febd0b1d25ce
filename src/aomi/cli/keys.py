"""`aomi keys`: issue, list and revoke App keys."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aomi.cli.common import (
    EXIT_USAGE,
    build_settings,
    fail,
    guarded,
    load_apps,
    open_key_store,
    parse_duration_ms,
    short_time,
)
from aomi.keys.store import IssuedKey, KeyRecord
from aomi.timeutil import iso_ms, now_ms

keys_app = typer.Typer(help="Issue, list and revoke App keys.", no_args_is_help=True)


def _iso(ms: int | None) -> str | None:
    return iso_ms(ms) if ms is not None else None


def record_json(record: KeyRecord, now: int) -> dict[str, Any]:
    """A key as JSON: never the key itself, never its hash."""
    return {
        "id": record.id,
        "prefix": record.prefix,
        "label": record.label,
        "apps": sorted(record.apps),
        "created_at": _iso(record.created_ms),
        "expires_at": _iso(record.expires_ms),
        "last_used_at": _iso(record.last_used_ms),
        "revoked_at": _iso(record.revoked_ms),
        "status": record.status(now),
    }


@keys_app.command("create")
@guarded
def create(
    apps: Annotated[
        list[str],
        typer.Option(
            "--app", metavar="APP", help="App the key may use; repeat for several Apps.", show_default=False
        ),
    ],
    label: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Free text to recognize the key by (e.g. 'production')."),
    ] = None,
    slug: Annotated[
        str | None,
        typer.Option(
            metavar="SLUG", help="1-8 lowercase letters after 'sk-' (default: from the first App name)."
        ),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Lifetime: a number and a unit m, h, d or w (e.g. 30d). Default: no expiry.",
        ),
    ] = None,
    import_key: Annotated[
        str | None,
        typer.Option(
            "--import",
            metavar="KEY",
            help="Register this existing key string (20-256 characters) instead of generating one.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
) -> None:
    """Issue a new App key. The key is printed once and cannot be shown again."""
    expires_ms = now_ms() + parse_duration_ms(expires_in, "--expires-in") if expires_in is not None else None
    settings = build_settings()
    registry = load_apps(settings)
    for app in apps:
        if registry.get(app) is None:
            known = ", ".join(registry.names())
            fail(
                f"unknown App {app!r} (known: {known}; manifests are read from {settings.apps_dir})",
                EXIT_USAGE,
            )

    async def issue() -> IssuedKey:
        async with open_key_store(settings) as store:
            return await store.create(
                list(dict.fromkeys(apps)),
                label=label,
                slug=slug,
                expires_ms=expires_ms,
                import_key=import_key,
            )

    issued = asyncio.run(issue())
    record = issued.record
    if as_json:
        out = {
            "id": record.id,
            "key": issued.key,
            "prefix": record.prefix,
            "apps": sorted(record.apps),
            "label": record.label,
            "created_at": iso_ms(record.created_ms),
            "expires_at": _iso(record.expires_ms),
        }
        typer.echo(json.dumps(out))
        return
    expiry = f"expires {iso_ms(record.expires_ms)}" if record.expires_ms is not None else "no expiry"
    typer.echo(f"Created App key {record.id} for {', '.join(sorted(record.apps))} ({expiry}):")
    typer.echo("")
    typer.echo(f"    {issued.key}")
    typer.echo("")
    typer.echo("Copy it now: this key will not be shown again (only its prefix is stored).")


@keys_app.command("list")
@guarded
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List App keys, newest first (never the keys themselves)."""
    settings = build_settings()

    async def fetch() -> list[KeyRecord]:
        async with open_key_store(settings) as store:
            return await store.list()

    records = asyncio.run(fetch())
    now = now_ms()
    if as_json:
        typer.echo(json.dumps([record_json(r, now) for r in records]))
        return
    if not records:
        typer.echo("No App keys yet. Issue one with: aomi keys create --app <name>")
        return
    table = Table("ID", "Prefix", "Label", "Apps", "Created", "Expires", "Last used", "Status")
    colors = {"active": "green", "revoked": "red", "expired": "yellow"}
    for r in records:
        status = r.status(now)
        # Text cells: a label or App name holding "[...]" must not be read as Rich markup.
        cells = [r.id, r.prefix, r.label or "", ", ".join(sorted(r.apps))]
        times = [short_time(r.created_ms), short_time(r.expires_ms), short_time(r.last_used_ms)]
        table.add_row(*(Text(c) for c in cells + times), Text(status, style=colors[status]))
    Console().print(table, highlight=False)


@keys_app.command("revoke")
@guarded
def revoke(
    id_or_prefix: Annotated[
        str, typer.Argument(help="The key's id, a unique start of its id or prefix, or the full key.")
    ],
) -> None:
    """Revoke an App key: every server rejects it within about a second."""
    settings = build_settings()

    async def do_revoke() -> tuple[KeyRecord, KeyRecord]:
        async with open_key_store(settings) as store:
            before = await store.resolve(id_or_prefix)
            return before, await store.revoke(before.id)

    before, after = asyncio.run(do_revoke())
    when = iso_ms(after.revoked_ms) if after.revoked_ms is not None else "?"
    if before.revoked_ms is not None:
        typer.echo(f"Key {after.id} ({after.prefix}) was already revoked at {when}.")
    else:
        typer.echo(f"Revoked key {after.id} ({after.prefix}) at {when}.")
