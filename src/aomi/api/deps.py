"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from aomi.api.auth import Caller, session_id_from
from aomi.chain.addresses import normalize_address
from aomi.errors import InvalidInput, InvalidUserState, SessionNotFound
from aomi.services import Services
from aomi.sessions.model import Session
from aomi.sessions.user_state import Wallet, WalletInput, parse_user_state
from aomi.validation import check_text, load_json


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def json_response(data: bytes) -> Response:
    return Response(content=data, media_type="application/json")


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; {} when there is none."""
    body = await request.body()
    if not body.strip():
        return {}
    value = load_json(body, "the request body")
    if not isinstance(value, dict):
        raise InvalidInput("the request body must be a JSON object")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise InvalidInput("message is required and must not be empty")
    return value


class RequestFields:
    """Inputs from the query string or a JSON object body; the query wins when both name one."""

    def __init__(self, query: Mapping[str, str], body: Mapping[str, Any]) -> None:
        self.query, self.body = query, body

    def raw(self, *names: str) -> Any:
        for source in (self.query, self.body):
            for name in names:
                if source.get(name) is not None:
                    return source.get(name)
        return None

    def text(self, *names: str, check: Callable[[str], object] | None = None) -> str | None:
        """A text field; every copy present (query and body) must be valid (and pass ``check``),
        though the query's wins."""
        for source in (self.query, self.body):
            for name in names:
                value = source.get(name)
                if value is not None and not isinstance(value, str):
                    raise InvalidInput(f"{name} must be a string")
                if value is not None:
                    check_text(value, name)
                    if check is not None:
                        check(value)
        value = self.raw(*names)
        return value if value is None else str(value)

    def wallet(self) -> WalletInput:
        """``user_state`` and ``public_key``, every copy present valid; the query's win."""
        parsed: list[Wallet | None] = []
        for source in (self.query, self.body):
            value = source.get("user_state")
            if value is not None and not isinstance(value, str | dict):
                raise InvalidUserState("user_state must be a JSON object, or JSON text")
            if value:
                parsed.append(parse_user_state(value))
        return WalletInput(
            wallet=parsed[0] if parsed else None, public_key=self.text("public_key", check=normalize_address)
        )

    def message(self) -> str:
        """The required, non-blank ``message``, as sent (every copy present must be non-blank)."""
        return _not_blank(self.text("message", check=_not_blank) or "")

    @property
    def app(self) -> str | None:
        return self.text("app", "namespace")


async def request_fields(request: Request) -> RequestFields:
    return RequestFields(request.query_params, await json_body(request))


def app_param(request: Request) -> str | None:
    q = request.query_params
    return q.get("app") or q.get("namespace")


async def session_of(
    services: Services, request: Request, session_id: str, app: str | None
) -> tuple[Caller, Session | None]:
    """The session (memory, else database; None when unknown, nothing created), authorized (SPEC 3)."""
    s = await services.manager.get(session_id)
    return await services.auth.session_caller(request, app, s), s


async def authorized_session(
    services: Services, request: Request, session_id: str, app: str | None
) -> tuple[Caller, Session]:
    """An existing session, authorized; 404 when unknown (after the caller's own checks)."""
    caller, s = await session_of(services, request, session_id, app)
    if s is None:
        raise SessionNotFound(f"no session {session_id}")
    return caller, s


async def create_session(
    services: Services, request: Request, session_id: str, app: str | None, caller: Caller
) -> tuple[Caller, Session, bool]:
    """Create the session in the caller's App; True when this call created it.

    Another request may create it first: that one is then authorized like any existing session.
    """
    s, created = await services.manager.get_or_create(session_id, caller.app.name, caller.app.default_model)
    if not created:
        caller = await services.auth.session_caller(request, app, s)
    return caller, s, created


async def session_or_create(
    services: Services, request: Request, session_id: str, app: str | None
) -> tuple[Caller, Session, bool]:
    """The session, created in the requested App when unknown, authorized (SPEC 3)."""
    caller, s = await session_of(services, request, session_id, app)
    if s is not None:
        return caller, s, False
    return await create_session(services, request, session_id, app, caller)


async def _session_id(request: Request) -> str:
    return session_id_from(request.headers)


SessionId = Annotated[str, Depends(_session_id)]
"""The `X-Session-Id` header, checked (400 when missing or not a UUID)."""


async def _existing_session(request: Request, services: ServicesDep, sid: SessionId) -> Session:
    _, s = await authorized_session(services, request, sid, app_param(request))
    return s


ExistingSession = Annotated[Session, Depends(_existing_session)]
"""The header's session, authorized for the caller (SPEC 3, the App from the query); 404 when unknown."""
