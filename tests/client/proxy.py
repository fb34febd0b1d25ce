"""A loopback TCP proxy a test can cut: it drops every live connection on `cut()`, holds new
ones while `hold()` is on, and records the head of every request it forwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class CuttableProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.heads: list[str] = []
        """Request line and headers of every forwarded request, in arrival order."""
        self.port = 0
        self._open = asyncio.Event()
        self._open.set()
        self._live: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self) -> None:
        """New connections wait (accepted, not forwarded) until `release()`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def cut(self) -> None:
        """Abort every live connection, both sides, as a network failure would."""
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._live.add(client_w)
        await self._open.wait()
        try:
            head = await client_r.readuntil(b"\r\n\r\n")
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except (OSError, asyncio.IncompleteReadError):
            client_w.transport.abort()
            return
        self._live.add(up_w)
        self.heads.append(head.decode("latin-1"))
        up_w.write(head)
        await asyncio.gather(self._pump(client_r, up_w), self._pump(up_r, client_w))

    def _spawn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[CuttableProxy]:
        server = await asyncio.start_server(self._spawn, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            self.release()
            self.cut()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()
