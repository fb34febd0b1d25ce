"""Fan-out between replicas through PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from aomi.db.engine import create_engine
from aomi.db.notify import Listener, notify
from aomi.keys.store import KeyStore
from aomi.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support.harness import new_id, running, write_app


def _postgres_only(settings: Settings) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("SQLite is single-process: no other replica to tell")


async def test_a_revoked_key_is_refused_by_every_replica_within_a_second(settings: Settings) -> None:
    _postgres_only(settings)
    write_app(settings.apps_dir, "keyed")
    cached = settings.model_copy(update={"key_cache_seconds": 60.0})
    async with running(cached) as a, running(cached) as b:
        key = await a.issue_key("keyed")
        for replica in (a, b):  # both have verified (and cached) the key
            assert (await replica.state(new_id(), app="keyed", key=key)).status_code == 200
        # Revoked elsewhere (as `aomi keys revoke` does, on its own engine).
        engine = create_engine(settings.resolved_database_url)
        try:
            record = await KeyStore(engine, TEST_SECRET.encode()).resolve(key)
            await KeyStore(engine, TEST_SECRET.encode()).revoke(record.id)
            revoked_at = time.monotonic()
        finally:
            await engine.dispose()
        for replica in (a, b):
            while (await replica.state(new_id(), app="keyed", key=key)).status_code != 401:
                assert time.monotonic() - revoked_at < 1.0, "the revocation did not reach the replica"
                await asyncio.sleep(0.02)


async def test_an_expiry_set_on_one_replicas_admin_api_reaches_the_other(settings: Settings) -> None:
    _postgres_only(settings)
    write_app(settings.apps_dir, "keyed")
    admin = {"Authorization": "Bearer admin-token-for-fanout-tests"}
    cached = settings.model_copy(
        update={"key_cache_seconds": 60.0, "admin_token": SecretStr(admin["Authorization"][7:])}
    )
    async with running(cached) as a, running(cached) as b:
        key = await a.issue_key("keyed")
        assert (await b.state(new_id(), app="keyed", key=key)).status_code == 200  # cached on b
        r = await a.client.post(f"/admin/api/keys/{key}/rotate", json={"grace": "0s"}, headers=admin)
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 10
        while (await b.state(new_id(), app="keyed", key=key)).status_code != 401:
            assert time.monotonic() < deadline, "the rotation did not reach the other replica"
            await asyncio.sleep(0.02)
        assert (await b.state(new_id(), app="keyed", key=r.json()["key"])).status_code == 200


async def test_the_listener_reconnects_and_reports_the_gap(settings: Settings) -> None:
    _postgres_only(settings)
    seen: list[str] = []
    gaps: list[bool] = []
    listener = Listener(
        settings.resolved_database_url, {"key": seen.append}, on_gap=lambda: gaps.append(True)
    )
    await listener.start()
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:  # its connection is cut, as a database restart would
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        deadline = time.monotonic() + 10
        while not gaps:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        async with engine.begin() as conn:
            await notify(conn, "key", "abc")
            await notify(conn, "other", "ignored")
        while not seen:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        assert seen == ["abc"]
    finally:
        await engine.dispose()
        await listener.aclose()
