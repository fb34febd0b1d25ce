"""For App-authoring tests: a scripted model that calls any tool, a fake quotes service for HTTP
tools, the example MCP server over streamable HTTP, and copies of the example Apps."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.support.harness import new_id
from tests.support.serving import free_port, loopback_http

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apps"


def copy_example(apps_dir: Path, name: str) -> Path:
    target = apps_dir / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def caller_model() -> FunctionModel:
    """On `call <tool> <json args>` it calls that tool; then it answers `Result: <tool result>`.
    Anything else gets `Tools: <names>`, the tools the run offered."""

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        last = messages[-1]
        parts = last.parts if isinstance(last, ModelRequest) else []
        returns = [p for p in parts if isinstance(p, ToolReturnPart)]
        if returns:
            yield "Result: " + " | ".join(f"{p.outcome}: {p.model_response_str()}" for p in returns)
            return
        prompt = next((p.content for p in parts if isinstance(p, UserPromptPart)), "")
        text = prompt if isinstance(prompt, str) else ""
        if text.startswith("call "):
            _, tool, args = [*text.split(" ", 2), "{}"][:3]
            yield {0: DeltaToolCall(tool, args, tool_call_id=f"call_{new_id()}")}
            return
        yield "Tools: " + ", ".join(sorted(t.name for t in info.function_tools))

    async def plain(messages: list[ModelMessage], info: AgentInfo) -> Any:
        raise AssertionError("the server streams turns")

    return FunctionModel(plain, stream_function=stream, model_name="caller")


@dataclass
class QuotesApi:
    """A loopback quotes service: `GET /v1/quote/<SYMBOL>?currency=` answers
    `{"symbol", "currency", "quote", "key_seen"}`, an unknown symbol 404 `{"error", "key_seen"}`
    (`key_seen` echoes the `X-Api-Key` header, so a test can check that the server redacts a
    secret that comes back in an answer or an error)."""

    url: str = ""
    quotes: dict[str, float] = field(default_factory=lambda: {"ETH": 3456.78, "BTC": 97123.5})
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)


class _QuotesHandler(BaseHTTPRequestHandler):
    api: ClassVar[QuotesApi]

    def do_GET(self) -> None:
        api = self.api
        api.requests.append((self.path, dict(self.headers.items())))
        if api.delay:
            api.stopping.wait(api.delay)
        path, _, query = self.path.partition("?")
        symbol = path.removeprefix("/v1/quote/")
        if not path.startswith("/v1/quote/") or symbol not in api.quotes:
            self._send(
                404, {"error": f"no quote for {symbol}", "key_seen": self.headers.get("X-Api-Key", "")}
            )
            return
        currency = query.removeprefix("currency=") if query.startswith("currency=") else "USD"
        body = {"symbol": symbol, "currency": currency, "quote": api.quotes[symbol]}
        self._send(200, {**body, "key_seen": self.headers.get("X-Api-Key", "")})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def quotes_api() -> Iterator[QuotesApi]:
    api = QuotesApi()
    handler = type("Handler", (_QuotesHandler,), {"api": api})
    with loopback_http(handler, "quotes-api", api.stopping.set) as url:
        api.url = url
        yield api


@contextmanager
def mcp_http_server(timeout: float = 30.0) -> Iterator[str]:
    """The example chain-facts MCP server over streamable HTTP, in a child process; its URL."""
    port = free_port()
    script = EXAMPLES / "chain-facts" / "mcp_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(f"the MCP server did not start: {err}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
