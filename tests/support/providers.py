"""Scripted fake LLM providers on a real loopback socket: OpenAI Chat Completions, Anthropic Messages
and the Gemini API, all served by one `ThreadingHTTPServer` in a background thread.

The real provider SDKs (openai, anthropic, google-genai, as pydantic-ai drives them) talk to it over
TCP, so streaming, status codes, timeouts, connection errors and client disconnects behave as they
do against the real services. Every request, whatever its wire format, takes the next `Reply` from
`FakeProvider.script` (a default one-word answer when the script is empty) and is recorded in
`FakeProvider.requests`; the server's title requests (after a session's first exchange) are
answered with `FakeProvider.title` instead and recorded in `FakeProvider.title_requests`, so
scripts hold only the turns' answers.

Streams are sent with HTTP/1.1 chunked transfer encoding, one chunk per SSE event, each written to
the socket at once; JSON answers carry a Content-Length. Connections are kept alive between requests.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Literal, cast
from urllib.parse import parse_qs, urlsplit

from aomi.sessions.titles import TITLE_PROMPT
from tests.support.serving import in_thread

Wire = Literal["openai", "anthropic", "gemini"]
TITLE_MARKER = TITLE_PROMPT.split(".")[0]

GEMINI_PATH = re.compile(
    r"^/[^/]+/models/(?P<model>[^/:]+):(?P<method>streamGenerateContent|generateContent)$"
)


@dataclass
class ToolCall:
    """One tool call of a scripted response."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    """The provider's id for the call; None makes one up in the wire's style (`call_…`, `toolu_…`)."""


@dataclass
class Reply:
    """One scripted model response."""

    text: list[str] = field(default_factory=list)
    """Text chunks, streamed in order (joined in a non-streamed answer)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tool calls, streamed after the text."""
    input_tokens: int = 10
    output_tokens: int = 5
    status: int = 200
    """Not 200: answer with this status and the wire's JSON error body (429 also sends Retry-After: 0;
    400 says the context is too long; 401 rejects the key; anything else is a server error)."""
    error_message: str | None = None
    """The error body's message instead of the default one for `status`."""
    chunk_delay: float = 0.0
    """Seconds between two stream events."""
    hang_after: int | None = None
    """After this many content chunks (text chunks and tool calls; 0: right after the headers and the
    stream's opening events), stop sending and wait until `gate` is set (then send the rest), the
    client disconnects or the server stops. A non-streamed answer hangs before anything is sent."""
    gate: threading.Event | None = None
    """Releases a stream held by `hang_after`; None: hold it for good."""
    first_byte_delay: float = 0.0
    """Seconds to wait before the response headers (cut short when the client disconnects)."""


@dataclass
class SeenRequest:
    """One request the fake received."""

    wire: Wire
    path: str
    """The path with its query string, as sent."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)
    received: float = field(default_factory=time.perf_counter)
    """`time.perf_counter()` when the whole request had been read."""
    finished: float | None = None
    """`time.perf_counter()` when the last byte of the answer was written (None: not answered whole)."""

    @property
    def is_title(self) -> bool:
        """The server asking for a session title, not a turn's request."""
        return TITLE_MARKER in json.dumps(self.body)

    @property
    def model(self) -> str:
        if self.wire == "gemini":
            match = GEMINI_PATH.match(urlsplit(self.path).path)
            return match["model"] if match else ""
        return str(self.body.get("model", ""))

    @property
    def stream(self) -> bool:
        if self.wire == "gemini":
            return ":streamGenerateContent" in self.path
        return bool(self.body.get("stream"))

    def auth(self) -> str | None:
        """The API key the client presented, in whatever header (or query) its wire uses."""
        authorization = self.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:]
        for name in ("x-api-key", "x-goog-api-key"):
            if name in self.headers:
                return self.headers[name]
        return self.query.get("key")

    def tool_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The tool calls (name, arguments) of earlier responses that this request carries back."""
        calls: list[tuple[str, dict[str, Any]]] = []
        if self.wire == "openai":
            for message in self.body.get("messages", []):
                for call in message.get("tool_calls") or []:
                    function = call["function"]
                    calls.append((function["name"], json.loads(function["arguments"] or "{}")))
        elif self.wire == "anthropic":
            for message in self.body.get("messages", []):
                for block in _blocks(message.get("content")):
                    if block.get("type") == "tool_use":
                        calls.append((block["name"], dict(block.get("input") or {})))
        else:
            for content in self.body.get("contents", []):
                for part in content.get("parts", []):
                    if "functionCall" in part:
                        call = part["functionCall"]
                        calls.append((call["name"], dict(call.get("args") or {})))
        return calls

    def tool_results(self) -> list[str]:
        """The contents of the tool results this request carries, as text."""
        results: list[str] = []
        if self.wire == "openai":
            for message in self.body.get("messages", []):
                if message.get("role") == "tool":
                    results.append(_text(message.get("content")))
        elif self.wire == "anthropic":
            for message in self.body.get("messages", []):
                for block in _blocks(message.get("content")):
                    if block.get("type") == "tool_result":
                        results.append(_text(block.get("content")))
        else:
            for content in self.body.get("contents", []):
                for part in content.get("parts", []):
                    if "functionResponse" in part:
                        response = part["functionResponse"].get("response")
                        if isinstance(response, dict) and len(response) == 1:
                            response = next(iter(response.values()))
                        results.append(_text(response))
        return results


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [cast(dict[str, Any], b) for b in cast(list[object], content) if isinstance(b, dict)]
    return []


def _text(value: object) -> str:
    """A tool result's content as text: a string as is, text blocks joined, anything else as JSON."""
    if isinstance(value, str):
        return value
    blocks = _blocks(value)
    if blocks and all("text" in b for b in blocks):
        return "".join(str(b["text"]) for b in blocks)
    return json.dumps(value)


@dataclass
class FakeProvider:
    """The running fake: script it, point clients at it, then look at what it saw."""

    url: str = ""
    """`http://127.0.0.1:<port>`"""
    script: list[Reply] = field(default_factory=list)
    """Consumed in order by every request of any wire; when empty, requests get `Reply(text=["ok"])`."""
    requests: list[SeenRequest] = field(default_factory=list)
    title: str = "Scripted title"
    """The answer to every title request."""
    title_status: int = 200
    """Not 200: title requests fail with this status instead."""
    title_requests: list[SeenRequest] = field(default_factory=list)
    disconnects: int = 0
    """Responses the client abandoned before the server finished sending them (while streaming,
    hanging or holding back the first byte)."""
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def gemini_base_url(self) -> str:
        return self.url

    def next_reply(self, seen: SeenRequest) -> Reply:
        with self._lock:
            if seen.is_title:
                self.title_requests.append(seen)
                return Reply(text=[self.title], input_tokens=3, output_tokens=2, status=self.title_status)
            self.requests.append(seen)
            return self.script.pop(0) if self.script else Reply(text=["ok"])

    def served_seconds(self) -> float:
        """Time the fake spent answering turn requests, from reading each to its last byte."""
        with self._lock:
            return sum(r.finished - r.received for r in self.requests if r.finished is not None)

    def record_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
            self._lock.notify_all()

    def wait_disconnect(self, timeout: float) -> bool:
        """Block until at least one disconnect has been seen (True), or `timeout` seconds pass."""
        with self._lock:
            return self._lock.wait_for(lambda: self.disconnects > 0, timeout)

    def wire_requests(self, wire: Wire) -> list[SeenRequest]:
        return [r for r in self.requests if r.wire == wire]


class _Disconnected(Exception):
    """The client went away in the middle of a response."""


class _Handler(BaseHTTPRequestHandler):
    fake: ClassVar[FakeProvider]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small stream writes go out at once, not after a delayed ACK

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    # -- plumbing --------------------------------------------------------------------------------

    def _client_gone(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds (less when the server stops); True once the client has
        closed its end of the connection."""
        deadline = time.monotonic() + timeout
        while not self.fake.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.02))
            if readable:
                try:
                    peeked = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return True
                if not peeked:
                    return True
                time.sleep(0.01)  # the client sent more (a pipelined request): not a disconnect
        return False

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._client_gone(seconds):
            raise _Disconnected

    def _hang(self, gate: threading.Event | None = None) -> None:
        """Wait until ``gate`` is set (for good without one); `_Disconnected` if the client leaves."""
        while not self.fake.stopping.is_set() and not (gate is not None and gate.is_set()):
            if self._client_gone(0.02 if gate is not None else 0.5):
                raise _Disconnected

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise _Disconnected from exc

    def _send_json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._write(b"")

    def _chunk(self, data: bytes) -> None:
        self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    # -- requests --------------------------------------------------------------------------------

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        wire: Wire
        if parts.path.endswith("/chat/completions"):
            wire = "openai"
        elif parts.path.endswith("/messages"):
            wire = "anthropic"
        elif GEMINI_PATH.match(parts.path):
            wire = "gemini"
        else:
            self._send_json(404, {"error": {"message": f"no route for {parts.path}"}})
            return
        seen = SeenRequest(
            wire=wire,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body if isinstance(body, dict) else {},
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
        )
        reply = self.fake.next_reply(seen)
        try:
            self._wait(reply.first_byte_delay)
            if reply.status != 200:
                status, error, headers = _error(wire, reply)
                self._send_json(status, error, headers)
            elif not seen.stream:
                if reply.hang_after is not None:
                    self._hang(reply.gate)
                    if reply.gate is None or not reply.gate.is_set():
                        self.close_connection = True
                        return
                self._send_json(200, _complete(wire, seen.model, reply))
            elif not self._stream(wire, seen, reply):
                return
            seen.finished = time.perf_counter()
        except _Disconnected:
            self.close_connection = True
            self.fake.record_disconnect()

    def _stream(self, wire: Wire, seen: SeenRequest, reply: Reply) -> bool:
        """Send the stream; False when it was held for good (the server stopped meanwhile)."""
        if wire == "openai":
            include_usage = bool((seen.body.get("stream_options") or {}).get("include_usage"))
            events = _openai_events(seen.model, reply, include_usage)
        elif wire == "anthropic":
            events = _anthropic_events(seen.model, reply)
        else:
            events = _gemini_events(seen.model, reply)
        self._start_stream()
        sent_content = 0
        first = True
        for data, is_content in events:
            if is_content and sent_content == reply.hang_after:
                self._hang(reply.gate)
                if reply.gate is None or not reply.gate.is_set():
                    self.close_connection = True  # stopped mid-stream: the framing is unfinished
                    return False
            if not first:
                self._wait(reply.chunk_delay)
            first = False
            self._chunk(data)
            sent_content += is_content
        self._end_stream()
        return True


# -- wire formats ---------------------------------------------------------------------------------

Event = tuple[bytes, bool]
"""One SSE event's bytes, and whether it carries content (a text chunk or a tool call)."""


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def _call_id(wire: Wire, call: ToolCall, index: int) -> str:
    if call.id:
        return call.id
    return {"openai": f"call_{index}", "anthropic": f"toolu_{index}", "gemini": f"fc_{index}"}[wire]


def _error(wire: Wire, reply: Reply) -> tuple[int, dict[str, Any], dict[str, str]]:
    status = reply.status
    headers = {"Retry-After": "0"} if status == 429 else {}
    if wire == "openai":
        kind, code, message = {
            400: (
                "invalid_request_error",
                "context_length_exceeded",
                "This model's maximum context length is 128000 tokens. However, your messages resulted "
                "in 250000 tokens. Please reduce the length of the messages.",
            ),
            401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
            429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
        }.get(status, ("server_error", None, "The server had an error while processing your request."))
        error = {"message": reply.error_message or message, "type": kind, "param": None, "code": code}
        return status, {"error": error}, headers
    if wire == "anthropic":
        kind, message = {
            400: ("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"),
            401: ("authentication_error", "invalid x-api-key"),
            429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
            529: ("overloaded_error", "Overloaded"),
        }.get(status, ("api_error", "Internal server error"))
        error = {"type": kind, "message": reply.error_message or message}
        return status, {"type": "error", "error": error, "request_id": "req_fake"}, headers
    gstatus, message = {
        400: (
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ),
        401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403: ("PERMISSION_DENIED", "Permission denied."),
        429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    }.get(status, ("INTERNAL", "An internal error has occurred."))
    gemini_error: dict[str, Any] = {
        "code": status,
        "message": reply.error_message or message,
        "status": gstatus,
    }
    return status, {"error": gemini_error}, headers


def _openai_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _complete(wire: Wire, model: str, reply: Reply) -> dict[str, Any]:
    """A non-streamed answer."""
    text = "".join(reply.text)
    if wire == "openai":
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": _call_id(wire, call, i),
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.args)},
                }
                for i, call in enumerate(reply.tool_calls)
            ]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": _openai_usage(reply),
        }
    if wire == "anthropic":
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content += [
            {"type": "tool_use", "id": _call_id(wire, call, i), "name": call.name, "input": call.args}
            for i, call in enumerate(reply.tool_calls)
        ]
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts += [{"functionCall": _gemini_call(call, i)} for i, call in enumerate(reply.tool_calls)]
    return _gemini_chunk(model, parts, reply, final=True)


def _openai_events(model: str, reply: Reply, include_usage: bool) -> Iterator[Event]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }
        )

    yield chunk({"role": "assistant", "content": ""}), False
    for text in reply.text:
        yield chunk({"content": text}), True
    for i, call in enumerate(reply.tool_calls):
        args = json.dumps(call.args)
        half = len(args) // 2
        start = {
            "index": i,
            "id": _call_id("openai", call, i),
            "type": "function",
            "function": {"name": call.name, "arguments": args[:half]},
        }
        yield chunk({"tool_calls": [start]}), True
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]}), False
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop"), False
    if include_usage:
        usage = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _openai_usage(reply),
        }
        yield _sse(usage), False
    yield b"data: [DONE]\n\n", False


def _anthropic_events(model: str, reply: Reply) -> Iterator[Event]:
    message: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
    }
    yield _sse({"type": "message_start", "message": message}, "message_start"), False
    index = 0
    if reply.text:
        block = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        yield _sse(block, "content_block_start"), False
        for text in reply.text:
            delta = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": text},
            }
            yield _sse(delta, "content_block_delta"), True
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop"), False
        index += 1
    for i, call in enumerate(reply.tool_calls):
        tool_block = {
            "type": "tool_use",
            "id": _call_id("anthropic", call, i),
            "name": call.name,
            "input": {},
        }
        start = {"type": "content_block_start", "index": index, "content_block": tool_block}
        yield _sse(start, "content_block_start"), True
        args = json.dumps(call.args)
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            delta = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            }
            yield _sse(delta, "content_block_delta"), False
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop"), False
        index += 1
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": reply.output_tokens},
    }
    yield _sse(end, "message_delta"), False
    yield _sse({"type": "message_stop"}, "message_stop"), False


def _gemini_call(call: ToolCall, index: int) -> dict[str, Any]:
    return {"id": _call_id("gemini", call, index), "name": call.name, "args": call.args}


def _gemini_chunk(model: str, parts: list[dict[str, Any]], reply: Reply, *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens, "totalTokenCount": reply.input_tokens}
    if final:
        candidate["finishReason"] = "STOP"
        usage["candidatesTokenCount"] = reply.output_tokens
        usage["totalTokenCount"] = reply.input_tokens + reply.output_tokens
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": "fake"}


def _gemini_events(model: str, reply: Reply) -> Iterator[Event]:
    pieces: list[dict[str, Any]] = [{"text": text} for text in reply.text]
    pieces += [{"functionCall": _gemini_call(call, i)} for i, call in enumerate(reply.tool_calls)]
    if not pieces:
        pieces = [{"text": ""}]
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        yield _sse(_gemini_chunk(model, [piece], reply, final=final)).replace(b"\n\n", b"\r\n\r\n"), True


# -- the server -----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeProvider) -> None:
        handler = type("FakeProviderHandler", (_Handler,), {"fake": fake})
        super().__init__(("127.0.0.1", 0), handler)
        self.open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """End kept-alive connections, so their handler threads stop waiting for another request."""
        with self._connections_lock:
            connections = list(self.open_connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    """Start the fake on 127.0.0.1 (a free port) and stop it afterwards."""
    fake = FakeProvider()
    server = _Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"

    def stop() -> None:
        fake.stopping.set()  # held and slow answers give up
        server.drop_connections()  # kept-alive handlers stop waiting for another request

    with in_thread(server, "fake-provider", stop):
        yield fake
