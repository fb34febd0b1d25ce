from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.engine import current_revision, upgrade


async def test_upgrade_creates_schema_and_is_idempotent(engine: AsyncEngine) -> None:
    await upgrade(engine)  # a second run changes nothing
    assert await current_revision(engine) == "0001"
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"app_keys", "app_key_scopes", "sessions", "messages", "session_events"} <= names
