"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every storage test.

PostgreSQL tests use a fresh database per test, cloned from a migrated template. When the
server at AOMI_TEST_PG (default 127.0.0.1:5432, user postgres) is unreachable they are
skipped locally; under CI=true that is an error, so CI can never pass without them.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr
from pydantic_ai import models as pai_models
from sqlalchemy.ext.asyncio import AsyncEngine

from aomi.db.engine import create_engine, upgrade
from aomi.settings import Settings
from tests.support.anvil import anvil_node, chain_fixture
from tests.support.fixtures import allow_model_requests, fake

__all__ = ["allow_model_requests", "anvil_node", "chain_fixture", "fake"]

pai_models.ALLOW_MODEL_REQUESTS = False

PG_BASE = os.environ.get("AOMI_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
TEST_SECRET = "test-secret-not-for-production-0123456789"


_STACK_TIMER = pytest.StashKey[threading.Timer]()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    """Just before pytest-timeout ends a timed-out test's process, every thread's stack is written
    to the real stderr: pytest-timeout writes it to the terminal, which a test worker (xdist) does
    not have, so a hang in CI would leave no trace."""
    timer = threading.Timer(max(settings.timeout - 1, 0.5), _dump_stacks, (item, settings.timeout))
    timer.daemon = True
    item.stash[_STACK_TIMER] = timer
    timer.start()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_STACK_TIMER, None)
    if timer is not None:
        timer.cancel()


def _dump_stacks(item: pytest.Item, timeout: float) -> None:
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=True)  # fd 2 is the process's own stderr again
    err = sys.__stderr__
    assert err is not None
    err.write(f"\n+++ {item.nodeid} is past its {timeout:g} s; every thread's stack: +++\n")
    err.flush()
    faulthandler.dump_traceback(err, all_threads=True)


def _pg_url(db: str, driver: str = "postgresql") -> str:
    return PG_BASE.replace("postgresql://", f"{driver}://", 1) + f"/{db}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_url("postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """Name of a migrated template database, or None when PostgreSQL is unreachable."""
    name = f"aomi_tpl_{os.getpid()}"
    try:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name}"))
        asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            pytest.exit(f"PostgreSQL is required under CI and is unreachable: {exc}", returncode=1)
        yield None
        return

    async def migrate() -> None:
        engine = create_engine(_pg_url(name, "postgresql+asyncpg"))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    yield name
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, pg_template: str | None) -> Iterator[str]:
    """A URL to an empty, migrated database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'aomi.db'}"
        return
    if pg_template is None:
        pytest.skip("PostgreSQL is unreachable")
    name = f"aomi_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f"CREATE DATABASE {name} TEMPLATE {pg_template}"))
    yield _pg_url(name, "postgresql+asyncpg")
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    apps_dir = tmp_path / "apps"
    apps_dir.mkdir(exist_ok=True)
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        apps_dir=apps_dir,
        secret_key=SecretStr(TEST_SECRET),
        price_api_url="http://127.0.0.1:9/unused",
        # Tests poll as fast as they like; tests/api/test_rate_limits.py turns the limits on.
        rate_limit_per_key="off",
        rate_limit_per_session="off",
        shutdown_grace_seconds=0,  # a test's server stops at once; tests/e2e/test_shutdown.py waits
    )


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on the parametrized database."""
    eng = create_engine(settings.resolved_database_url)
    await upgrade(eng)
    yield eng
    await eng.dispose()
