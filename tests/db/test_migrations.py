from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.engine import current_revision, head_revision, upgrade


async def test_upgrade_creates_schema_and_is_idempotent(engine: AsyncEngine) -> None:
    await upgrade(engine)  # a second run changes nothing
    assert await current_revision(engine) == head_revision() == "0006"
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
