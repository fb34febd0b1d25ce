"""Load (issue 11): 200 concurrent clients x 5 turns against a real `aomi serve` on PostgreSQL
with the offline model: zero errors, and the database holds exactly the expected messages.
The clients run in a process of their own (`tests/load/clients.py`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from aomi.db.engine import create_engine
from aomi.db.tables import messages, usage
from tests.e2e.conftest import ServerProcess
from tests.load.clients import TURNS
from tests.support.server_process import ROOT

# Its time is the machine's (about 60 s alone here, more beside the other test worker), so the
# suite's 120 s per test does not apply; the clients get 480 s of it.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CLIENTS = 200
MESSAGES_PER_TURN = 3  # the question, the price tool call, the answer


def test_two_hundred_clients(server: ServerProcess, env: dict[str, str]) -> None:
    if not env["AOMI_DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the load test runs on PostgreSQL")
    sids = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    done = subprocess.run(
        [sys.executable, "-m", "tests.load.clients", server.url, *sids],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    took = result["seconds"]
    print(f"{CLIENTS} clients x {TURNS} turns in {took:.1f} s ({CLIENTS * TURNS / took:.0f} turns/s)")
    assert result["problems"] == {}, result["problems"]
    asyncio.run(_check_rows(env["AOMI_DATABASE_URL"], sids))


async def _check_rows(database_url: str, sids: list[str]) -> None:
    """The database holds exactly each session's messages and one finished turn per chat."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(messages.c.session_id, func.count()).group_by(messages.c.session_id)
            )
            per_session: dict[str, int] = {r[0]: r[1] for r in rows}
            users = await conn.scalar(
                select(func.count()).select_from(messages).where(messages.c.sender == "user")
            )
            turns = await conn.scalar(select(func.count()).select_from(usage).where(usage.c.status == "idle"))
    finally:
        await engine.dispose()
    assert per_session == {sid: TURNS * MESSAGES_PER_TURN for sid in sids}
    assert users == CLIENTS * TURNS
    assert turns == CLIENTS * TURNS
