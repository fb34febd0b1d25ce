"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from aomi.errors import InvalidInput
from aomi.services import Services


def _services(request: Request) -> Services:
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
