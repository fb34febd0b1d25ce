"""Throughput of GET /api/state for a warm session against a bare Starlette baseline.

Both servers are real uvicorn processes (httptools, uvloop, one worker); `wrk` (Debian
package `wrk`) drives them from a second process. The baseline serves the very snapshot
bytes Aomi returns, from memory, with no auth or session lookup. Goal (docs/notes): at
least 60 % of the baseline's requests per second.

    uv run python -m bench.state_throughput [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import AOMI, ROOT, aomi_env, baseline_command, free_port, process


def _field(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.M)
    if match is None:
        raise SystemExit(f"unexpected wrk output, no {pattern!r}:\n{out}")
    return match.group(1)


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> tuple[float, str, str]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(_field(r"Requests/sec:\s+([\d.]+)", out))
    p50, p99 = _field(r"^\s+50%\s+(\S+)", out), _field(r"^\s+99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} error responses from {url}")
    return rps, p50, p99


Figures = tuple[float, str, str]
"""Requests/s, p50 and p99 as wrk prints them."""


def measure(seconds: int, connections: int) -> tuple[int, dict[str, Figures]]:
    """The snapshot size, and the figures of the baseline, a keyed App and a public App."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "examples" / "apps" / "mycoindex", Path(tmp) / "apps" / "mycoindex")
        port = free_port()
        env = aomi_env(tmp, port, price_api_url="http://127.0.0.1:9/none")
        url = f"http://127.0.0.1:{port}"
        key = subprocess.run(
            [AOMI, "keys", "create", "--app", "mycoindex", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        key = httpx.Response(200, content=key).json()["key"]
        sid = str(uuid.uuid4())
        keyed = {"X-Session-Id": sid, "AOMI-APP-KEY": key}
        with process([AOMI, "serve"], env, url):
            for message in ("What is the price of ETH?", "And the price of BTC?", "hello"):
                httpx.post(f"{url}/api/chat", params={"message": message, "app": "mycoindex"}, headers=keyed)
                while httpx.get(f"{url}/api/state?app=mycoindex", headers=keyed).json()["is_processing"]:
                    time.sleep(0.01)
            snapshot = httpx.get(f"{url}/api/state?app=mycoindex", headers=keyed).content
            public_sid = str(uuid.uuid4())
            httpx.post(f"{url}/api/chat", params={"message": "hello"}, headers={"X-Session-Id": public_sid})
            ours_keyed = wrk(f"{url}/api/state?app=mycoindex", keyed, seconds, connections)
            ours_public = wrk(f"{url}/api/state", {"X-Session-Id": public_sid}, seconds, connections)
        base_port = free_port()
        base_env = {**env, "BENCH_SNAPSHOT": snapshot.decode()}
        base_url = f"http://127.0.0.1:{base_port}"
        base_cmd = baseline_command("bench.baseline_state:app", base_port)
        with process(base_cmd, base_env, base_url):
            base = wrk(f"{base_url}/api/state", {}, seconds, connections)
    return len(snapshot), {
        "bare Starlette (baseline)": base,
        "aomi, keyed App (cached key)": ours_keyed,
        "aomi, public App (no key)": ours_public,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    size, rows = measure(args.seconds, args.connections)
    print(f"snapshot {size} bytes; wrk -t1 -c{args.connections} -d{args.seconds}s")
    print_rows(rows)


def print_rows(rows: dict[str, Figures], indent: str = "") -> dict[str, float]:
    """The table of `measure`'s figures; each server's req/s ratio to the baseline's, by label."""
    base = rows["bare Starlette (baseline)"]
    print(f"{indent}{'server':<34} {'req/s':>9} {'p50':>9} {'p99':>9} {'ratio':>7}")
    for label, (rps, p50, p99) in rows.items():
        print(f"{indent}{label:<34} {rps:>9.0f} {p50:>9} {p99:>9} {rps / base[0]:>7.2f}")
    return {label: figures[0] / base[0] for label, figures in rows.items() if figures is not base}


if __name__ == "__main__":
    main()
