"""What a session costs the server: a cold load from PostgreSQL, and memory while cached.

- Cold load: a session of 200 messages (and a turn's worth of events) is read from PostgreSQL
  through `SessionManager.get` after being dropped from memory (the path a request takes on a
  replica that does not hold it), against the warm figure (the same call, answered from
  memory) and a baseline of one primary-key `SELECT` round trip on the same engine.
  Goal: median cold load <= 3 ms above the warm median.
- Memory: 2,000 sessions of 20 messages each, cached with their serialized snapshots, measured
  with tracemalloc; baseline: the snapshot bytes alone (what the smallest possible cache holds).
  Goal: <= 64 KB per session.

    uv run python -m bench.session_cache [--messages 200] [--loads 300] [--sessions 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import tracemalloc
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text

from aomi.db.engine import create_engine, upgrade
from aomi.db.tables import sessions as sessions_table
from aomi.sessions.bus import EventBus
from aomi.sessions.leases import Leases
from aomi.sessions.manager import SessionManager
from aomi.sessions.model import Message, Sender, Session
from aomi.sessions.store import SessionStore
from bench.common import postgres_database

WORDS = ("the", "price", "of", "ether", "moved", "again", "today", "while", "gas", "stayed", "low", "on")


def _messages(count: int) -> list[Message]:
    out: list[Message] = []
    for i in range(count):
        sender = Sender.USER if i % 2 == 0 else Sender.AGENT
        text_ = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(30 if sender is Sender.AGENT else 10))
        tool = ("get_token_price(symbol=ETH)", '{"usd": 3456.78}') if i % 10 == 5 else None
        out.append(Message(seq=-1, sender=sender, content=text_, tool_result=tool))
    return out


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class ColdLoad:
    messages: int
    cold_median: float
    cold_p99: float
    warm_median: float
    select_median: float

    @property
    def over_warm(self) -> float:
        return self.cold_median - self.warm_median


async def cold_load(url: str, messages: int, loads: int) -> ColdLoad:
    engine = create_engine(url)
    await upgrade(engine)
    store = SessionStore(engine)
    manager = SessionManager(
        store, EventBus(), Leases(engine, "bench", 15.0), cache_size=10_000, idle_seconds=3600
    )
    sid = str(uuid.uuid4())
    s = Session(id=sid, app="default", model="offline")
    assert await store.create(s)
    await store.add_messages(sid, _messages(messages))
    cold: list[float] = []
    warm: list[float] = []
    base: list[float] = []
    probe = select(sessions_table.c.id).where(sessions_table.c.id == sid)
    for i in range(loads + 20):
        manager.forget(sid)
        t0 = time.perf_counter()
        loaded = await manager.get(sid)
        t1 = time.perf_counter()
        again = await manager.get(sid)
        t2 = time.perf_counter()
        async with engine.connect() as conn:
            await conn.execute(probe)
        t3 = time.perf_counter()
        assert loaded is not None
        assert again is loaded
        assert len(loaded.messages) == messages
        if i >= 20:  # warm-up: connections opened, statements prepared
            cold.append((t1 - t0) * 1000)
            warm.append((t2 - t1) * 1000)
            base.append((t3 - t2) * 1000)
    async with engine.connect() as conn:
        rows = await conn.scalar(text("SELECT count(*) FROM messages"))
    await engine.dispose()
    return ColdLoad(
        int(rows or 0),
        statistics.median(cold),
        _quantile(cold, 0.99),
        statistics.median(warm),
        statistics.median(base),
    )


def print_cold_load(r: ColdLoad, loads: int) -> None:
    print(f"cold load of a {r.messages}-message session from PostgreSQL ({loads} loads)")
    print(f"  cold   median {r.cold_median:7.3f} ms  p99 {r.cold_p99:7.3f} ms")
    print(f"  warm   median {r.warm_median:7.3f} ms")
    print(f"  1 SELECT by key (baseline) median {r.select_median:7.3f} ms")
    print(
        f"  cold - warm = {r.over_warm:.3f} ms (goal <= 3 ms: {'met' if r.over_warm <= 3 else 'missed'}); "
        f"cold / one SELECT = {r.cold_median / r.select_median:.1f}x"
    )


def memory(sessions: int, per_session: int) -> tuple[float, float]:
    """KB per cached session, and KB of its snapshot bytes alone."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    cache: dict[str, Session] = {}
    snapshot_bytes = 0
    for _ in range(sessions):
        s = Session(id=str(uuid.uuid4()), app="default", model="offline")
        for i, m in enumerate(_messages(per_session)):
            m.seq = i
            s.messages.append(m)
        snapshot_bytes += len(s.snapshot())
        cache[s.id] = s
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(cache) == sessions
    return used / sessions / 1024, snapshot_bytes / sessions / 1024


def print_memory(per: float, base: float, sessions: int) -> None:
    print(f"memory: {sessions} cached sessions of 20 messages")
    print(
        f"  {per:.1f} KB per session (goal <= 64 KB: {'met' if per <= 64 else 'missed'}); "
        f"its snapshot bytes alone (baseline) {base:.1f} KB; ratio {per / base:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--loads", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=2000)
    args = parser.parse_args()
    with postgres_database() as url:
        print_cold_load(asyncio.run(cold_load(url, args.messages, args.loads)), args.loads)
    print_memory(*memory(args.sessions, 20), args.sessions)


if __name__ == "__main__":
    main()
