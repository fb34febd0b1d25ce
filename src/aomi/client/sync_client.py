"""`AomiClient` and `Session`: the synchronous API, the async one run on a private loop thread."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from types import TracebackType
from typing import Concatenate, ParamSpec, Unpack

from aomi.client.async_client import AsyncAomiClient
from aomi.client.blocking import Bridge, Forward, Portal, blocking, blocking_iterator
from aomi.client.session import AsyncSession
from aomi.client.transport import DEFAULT_URL, ClientOptions

P = ParamSpec("P")

A = AsyncAomiClient
S = AsyncSession


def _sessions(
    method: Callable[Concatenate[AsyncAomiClient, P], AsyncSession],
) -> Callable[Concatenate[AomiClient, P], Session]:
    """`AomiClient.session`: the async client's, its session wrapped for blocking use."""

    @wraps(method)
    def make(self: AomiClient, /, *args: P.args, **kwargs: P.kwargs) -> Session:
        return Session(method(self._inner, *args, **kwargs), self._portal)

    return make


class AomiClient(Bridge):
    """A blocking client of one Aomi server; the methods are those of `AsyncAomiClient`.

    Use it as a context manager, or call `close()` (it stops the client's loop thread).
    """

    def __init__(self, base_url: str = DEFAULT_URL, **options: Unpack[ClientOptions]) -> None:
        self._portal = Portal()
        self._inner = self._portal.call(lambda: _create(base_url, options))

    base_url = Forward[str]()
    app = Forward[str | None]()

    def __enter__(self) -> AomiClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if not self._portal.closed:
            self._portal.call(self._inner.aclose)
            self._portal.close()

    session = _sessions(A.session)
    """A `Session` on this client (a new uuid4 session id when none is given)."""
    request = blocking(A.request)
    health = blocking(A.health)
    ready = blocking(A.ready)
    send_message = blocking(A.send_message)
    fetch_state = blocking(A.fetch_state)
    interrupt = blocking(A.interrupt)
    send_system_message = blocking(A.send_system_message)
    get_system_events = blocking(A.get_system_events)
    subscribe_updates = blocking_iterator(A.subscribe_updates)
    create_thread = blocking(A.create_thread)
    list_threads = blocking(A.list_threads)
    get_thread = blocking(A.get_thread)
    rename_thread = blocking(A.rename_thread)
    delete_thread = blocking(A.delete_thread)
    archive_thread = blocking(A.archive_thread)
    unarchive_thread = blocking(A.unarchive_thread)
    get_apps = blocking(A.get_apps)
    get_app_details = blocking(A.get_app_details)
    get_namespaces = blocking(A.get_namespaces)
    get_models = blocking(A.get_models)
    set_model = blocking(A.set_model)
    list_provider_keys = blocking(A.list_provider_keys)
    save_provider_key = blocking(A.save_provider_key)
    delete_provider_key = blocking(A.delete_provider_key)
    wallet_nonce = blocking(A.wallet_nonce)
    wallet_verify = blocking(A.wallet_verify)
    simulate_batch = blocking(A.simulate_batch)
    ingest_secrets = blocking(A.ingest_secrets)
    clear_secrets = blocking(A.clear_secrets)
    delete_secret = blocking(A.delete_secret)


async def _create(base_url: str, options: ClientOptions) -> AsyncAomiClient:
    # Made on the loop thread, so its connection pool belongs to that loop.
    return AsyncAomiClient(base_url, **options)


class Session(Bridge):
    """The blocking twin of `AsyncSession`: ``send(message, on_text=..., on_tool=...,
    on_wallet_request=...)`` returns when the turn has ended. Callbacks run on the client's
    loop thread."""

    def __init__(self, inner: AsyncSession, portal: Portal) -> None:
        self._inner, self._portal = inner, portal

    id = Forward[str]()
    app = Forward[str | None]()
    wallet = Forward[str | None]()

    send = blocking(S.send)
    wait = blocking(S.wait)
    state = blocking(S.state)
    answer_wallet = blocking(S.answer_wallet)
    notify = blocking(S.notify)
    interrupt = blocking(S.interrupt)
    set_model = blocking(S.set_model)
    models = blocking(S.models)
    thread = blocking(S.thread)
    rename = blocking(S.rename)
    delete = blocking(S.delete)
    updates = blocking_iterator(S.updates)
