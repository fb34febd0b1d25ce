"""Latency of one chat turn with the offline model, on a real `aomi serve` process.

A turn is timed from sending POST /api/chat to receiving its `turn_finished` event on an
open /api/updates stream (so no polling interval is measured). Two kinds of turn: a plain
message (one model request) and a price question (model, tool call to a local fake price
API, model again). The baseline, measured in the same run, is a GET /health round trip.

    uv run python -m bench.chat_turn [--turns 50] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid

import httpx

from bench.common import AOMI, aomi_env, free_port, health, price_api, process


async def turns(url: str, message: str, count: int) -> list[float]:
    samples = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(count):
            sid = str(uuid.uuid4())
            headers = {"X-Session-Id": sid}
            async with client.stream("GET", "/api/updates", headers=headers) as stream:
                lines = stream.aiter_lines()
                started = time.perf_counter()
                r = await client.post("/api/chat", params={"message": message}, headers=headers)
                r.raise_for_status()
                async for line in lines:
                    if line.startswith("data:") and json.loads(line[5:])["type"] == "turn_finished":
                        samples.append((time.perf_counter() - started) * 1000)
                        break
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument(
        "--database-url", default=None, help="default: a SQLite file in a temporary directory"
    )
    args = parser.parse_args()
    with price_api() as prices, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = aomi_env(tmp, port, args.database_url, price_api_url=prices)
        url = f"http://127.0.0.1:{port}"
        with process([AOMI, "serve"], env, url):
            asyncio.run(turns(url, "hello", 5))  # warm-up
            base = statistics.median(asyncio.run(health(url, args.turns)))
            print(f"database: {args.database_url or 'SQLite (temporary file)'}; {args.turns} turns each")
            print(f"{'turn':<28} {'median':>9} {'p90':>9} {'ratio to /health':>17}")
            print(f"{'GET /health (baseline)':<28} {base:>7.2f}ms {'':>9} {1.0:>17.1f}")
            for label, message in (
                ("plain message", "hello there"),
                ("price question + tool", "price of ETH"),
            ):
                samples = sorted(asyncio.run(turns(url, message, args.turns)))
                med, p90 = statistics.median(samples), samples[int(len(samples) * 0.9)]
                print(f"{label:<28} {med:>7.2f}ms {p90:>7.2f}ms {med / base:>17.1f}")


if __name__ == "__main__":
    main()
