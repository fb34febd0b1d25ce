"""Load (issue 11): 200 concurrent clients x 5 turns against a real `aomi serve` on PostgreSQL
with the offline model: zero errors, and the database holds exactly the expected messages."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from aomi.db.engine import create_engine
from aomi.db.tables import messages, usage
from tests.e2e.conftest import ServerProcess

# Its time is the machine's: about 80 s alone here, 170 s beside the other test worker, so the
# suite's 120 s per test does not apply.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CLIENTS = 200
TURNS = 5
MESSAGES_PER_TURN = 3  # the question, the price tool call, the answer
POLL_SECONDS = 0.25  # how often a client asks whether its turn has ended


async def _client(http: httpx.AsyncClient, sid: str, problems: Counter[str]) -> None:
    try:
        await _turns(http, sid, problems)
    except httpx.HTTPError as exc:
        problems[f"{type(exc).__name__} {exc.request.method} {exc.request.url.path}"] += 1


async def _turns(http: httpx.AsyncClient, sid: str, problems: Counter[str]) -> None:
    headers = {"X-Session-Id": sid}
    await asyncio.sleep(random.random())  # clients arrive over a second, not in one instant
    for turn in range(TURNS):
        r = await http.post("/api/chat", params={"message": f"price of ETH, turn {turn}"}, headers=headers)
        if r.status_code != 200:
            problems[f"chat {r.status_code}"] += 1
            return
        deadline = time.monotonic() + 120
        while True:
            await asyncio.sleep(POLL_SECONDS)
            r = await http.get("/api/state", headers=headers)
            if r.status_code != 200:
                problems[f"state {r.status_code}"] += 1
                return
            body = r.json()
            if not body["is_processing"]:
                if body["status"] != "idle":
                    problems[f"turn {body['status']}"] += 1
                break
            if time.monotonic() > deadline:
                problems["turn timed out"] += 1
                return


def test_two_hundred_clients(server: ServerProcess, env: dict[str, str]) -> None:
    if not env["AOMI_DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the load test runs on PostgreSQL")
    asyncio.run(_run(server, env))


async def _run(server: ServerProcess, env: dict[str, str]) -> None:
    sids = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    problems: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(_client(http, sid, problems) for sid in sids))
    took = time.monotonic() - started
    print(f"{CLIENTS} clients x {TURNS} turns in {took:.1f} s ({CLIENTS * TURNS / took:.0f} turns/s)")
    assert not problems, problems
    engine = create_engine(env["AOMI_DATABASE_URL"])
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
