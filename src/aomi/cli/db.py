"""`aomi db`: schema migrations."""

from __future__ import annotations

import asyncio

import typer

from aomi.cli.common import build_settings, guarded, redact_url
from aomi.db.engine import create_engine, current_revision, upgrade

db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@db_app.command("upgrade")
@guarded
def upgrade_command() -> None:
    """Apply pending migrations to AOMI_DATABASE_URL (the server also does this at start-up)."""
    settings = build_settings()

    async def migrate() -> str | None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(migrate())
    typer.echo(f"Database {redact_url(settings.resolved_database_url)} is at revision {revision}.")
