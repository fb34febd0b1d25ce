"""`aomi docs`: ingest and search an App's documents."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aomi.cli.apps import find_app
from aomi.cli.common import build_settings, fail, guarded
from aomi.db.engine import create_engine, upgrade
from aomi.docs.service import Documents, IngestReport, discover
from aomi.docs.store import DocStore, Hit
from aomi.tools.docs import citation

T = TypeVar("T")

docs_app = typer.Typer(help="Ingest and search an App's documents.", no_args_is_help=True)


async def _with_documents(work: Callable[[Documents], Awaitable[T]]) -> T:
    """Run ``work`` on the documents service of the configured (migrated) database."""
    settings = build_settings()
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        return await work(Documents(DocStore(engine)))
    finally:
        await engine.dispose()


@docs_app.command("ingest")
@guarded
def ingest(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="The App whose documents to ingest.")],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories to ingest instead of the manifest's `documents` globs."),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also drop stored files that this run did not cover.")
    ] = False,
) -> None:
    """Ingest an App's documents: changed files are replaced, unchanged ones skipped (by content
    hash), removed ones dropped."""
    app = find_app(app_name)
    if not paths and not app.documents:
        fail(f'the App {app.name!r} declares no documents: add `documents = ["docs/*.md"]` or give paths')
    files = discover(app, paths or None)
    err = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # The bar is for people at a terminal; piped into a log it would only leave blank lines.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"Ingesting {app.name}", total=len(files))

        async def run(documents: Documents) -> IngestReport:
            return await documents.ingest(
                app, paths or None, prune=prune, progress=lambda _: bar.advance(task)
            )

        report = asyncio.run(_with_documents(run))
    assert isinstance(report, IngestReport)
    typer.echo(
        f"{app.name}: {report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
        f"{report.removed} removed; {report.chunks} chunks written"
    )
    for path, why in report.failed:
        typer.echo(f"warning: {path}: {why}", err=True)
    if report.failed:
        fail(f"{len(report.failed)} file(s) could not be ingested (see the warnings above)")


@docs_app.command("search")
@guarded
def search(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="The App whose documents to search.")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    limit: Annotated[int, typer.Option(min=1, max=50, help="How many passages to show.")] = 5,
) -> None:
    """Search an App's ingested documents as `search_docs` does."""
    app = find_app(app_name)

    async def run(documents: Documents) -> list[Hit]:
        return await documents.search(app, query, limit)

    hits = asyncio.run(_with_documents(run))
    if not hits:
        typer.echo(f"no passage of {app.name}'s documents matches {query!r}")
    for i, hit in enumerate(hits, 1):
        typer.echo(f"[{i}] {citation(hit)} (score {hit.score:.3f})\n{hit.body}\n")
