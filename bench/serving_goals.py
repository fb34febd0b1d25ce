"""Issue 11's serving goals in one run, each against a baseline measured in the same run:

1. warm `GET /api/state` req/s and p99 against a bare Starlette app serving the same bytes
   (`bench/state_throughput.py`; needs `wrk`). Goal: ratio >= 0.60.
2. cold load of a 200-message session from PostgreSQL, over the warm figure
   (`bench/session_cache.py`). Goal: median <= 3 ms above warm.
3. memory per cached 20-message session (`bench/session_cache.py`). Goal: <= 64 KB.
4. SSE fan-out to 1,000 subscribers, p99 from creating an event to every subscriber having read
   it, against a bare Starlette fan-out (`bench/sse_latency.py`), the server on PostgreSQL.
   Goal: p99 <= 1.2x the baseline's. The open-file limit is raised to its hard limit first.

    uv run python -m bench.serving_goals [--seconds 10] [--subscribers 1000] [--events 30]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile

from bench.common import AOMI, aomi_env, baseline_command, free_port, postgres_database, process
from bench.session_cache import cold_load, memory, print_cold_load, print_memory
from bench.sse_latency import run_aomi, run_baseline, summary
from bench.state_throughput import measure, print_rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"open files: {soft} -> {hard}")

    size, rows = measure(args.seconds, args.connections)
    print(f"\n1. warm /api/state ({size}-byte snapshot; wrk -t1 -c{args.connections} -d{args.seconds}s)")
    ratios = print_rows(rows, indent="   ")

    with postgres_database() as url:
        print("\n2. ", end="")
        cold = asyncio.run(cold_load(url, 200, 300))
        print_cold_load(cold, 300)
        print("\n3. ", end="")
        per, snap = memory(2000, 20)
        print_memory(per, snap, 2000)

        print(f"\n4. SSE fan-out to {args.subscribers} subscribers, {args.events} events (PostgreSQL)")
        with tempfile.TemporaryDirectory() as tmp:
            aomi_port, base_port = free_port(), free_port()
            env = aomi_env(tmp, aomi_port, url)
            aomi_url, base_url = f"http://127.0.0.1:{aomi_port}", f"http://127.0.0.1:{base_port}"
            with (
                process([AOMI, "serve"], env, aomi_url),
                process(baseline_command("bench.baseline_sse:app", base_port), env, base_url),
            ):
                bare = summary(asyncio.run(run_baseline(base_url, args.subscribers, args.events)))
                ours = summary(asyncio.run(run_aomi(aomi_url, args.subscribers, args.events)))
        print(f"   bare Starlette median {bare[0]:.2f} ms p99 {bare[1]:.2f} ms")
        sse_ratio = ours[1] / bare[1]
        print(f"   aomi           median {ours[0]:.2f} ms p99 {ours[1]:.2f} ms; p99 ratio {sse_ratio:.2f}")

    print("\nsummary")
    for label, ratio in ratios.items():
        print(f"  {label}: {ratio:.2f} of the baseline's req/s (goal >= 0.60): {_verdict(ratio >= 0.60)}")
    print(f"  cold load {cold.over_warm:.2f} ms over warm (goal <= 3 ms): {_verdict(cold.over_warm <= 3)}")
    print(f"  memory {per:.1f} KB per cached session (goal <= 64 KB): {_verdict(per <= 64)}")
    print(f"  SSE p99 {sse_ratio:.2f}x the baseline's (goal <= 1.2x): {_verdict(sse_ratio <= 1.2)}")


if __name__ == "__main__":
    main()
