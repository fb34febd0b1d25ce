"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from aomi.api.auth import Caller
from aomi.errors import InvalidInput
from aomi.services import Services
from aomi.sessions.model import Session


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
    try:
        value = json.loads(body)
    except ValueError:
        raise InvalidInput("the request body is not valid JSON") from None
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
        if value is None or isinstance(value, str):
            return value
        raise InvalidInput(f"{names[0]} must be a string")

    @property
    def app(self) -> str | None:
        return self.text("app", "namespace")


async def request_fields(request: Request) -> RequestFields:
    return RequestFields(request.query_params, await json_body(request))


def app_param(request: Request) -> str | None:
    q = request.query_params
    return q.get("app") or q.get("namespace")


async def authorized_session(
    services: Services, request: Request, session_id: str, app: str | None
) -> tuple[Caller, Session]:
    """Authorize the App (SPEC 3 steps 2-6), load the session (404) and check it (step 7)."""
    caller = await services.auth.authorize(app, request.headers)
    s = await services.manager.require(session_id)
    services.auth.check_session(caller, s)
    return caller, s
