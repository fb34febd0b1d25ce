"""Running a test's fake HTTP server (`http.server`) in a background thread."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def in_thread(server: socketserver.BaseServer, name: str, on_stop: Callable[[], None]) -> Iterator[None]:
    """Serve until the block ends; then ``on_stop`` (release waiting handlers), stop and close."""
    # A short poll interval: shutdown() waits for the serving loop to notice, up to one interval.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        on_stop()
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def loopback_http(
    handler: type[BaseHTTPRequestHandler], name: str, on_stop: Callable[[], None]
) -> Iterator[str]:
    """A threading HTTP server with ``handler`` on 127.0.0.1 (a free port); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with in_thread(server, name, on_stop):
        yield f"http://127.0.0.1:{server.server_address[1]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
