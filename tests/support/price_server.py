"""A real loopback HTTP fake of CoinGecko's `/simple/price`, for tools and agent tests.

It runs `http.server.ThreadingHTTPServer` in a background thread, so the code under test makes
genuine HTTP requests (connection errors, timeouts and status codes all behave as in production).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import loopback_http

API_PREFIX = "/api/v3"


@dataclass
class FakePriceApi:
    """Behaviour knobs (change them at any time during a test) and what the server saw."""

    url: str = ""
    prices: dict[str, float] = field(default_factory=dict)
    """CoinGecko id -> USD price; ids not listed are left out of answers, as CoinGecko does."""
    fail: bool = False
    """Answer every request with HTTP 500."""
    malformed: bool = False
    """Answer with a body that is not JSON."""
    delay: float = 0.0
    """Seconds to wait before answering (cut short when the server stops)."""
    requests: list[str] = field(default_factory=list)
    """Path and query of every request, in arrival order."""
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)


class _Handler(BaseHTTPRequestHandler):
    api: ClassVar[FakePriceApi]

    def do_GET(self) -> None:
        api = self.api
        api.requests.append(self.path)
        if api.delay:
            # An Event wait instead of a sleep: stopping the server releases held requests at once.
            api.stopping.wait(api.delay)
        parts = urlsplit(self.path)
        if parts.path != f"{API_PREFIX}/simple/price":
            self._send(404, b'{"error": "not found"}')
        elif api.fail:
            self._send(500, b'{"error": "internal error"}')
        elif api.malformed:
            self._send(200, b"<html>not json</html>")
        else:
            query = parse_qs(parts.query)
            ids = [i for chunk in query.get("ids", []) for i in chunk.split(",") if i]
            body = {i: {"usd": api.prices[i]} for i in ids if i in api.prices}
            self._send(200, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@contextmanager
def run_price_server(prices: dict[str, float] | None = None) -> Iterator[FakePriceApi]:
    """Start the fake on 127.0.0.1 (a free port); `api.url` is the base URL to configure."""
    api = FakePriceApi(prices=dict(prices or {}))
    handler = type("PriceHandler", (_Handler,), {"api": api})
    with loopback_http(handler, "fake-price-api", api.stopping.set) as url:
        api.url = url + API_PREFIX
        yield api
