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

keys_app = typer.Typer(help="Issue, list, rotate and revoke App keys.", no_args_is_help=True)


def issued_json(issued: IssuedKey) -> dict[str, Any]:
    """A key just issued: its record and, this once, the key itself."""
    return {**issued.record.to_json(now_ms()), "key": issued.key}


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
        typer.echo(json.dumps(issued_json(issued)))
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
        typer.echo(json.dumps([r.to_json(now) for r in records]))
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


@keys_app.command("rotate")
@guarded
def rotate(
    id_or_prefix: Annotated[
        str, typer.Argument(help="The key's id, a unique start of its id or prefix, or the full key.")
    ],
    grace: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            help="How long the old key keeps working: a number and a unit s, m, h, d or w (0 stops it now).",
        ),
    ] = "24h",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (the new key, and the old as 'old').")
    ] = False,
) -> None:
    """Issue a new key for the same Apps, label and expiry; the old one stops after the grace period."""
    grace_ms = parse_duration_ms(grace, "--grace", allow_zero=True)
    settings = build_settings()

    async def do_rotate() -> tuple[IssuedKey, KeyRecord]:
        async with open_key_store(settings) as store:
            return await store.rotate(id_or_prefix, grace_ms=grace_ms)

    issued, old = asyncio.run(do_rotate())
    if as_json:
        typer.echo(json.dumps({**issued_json(issued), "old": old.to_json(now_ms())}))
        return
    until = iso_ms(old.expires_ms) if old.expires_ms is not None else "?"
    typer.echo(f"Rotated key {old.id} ({old.prefix}): it keeps working until {until}.")
    typer.echo(f"New App key {issued.record.id} for {', '.join(sorted(issued.record.apps))}:")
    typer.echo("")
    typer.echo(f"    {issued.key}")
    typer.echo("")
    typer.echo("Copy it now: this key will not be shown again (only its prefix is stored).")
