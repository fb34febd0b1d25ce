import asyncio
import time
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.engine import create_engine, current_revision, dispose, head_revision, upgrade
from aomi.settings import Settings


async def test_upgrade_creates_schema_and_is_idempotent(engine: AsyncEngine) -> None:
    await upgrade(engine)  # a second run changes nothing
    assert await current_revision(engine) == head_revision() == "0007"
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"app_keys", "app_key_scopes", "sessions", "messages", "session_events"} <= names


async def test_migrations_create_exactly_the_tables_module(engine: AsyncEngine) -> None:
    """`db/tables.py` and the migrations describe one schema: autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from aomi.db.tables import in_tables, metadata

    def diff(sync_conn: Connection) -> list[Any]:
        return list(
            compare_metadata(
                MigrationContext.configure(sync_conn, opts={"include_object": in_tables}), metadata
            )
        )

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_dispose_waits_for_connections_in_use(settings: Settings) -> None:
    """A connection still closing in a task of its own (a cancelled stream's read) is back before
    the engine goes; the wait is bounded when one never comes back."""
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    pool = engine.sync_engine.pool
    conn = await engine.connect()

    async def close_later() -> None:
        await asyncio.sleep(0.1)
        await conn.close()

    closing = asyncio.create_task(close_later())
    await dispose(engine)
    assert closing.done() and pool.checkedout() == 0  # type: ignore[attr-defined]

    stuck = create_engine(settings.resolved_database_url)
    held = await stuck.connect()
    started = time.monotonic()
    await dispose(stuck, wait_seconds=0.2)
    assert 0.15 < time.monotonic() - started < 5
    await held.invalidate()  # its pool is gone: close the connection itself
    await held.close()
