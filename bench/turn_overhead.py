"""The server's own overhead per chat turn, on a real `aomi serve` process, SQLite and PostgreSQL.

A turn is timed from sending POST /api/chat to receiving its `turn_finished` event on the
session's open /api/updates stream; the model's own time is subtracted. For the scripted
provider (a fake OpenAI Chat Completions server on loopback, from tests/support/providers.py)
that is the sum over the turn's upstream requests of the time from the fake having read the
request to its writing the last byte of the answer; the built-in `offline` model does no I/O,
so its whole turn counts. Two kinds of turn per model: a plain answer (one model request) and
a price question (model, `get_token_price` against a local fake price API, model again).

Sessions of several turns each (history grows, the first exchange is titled) go round-robin
over the cases; after a session's first turn the bench waits for its title, as a user reading
the answer would, so no title request overlaps a measured turn. The baseline, measured in the
same run, is a GET /health round trip. The aomi serve pid goes to stderr (for py-spy).

    uv run --frozen python -m bench.turn_overhead [--turns 200] [--session-turns 10]
        [--databases sqlite postgresql] [--models offline scripted]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.support.providers import FakeProvider, Reply, SeenRequest, ToolCall, fake_provider

from bench.common import AOMI, aomi_env, free_port, health, postgres_database, price_api, process

WARMUP_TURNS = 5
HEALTH_SAMPLES = 500
GOAL_MEDIAN_MS = 5.0
GOAL_P99_MS = 20.0
APPS = {"bench-scripted": ("scripted", ["scripted", "offline"]), "bench-offline": ("offline", ["offline"])}


@dataclass(frozen=True, eq=False)
class Case:
    """One (model, kind) row: what is sent, and what the scripted provider answers (hashed by identity)."""

    model: str
    kind: str
    app: str
    message: str
    replies: tuple[Reply, ...] = ()
    """One per upstream request of the turn; none for the offline model."""


PRICE_CALL = Reply(tool_calls=[ToolCall("get_token_price", {"symbol": "ETH"})])
CASES = (
    Case("offline", "plain", "bench-offline", "hello there"),
    Case("offline", "tool", "bench-offline", "price of ETH"),
    Case(
        "scripted",
        "plain",
        "bench-scripted",
        "hello there",
        (Reply(text=["Hello! ", "I am a scripted model. ", "How can I help you today?"]),),
    ),
    Case(
        "scripted",
        "tool",
        "bench-scripted",
        "price of ETH",
        (PRICE_CALL, Reply(text=["ETH trades at ", "$3,456.78 ", "right now."])),
    ),
)


@dataclass(frozen=True)
class Sample:
    turn_ms: float
    model_ms: float

    @property
    def overhead_ms(self) -> float:
        return self.turn_ms - self.model_ms


class Updates:
    """The events of one session's open /api/updates stream, read as far as needed."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.seen: set[str] = set()

    async def until(self, kind: str) -> dict[str, Any]:
        async for line in self._lines:
            if line.startswith("data:"):
                event: dict[str, Any] = json.loads(line[5:])
                self.seen.add(event["type"])
                if event["type"] == kind:
                    return event
        raise SystemExit("the update stream ended")


def check(case: Case, turn: int, requests: list[SeenRequest]) -> None:
    """The turn went as scripted: its requests, the history they carry, the tool result."""
    what = f"{case.model} {case.kind}, turn {turn + 1}"
    if len(requests) != len(case.replies):
        raise SystemExit(f"{what}: {len(requests)} model requests, not {len(case.replies)}")
    if not requests:
        return
    answers = sum(m["role"] == "assistant" for m in requests[0].body["messages"])
    if answers != turn * len(case.replies):
        raise SystemExit(f"{what}: the history holds {answers} model answers, not {turn * len(case.replies)}")
    if case.kind == "tool" and not any("3,456.78" in r for r in requests[-1].tool_results()):
        raise SystemExit(f"{what}: the tool result did not reach the model")


async def model_ms(requests: list[SeenRequest]) -> float:
    """The scripted model's time in a turn: from reading each request to writing its last byte."""
    deadline = time.monotonic() + 5
    while any(r.finished is None for r in requests):  # the fake's thread may not have noted it yet
        if time.monotonic() > deadline:
            raise SystemExit("a model request was not answered whole")
        await asyncio.sleep(0.001)
    return sum(r.finished - r.received for r in requests if r.finished is not None) * 1000


async def session(client: httpx.AsyncClient, fake: FakeProvider, case: Case, turns: int) -> list[Sample]:
    """``turns`` turns in one new session, its update stream open throughout."""
    headers = {"X-Session-Id": str(uuid.uuid4())}
    params = {"app": case.app}
    samples = []
    async with client.stream("GET", "/api/updates", params=params, headers=headers) as stream:
        updates = Updates(stream)
        for i in range(turns):
            fake.script[:] = case.replies
            first = len(fake.requests)
            started = time.perf_counter()
            r = await client.post("/api/chat", params={**params, "message": case.message}, headers=headers)
            r.raise_for_status()
            finished = await updates.until("turn_finished")
            turn_ms = (time.perf_counter() - started) * 1000
            if finished["status"] != "idle":
                raise SystemExit(f"{case.model} {case.kind}: the turn ended {finished['status']}")
            requests = fake.requests[first:]
            check(case, i, requests)
            samples.append(Sample(turn_ms, await model_ms(requests)))
            if i == 0 and "title_changed" not in updates.seen:
                await updates.until("title_changed")
    return samples


def session_sizes(turns: int, per_session: int) -> list[int]:
    full, rest = divmod(turns, per_session)
    return [per_session] * full + ([rest] if rest else [])


async def measure(
    url: str, fake: FakeProvider, cases: list[Case], turns: int, per_session: int
) -> tuple[float, dict[Case, list[Sample]]]:
    """The baseline median, and ``turns`` samples per case from sessions taken round-robin."""
    results: dict[Case, list[Sample]] = {case: [] for case in cases}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for case in cases:
            await session(client, fake, case, WARMUP_TURNS)
        base = statistics.median(await health(url, HEALTH_SAMPLES))
        for size in session_sizes(turns, per_session):
            for case in cases:
                results[case] += await session(client, fake, case, size)
    return base, results


def write_apps(apps_dir: Path) -> None:
    for name, (default, allowed) in APPS.items():
        (apps_dir / name).mkdir(parents=True)
        (apps_dir / name / "app.toml").write_text(
            f'name = "{name}"\npublic = true\npreamble = "You are a benchmark assistant."\n'
            'tools = ["get_token_price"]\n\n'
            f'[models]\ndefault = "{default}"\nallowed = {json.dumps(allowed)}\n'
        )


@contextmanager
def database(kind: str) -> Iterator[tuple[str, str | None]]:
    """A label and the AOMI_DATABASE_URL (None: the default SQLite file in the data directory)."""
    if kind == "sqlite":
        yield "SQLite (temporary file)", None
    else:
        with postgres_database() as url:
            yield f"PostgreSQL ({url.rsplit('/', 1)[1]})", url


def quantile(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def report(label: str, turns: int, per_session: int, base: float, results: dict[Case, list[Sample]]) -> None:
    print(f"\ndatabase: {label}; {turns} turns per row in sessions of {per_session}")
    print(f"baseline GET /health: {base:.2f} ms (median of {HEALTH_SAMPLES})")
    print(f"{'model':<10} {'turn':<6} {'median':>8} {'p90':>8} {'p99':>8} {'model time':>11} {'ratio':>6}")
    for case, samples in results.items():
        overhead = [s.overhead_ms for s in samples]
        med = statistics.median(overhead)
        model = statistics.median(s.model_ms for s in samples)
        print(
            f"{case.model:<10} {case.kind:<6} {med:>6.2f}ms {quantile(overhead, 90):>6.2f}ms "
            f"{quantile(overhead, 99):>6.2f}ms {model:>9.2f}ms {med / base:>6.1f}"
        )


def goals(rows: list[tuple[str, Case, list[Sample]]]) -> None:
    print(f"\ngoals: overhead median <= {GOAL_MEDIAN_MS:g} ms, p99 <= {GOAL_P99_MS:g} ms")
    for db, case, samples in rows:
        overhead = [s.overhead_ms for s in samples]
        med, p99 = statistics.median(overhead), quantile(overhead, 99)
        print(
            f"{db:<11} {case.model:<10} {case.kind:<6} "
            f"median {med:>6.2f}ms {'met' if med <= GOAL_MEDIAN_MS else 'missed':<7} "
            f"p99 {p99:>6.2f}ms {'met' if p99 <= GOAL_P99_MS else 'missed'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200, help="measured turns per (model, kind, database)")
    parser.add_argument("--session-turns", type=int, default=10, help="turns per session")
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--models", nargs="+", choices=["offline", "scripted"], default=["offline", "scripted"]
    )
    args = parser.parse_args()
    cases = [case for case in CASES if case.model in args.models]
    rows: list[tuple[str, Case, list[Sample]]] = []
    with fake_provider() as fake, price_api() as prices:
        for db in args.databases:
            with database(db) as (label, database_url), tempfile.TemporaryDirectory() as tmp:
                write_apps(Path(tmp) / "apps")
                port = free_port()
                env = aomi_env(tmp, port, database_url, price_api_url=prices, models="scripted=openai:gpt-4o")
                env.update(OPENAI_API_KEY="sk-bench-dummy", OPENAI_BASE_URL=fake.openai_base_url)
                url = f"http://127.0.0.1:{port}"
                with process([AOMI, "serve"], env, url) as server:
                    print(f"{label}: aomi serve pid {server.pid}", file=sys.stderr, flush=True)
                    base, results = asyncio.run(measure(url, fake, cases, args.turns, args.session_turns))
                report(label, args.turns, args.session_turns, base, results)
                rows += [(db, case, samples) for case, samples in results.items()]
    goals(rows)


if __name__ == "__main__":
    main()
