"""Prometheus metrics (`GET /metrics`): requests by route and status with latency histograms,
turns by status, tool calls, and gauges read when scraped (sessions in memory, SSE subscribers,
database connections in use, App key cache hits).

One registry per application, so two servers in one process (tests) never share counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "aomi_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "aomi_http_request_duration_seconds",
            "Time to the end of the answer (streams: until they close)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.turns = Counter(
            "aomi_turns", "Agent turns (or parts of turns) ended, by status", ["status"], registry=r
        )
        self.tool_calls = Counter("aomi_tool_calls", "Tool calls the agent made", ["tool"], registry=r)
        self.key_cache = Counter(
            "aomi_key_cache_lookups",
            "App key verifications, answered from memory or not",
            ["result"],
            registry=r,
        )

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value is read when scraped."""
        Gauge(name, documentation, registry=self.registry).set_function(read)


def route_of(scope: Scope) -> str:
    """The route's path template (`/api/sessions/{session_id}`), so labels stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method, route = scope["method"], route_of(scope)
            count, latency = self._children(method, route, status)
            count.inc()
            latency.observe(time.perf_counter() - started)

    def _children(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The labelled series of a request, looked up once (labels() takes a lock each call)."""
        key = (method, route, status)
        found = self._series.get(key)
        if found is None:
            found = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
            )
            self._series[key] = found
        return found
