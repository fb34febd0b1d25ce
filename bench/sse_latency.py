"""SSE delivery latency of GET /api/updates against a bare Starlette fan-out baseline.

Latency is measured from the moment the client sends the request that creates the event
(POST /api/system here, POST /pub for the baseline) to the moment each subscriber has read
the event's frame: an upper bound on "event creation to subscriber" that includes the
HTTP round trip and, for Aomi, persisting the event. Both servers run as real uvicorn
processes (httptools, uvloop, one worker); one client process holds every subscriber, so
at 1,000 subscribers client-side parsing is part of both figures.

    uv run python -m bench.sse_latency [--subscribers 1 100 1000] [--events 30]
                                       [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import httpx

from bench.common import AOMI, aomi_env, baseline_command, free_port, process


async def read_events(response: httpx.Response, samples: list[float], want: int) -> None:
    """Record the latency of every `bench` frame until ``want`` of them arrived."""
    seen = 0
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            payload = json.loads(line[5:])
            if payload.get("type") == "bench":
                samples.append((time.time_ns() - payload["t_ns"]) / 1e6)
                seen += 1
                if seen == want:
                    return


async def measure(
    url: str,
    subscribe: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    publish: Callable[[httpx.AsyncClient, bytes], Awaitable[None]],
    subscribers: int,
    events: int,
) -> list[float]:
    samples: list[float] = []
    limits = httpx.Limits(max_connections=subscribers + 10, max_keepalive_connections=subscribers + 10)
    async with (
        httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client,
        AsyncExitStack() as stack,
    ):
        responses = []
        for _ in range(subscribers):
            response = await stack.enter_async_context(_stream(client, subscribe))
            responses.append(response)
        readers = [asyncio.create_task(read_events(r, samples, events)) for r in responses]
        async with httpx.AsyncClient(base_url=url, timeout=60) as publisher:
            for i in range(events):
                expected = (i + 1) * subscribers
                body = json.dumps({"type": "bench", "t_ns": time.time_ns(), "n": i}).encode()
                await publish(publisher, body)
                deadline = time.monotonic() + 60
                while len(samples) < expected:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"only {len(samples)} of {expected} deliveries after 60 s")
                    await asyncio.sleep(0.001)
        await asyncio.gather(*readers)
    return samples


class _stream:
    def __init__(
        self, client: httpx.AsyncClient, subscribe: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    ):
        self.client, self.subscribe = client, subscribe

    async def __aenter__(self) -> httpx.Response:
        self.response = await self.subscribe(self.client)
        return self.response

    async def __aexit__(self, *exc: object) -> None:
        await self.response.aclose()


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


async def run_aomi(url: str, subscribers: int, events: int) -> list[float]:
    sid = str(uuid.uuid4())
    headers = {"X-Session-Id": sid}
    async with httpx.AsyncClient(base_url=url) as c:
        await c.post("/api/sessions", headers=headers)

    async def subscribe(client: httpx.AsyncClient) -> httpx.Response:
        request = client.build_request(
            "GET", "/api/updates", headers={**headers, "Accept": "text/event-stream"}
        )
        return await client.send(request, stream=True)

    async def publish(client: httpx.AsyncClient, body: bytes) -> None:
        r = await client.post("/api/system", json={"message": body.decode()}, headers=headers)
        r.raise_for_status()

    return await measure(url, subscribe, publish, subscribers, events)


async def run_baseline(url: str, subscribers: int, events: int) -> list[float]:
    async def subscribe(client: httpx.AsyncClient) -> httpx.Response:
        return await client.send(client.build_request("GET", "/sub"), stream=True)

    async def publish(client: httpx.AsyncClient, body: bytes) -> None:
        (await client.post("/pub", content=body)).raise_for_status()

    return await measure(url, subscribe, publish, subscribers, events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--events", type=int, default=30, help="events per subscriber count")
    parser.add_argument(
        "--database-url", default=None, help="default: a SQLite file in a temporary directory"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        aomi_port, base_port = free_port(), free_port()
        env = aomi_env(tmp, aomi_port, args.database_url)
        aomi_url, base_url = f"http://127.0.0.1:{aomi_port}", f"http://127.0.0.1:{base_port}"
        base_cmd = baseline_command("bench.baseline_sse:app", base_port)
        print(f"database: {args.database_url or 'SQLite (temporary file)'}; {args.events} events per row")
        print(
            f"{'subscribers':>11} | {'aomi median':>11} {'aomi p99':>9} "
            f"| {'base median':>11} {'base p99':>9} | {'ratio med':>9} {'ratio p99':>9}"
        )
        with process([AOMI, "serve"], env, aomi_url), process(base_cmd, env, base_url):
            for n in args.subscribers:
                base = summary(asyncio.run(run_baseline(base_url, n, args.events)))
                ours = summary(asyncio.run(run_aomi(aomi_url, n, args.events)))
                print(
                    f"{n:>11} | {ours[0]:>9.2f}ms {ours[1]:>7.2f}ms | {base[0]:>9.2f}ms {base[1]:>7.2f}ms "
                    f"| {ours[0] / base[0]:>9.2f} {ours[1] / base[1]:>9.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
