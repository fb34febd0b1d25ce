"""Running a test's fake HTTP server (`http.server`) in a background thread."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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
