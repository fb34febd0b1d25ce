"""The one error shape: every failure is ``{"error": {"code": "<snake_case>", "message": "<text>"}}``."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from aomi.db.engine import is_unavailable
from aomi.errors import AomiError, DatabaseUnavailable

log = logging.getLogger("aomi.api")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _http_code(exc: StarletteHTTPException) -> str:
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "error"
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


RETRY_AFTER_SECONDS = 2
UNAVAILABLE_MESSAGE = "the database is unavailable; retry shortly"


async def _aomi_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AomiError)
    response = error_response(exc.status, exc.code, exc.message)
    if exc.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database fault is a 503 the client may retry; any other database error is a bug (500)."""
    if is_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return await _aomi_error(request, DatabaseUnavailable(UNAVAILABLE_MESSAGE))
    return await _unexpected(request, exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, "invalid_input", _validation_message(exc))


def _allowed_methods(request: Request) -> str:
    """Every method the API serves at this path, from its OpenAPI document (Starlette's 405 names
    the methods of one route only)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = error_response(exc.status_code, _http_code(exc), str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AomiError, _aomi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for fault in (DBAPIError, SQLAlchemyTimeoutError, OSError):
        app.add_exception_handler(fault, _database_error)
    app.add_exception_handler(Exception, _unexpected)
