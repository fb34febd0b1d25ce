"""The load test's clients, run as their own process (`python -m tests.load.clients URL SID...`):
each session's client sends `TURNS` chats one after another, polling `/api/state` until each turn
ends. Prints one JSON line: how long it took and a count of every problem seen (none is success).

A process of their own, as real clients are: in the test worker they shared its heap (hundreds of
tests' worth of objects) and its coverage tracer, and a run that takes 60 s alone took from 166 s
to over 600 s there, the process busy in garbage collection."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter

import httpx

TURNS = 5
POLL_SECONDS = 0.25  # how often a client asks whether its turn has ended
TURN_DEADLINE_SECONDS = 120


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
        deadline = time.monotonic() + TURN_DEADLINE_SECONDS
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


async def run(url: str, sids: list[str]) -> dict[str, object]:
    problems: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=len(sids), max_keepalive_connections=len(sids))
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(_client(http, sid, problems) for sid in sids))
    return {"seconds": round(time.monotonic() - started, 1), "problems": dict(problems)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.argv[2:]))))
