"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from aomi.api.auth import Caller
from aomi.errors import InvalidInput, SessionNotFound
from aomi.services import Services
from aomi.sessions.model import Session
from aomi.validation import check_text, parse_json


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
    value = parse_json(body, "the request body")
    if not isinstance(value, dict):
        raise InvalidInput("the request body must be a JSON object")
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

    def text(self, *names: str) -> str | None:
        value = self.raw(*names)
        if value is None:
            return None
        if isinstance(value, str):
            return check_text(value, names[0])
        raise InvalidInput(f"{names[0]} must be a string")

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
