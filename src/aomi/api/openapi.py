"""What the OpenAPI document says about every route: response models, error responses, and the
inputs that routes read themselves (header or query, or a JSON body in their place).

FastAPI documents the parameters it parses. Several routes read their inputs by hand instead,
because the public client sends them in the query while other clients send a JSON body, and
because our errors carry our own codes (`missing_session_id`, ...). Those inputs are declared
here, with the same rules the handlers enforce, so the document tells the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

# -- error responses ---------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable snake_case code, e.g. `session_busy`.")
    message: str = Field(description="What was wrong and how to fix it.")


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERROR_TEXT = {
    400: "Invalid input (`invalid_input`, `invalid_session_id`, `invalid_user_state`, ...)",
    401: "No valid App key where one is needed, or no valid wallet token",
    403: "The key, or the caller, may not use this App or session",
    404: "Unknown App or session",
    409: "A turn is already running in this session",
    413: "The message or the body is too large",
    431: "Too many or too large headers",
    503: "The database is unavailable; retry after `Retry-After` seconds",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _ERROR_TEXT.items()
}

# -- hand-read inputs --------------------------------------------------------------------------

NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
APP_NAME = {"type": "string", "description": "App name (alias `namespace`); `default` when absent."}
ADDRESS = {"type": "string", "pattern": "^0x([0-9a-f]{40}|[0-9A-F]{40})$"}  # or EIP-55 mixed case


def param(
    where: str, name: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {"in": where, "name": name, "required": required, "schema": schema, "description": description}


SESSION_ID = param(
    "header",
    "X-Session-Id",
    {"type": "string", "format": "uuid"},
    "The session: a UUID the client generated.",
    required=True,
)
APP_KEY = param(
    "header", "AOMI-APP-KEY", {"type": "string"}, "App key (alias header `X-API-Key`); needed for keyed Apps."
)
APP = param("query", "app", APP_NAME, "App name (alias `namespace`); `default` when absent.")
# JSON the server stores: strings without NUL, integers within 64 bits, finite numbers.
JSON_VALUE: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
    ]
}
CHAIN_ID: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        {"type": "string", "pattern": "^(0[xX]0*[1-9a-fA-F][0-9a-fA-F]{0,14}|0*[1-9][0-9]{0,17})$"},
        {"type": "null"},
        {"const": ""},
    ]
}
_BOOL = {"type": ["boolean", "null"]}
_TEXT = {"type": ["string", "null"], "pattern": NO_NUL}
_WALLET = {
    "address": {"anyOf": [ADDRESS, {"type": "null"}, {"const": ""}]},
    "chain_id": CHAIN_ID,
    "chainId": CHAIN_ID,
    "ens_name": _TEXT,
    "ensName": _TEXT,
}
_STORABLE = {
    "propertyNames": {"pattern": NO_NUL},
    "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
}
USER_STATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    **_STORABLE,
    "description": "Flat camelCase or snake_case, or nested `{connection, evm}` (flat fields then ignored).",
    "properties": {
        **_WALLET,
        "is_connected": _BOOL,
        "isConnected": _BOOL,
        "ext": {"$ref": "#/components/schemas/JsonValue"},
        "evm": {"type": ["object", "null"], "properties": _WALLET, **_STORABLE},
        "connection": {
            "type": ["object", "null"],
            "properties": {"is_connected": _BOOL, "isConnected": _BOOL},
            **_STORABLE,
        },
    },
}
USER_STATE = {
    "in": "query",
    "name": "user_state",
    "required": False,
    "description": "The wallet state as JSON text.",
    "content": {"application/json": {"schema": USER_STATE_SCHEMA}},
}
CLIENT_ID = param("query", "client_id", {"type": "string", "pattern": NO_NUL}, "The client's id.")


def inputs(
    *parameters: dict[str, Any], body: type[BaseModel] | None = None, required: bool = False
) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads these inputs (and this JSON body) itself."""
    extra: dict[str, Any] = {"parameters": list(parameters)}
    if body is not None:
        schema = body.model_json_schema()
        if "user_state" in schema["properties"]:  # its shape is richer than the model says
            schema["properties"]["user_state"] = {"anyOf": [USER_STATE_SCHEMA, {"type": "null"}]}
        extra["requestBody"] = {"required": required, "content": {"application/json": {"schema": schema}}}
    return extra


# -- response bodies ---------------------------------------------------------------------------


class MessageOut(BaseModel):
    id: str
    sender: str = Field(description="`user`, `agent` or `system`.")
    content: str
    tool_result: list[str] | None = Field(description="`[topic, result]` for a tool call, else null.")
    timestamp: str = Field(description="ISO-8601 UTC with milliseconds.")
    is_streaming: bool


class SnapshotOut(BaseModel):
    messages: list[MessageOut]
    system_events: list[dict[str, Any]] = Field(description="Undelivered InlineCall and SystemError events.")
    title: str | None
    is_processing: bool
    status: str = Field(description="`idle`, `processing`, `interrupted` or `error`.")
    user_state: dict[str, Any] | None = Field(description="The client's last wallet fields, as sent.")


class SystemOut(BaseModel):
    res: MessageOut


class ThreadOut(BaseModel):
    session_id: str
    title: str | None
    is_archived: bool
    app: str
    created_at: str
    updated_at: str


class CreatedOut(BaseModel):
    session_id: str
    title: str | None


class DeletedOut(BaseModel):
    deleted: bool


class ModelSetOut(BaseModel):
    success: bool
    rig: str
    baml: str
    created: bool = Field(description="True when this call created the session.")


class AppDetailOut(BaseModel):
    name: str
    description: str
    models: list[str]
    secrets: list[dict[str, Any]]


def _forbid_nul(schema: dict[str, Any]) -> None:
    """A query text may not hold NUL (the server refuses `%00`): say so where nothing else does."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and not {"pattern", "enum", "format"} & option.keys():
            option["pattern"] = NO_NUL


def install_openapi(app: FastAPI, choices: dict[str, list[str]]) -> None:
    """The document without FastAPI's default 422 responses (this server answers 400 instead),
    and with ``choices``: query parameters (e.g. `rig`) whose values this server's configuration
    fixes, required and limited to those values."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
                    for parameter in operation.get("parameters", []):
                        if parameter["in"] == "query" and parameter["name"] in choices:
                            values = choices[parameter["name"]]
                            parameter.update(required=True, schema={"type": "string", "enum": values})
                        elif parameter["in"] == "query" and "schema" in parameter:
                            _forbid_nul(parameter["schema"])
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            components["JsonValue"] = JSON_VALUE
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
