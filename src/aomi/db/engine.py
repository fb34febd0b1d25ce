"""Async engine creation (SQLite pragmas, PostgreSQL pool) and schema migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant: serializes concurrent start-ups migrating one PostgreSQL database.
log = logging.getLogger("aomi.db")

_MIGRATION_LOCK_ID = 0x414F4D49


# PostgreSQL SQLSTATEs of faults the server outlives: connection (08), resources such as a full
# disk (53), operator intervention such as a restart (57P), a read-only transaction, and a
# database or schema that is not there (dropped, not yet migrated).
_UNAVAILABLE_STATE_PREFIXES = ("08", "53", "57P")
_UNAVAILABLE_STATES = frozenset({"25006", "3D000", "42P01"})


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now (as opposed to a bug in a statement)."""
    from sqlalchemy import exc as sa

    if isinstance(exc, OSError | sa.OperationalError | sa.InterfaceError | sa.DisconnectionError):
        return True
    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
        return state in _UNAVAILABLE_STATES or state.startswith(_UNAVAILABLE_STATE_PREFIXES)
    return False


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _create_sqlite_file(url: str) -> None:
    """Create a missing SQLite database file with mode 0600 (and its directory).

    SQLite would create it with the umask's mode, typically world-readable; it gives its
    ``-wal`` and ``-shm`` files the database file's mode. An existing file is left alone.
    """
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:") or "uri" in parsed.query:
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: a logged database error never shows statement parameters (key hashes,
    # chat messages, wallet state).
    if is_sqlite(url):
        _create_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False, hide_parameters=True)


def _alembic_config(connection: Connection | None) -> Config:
    from alembic.config import Config  # alembic loads only when migrating: quicker CLI start

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest migration's revision id: the schema this code expects."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every pending migration (idempotent); one log line when any ran."""
    async with engine.begin() as conn:
        before = await conn.run_sync(_current)
        await conn.run_sync(_upgrade)
        after = await conn.run_sync(_current)
    if after != before:
        log.info("database schema migrated from %s to %s", before or "empty", after)


async def check_ready(engine: AsyncEngine, expected_revision: str) -> str | None:
    """None when the database answers, holds the expected schema and takes writes; else why not.

    The write (the revision row set to itself, committed) is what catches a read-only SQLite
    file, a full disk or a read-only PostgreSQL replica.
    """
    try:
        async with engine.begin() as conn:
            found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            if found != expected_revision:
                return f"the schema is at revision {found}, expected {expected_revision}"
            await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return f"the database is unavailable: {type(exc).__name__}"
    return None


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


POLL_SECONDS = 0.01


async def dispose(engine: AsyncEngine, wait_seconds: float = 2.0) -> None:
    """Dispose of the engine once the connections in use are back (at most ``wait_seconds``).

    A request cancelled mid-read (a client closing an event stream as the server stops) closes
    its connection in a task of its own; disposing of the engine before that task ran left an
    aiosqlite connection open until the garbage collector found it.
    """
    checkedout = getattr(engine.sync_engine.pool, "checkedout", None)
    if callable(checkedout):
        deadline = time.monotonic() + wait_seconds
        for _ in range(round(wait_seconds / POLL_SECONDS)):  # polled: the pool has no event for it
            if checkedout() == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
    await engine.dispose()
