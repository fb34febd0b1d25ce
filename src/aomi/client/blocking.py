"""Running the async client from synchronous code: every call goes to one private event loop
thread (an anyio blocking portal), so the sync API is the async one, not a second copy of it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial, wraps
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

P = ParamSpec("P")
T = TypeVar("T")


class Portal:
    """The event loop thread of one sync client (and the sessions made from it)."""

    def __init__(self) -> None:
        self._manager: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self.portal = self._manager.__enter__()
        self.closed = False

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        return self.portal.call(func)

    def iterate(self, stream: AsyncGenerator[T, None]) -> Iterator[T]:
        """A blocking iterator over an async one; closing it closes the async one."""
        try:
            while True:
                try:
                    yield self.portal.call(stream.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            if not self.closed:
                self.portal.call(stream.aclose)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._manager.__exit__(None, None, None)


class Bridge:
    """A sync facade: ``_inner`` is the async object, ``_portal`` the loop it lives on."""

    _inner: Any
    _portal: Portal


def blocking(method: Callable[Concatenate[Any, P], Awaitable[T]]) -> Callable[Concatenate[Bridge, P], T]:
    """The sync twin of an async method: same signature and docstring, run on the portal."""

    @wraps(method)
    def run(self: Bridge, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._portal.call(partial(method, self._inner, *args, **kwargs))

    return run


def blocking_iterator(
    method: Callable[Concatenate[Any, P], AsyncGenerator[T, None]],
) -> Callable[Concatenate[Bridge, P], Iterator[T]]:
    """The sync twin of a method returning an async generator."""

    @wraps(method)
    def run(self: Bridge, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._portal.iterate(method(self._inner, *args, **kwargs))

    return run


class Forward(Generic[T]):
    """A read-only attribute of the facade that reads the async object's attribute of that name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, bridge: Bridge, owner: type | None = None) -> T:
        value: T = getattr(bridge._inner, self.name)
        return value
