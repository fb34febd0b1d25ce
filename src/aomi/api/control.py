"""Control routes (SPEC 4.5) the client calls to set itself up: Apps, their models, a session's model."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aomi.api.auth import SESSION_HEADER, Caller, session_id_from
from aomi.api.deps import ServicesDep, SessionId, create_session, json_response, session_of
from aomi.api.openapi import APP_KEY, ERRORS, SESSION_ID, AppDetailOut, ModelSetOut, inputs, param
from aomi.apps.registry import App
from aomi.byok import owner_of
from aomi.errors import InvalidInput, UnknownModel
from aomi.services import Services
from aomi.sessions.model import Session

router = APIRouter(prefix="/api", tags=["control"], responses=ERRORS)

AppParam = Annotated[str | None, Query(description="App name; `default` when absent")]
NamespaceParam = Annotated[str | None, Query(description="Alias of `app`")]
TRUE_WORDS, FALSE_WORDS = frozenset({"true", "1"}), frozenset({"false", "0"})


def _json(data: Any) -> Response:
    return json_response(pydantic_core.to_json(data))


def _flag(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value in TRUE_WORDS or value in FALSE_WORDS:
        return value in TRUE_WORDS
    raise InvalidInput(f"{name} must be true, false, 1 or 0, got {value[:64]!r}")


def model_labels(app: App) -> list[str]:
    """The App's allowed model labels, its default first."""
    return [app.default_model, *(m for m in app.allowed_models if m != app.default_model)]


def _detail(app: App) -> dict[str, Any]:
    """The App as `?detail=true` lists it: its secret slots are `{name, description, required}`."""
    return {
        "name": app.name,
        "description": app.description,
        "models": model_labels(app),
        "secrets": [slot.to_json() for slot in app.secrets],
    }


APPS: dict[int | str, dict[str, Any]] = {
    200: {"model": list[str] | list[AppDetailOut], "description": "App names, or details with `detail=true`"}
}
MODELS: dict[int | str, dict[str, Any]] = {
    200: {"model": list[str], "description": "Model labels, default first"}
}


@router.get("/control/namespaces", responses=APPS)
@router.get("/control/apps", responses=APPS)  # the lower decorator registers first
async def list_apps(
    request: Request,
    services: ServicesDep,
    detail: Annotated[
        str | None,
        Query(
            description="`true`/`1` for name, description, models, secrets",
            json_schema_extra={"enum": sorted(TRUE_WORDS | FALSE_WORDS)},
        ),
    ] = None,
) -> Response:
    """The Apps this caller may use: every public App plus the presented key's Apps, `default` first.

    `/api/control/namespaces` is an alias. A presented key must be valid (401 otherwise);
    without a key only the public Apps are listed.
    """
    want_detail = _flag(detail, "detail")
    apps = await services.auth.usable_apps(request.headers)
    if want_detail:
        return _json([_detail(app) for app in apps])
    return _json([app.name for app in apps])


@router.get(
    "/control/models",
    responses=MODELS,
    openapi_extra=inputs(
        param(
            "header",
            "X-Session-Id",
            {"type": "string", "format": "uuid"},
            "Without `app`: this session's App.",
        ),
        APP_KEY,
    ),
)
async def list_models(
    request: Request, services: ServicesDep, app: AppParam = None, namespace: NamespaceParam = None
) -> Response:
    """Labels of the models the App allows that this client may run, its default first
    (authorized like chat). A model the server holds no key for is listed only when the session
    (`X-Session-Id`) belongs to a client that saved its own key for that provider.

    Without `app`, an `X-Session-Id` naming an existing session answers for that session's App.
    """
    name = app or namespace
    s: Session | None = None
    if request.headers.get(SESSION_HEADER) is not None:
        sid = session_id_from(request.headers)  # a malformed id is a 400 even when `app` is given
        s = await services.manager.get(sid)
        if not name and s is not None:
            name = s.app
    caller = await services.auth.authorize(name, request.headers)
    return _json(await offered_models(services, caller.app, s))


def _app_of(services: Services, s: Session | None, caller: Caller) -> App:
    own = services.apps.get(s.app) if s is not None else None
    return own or caller.app


async def offered_models(services: Services, app: App, s: Session | None) -> list[str]:
    """The App's models this client may run, default first: every model the server holds a key
    for, plus those whose provider the session's client saved its own key for."""
    models = services.runner.models
    byok: set[str] = set()
    if s is not None and models.keyless():
        byok = await services.provider_keys.providers(owner_of(s))
    return [m for m in model_labels(app) if models.available(m, byok)]


async def _check_model(services: Services, app: App, s: Session | None, rig: str) -> None:
    offered = await offered_models(services, app, s)
    if rig not in offered:
        known = ", ".join(offered) or "none"
        raise UnknownModel(f"model {rig!r} is not available for the App {app.name!r} (available: {known})")


@router.post("/control/model", response_model=ModelSetOut, openapi_extra=inputs(SESSION_ID, APP_KEY))
async def set_model(
    request: Request,
    services: ServicesDep,
    sid: SessionId,
    rig: Annotated[str | None, Query(description="Model label (required)")] = None,
    app: AppParam = None,
    namespace: NamespaceParam = None,
    client_id: Annotated[str | None, Query(description="Client id recorded on the session")] = None,
) -> Response:
    """Set the session's model (from its next turn). Creates the session if unknown.

    Returns `{success, rig, baml, created}`; `created` is true when this call created the
    session. A model the App does not allow, or the server does not know, gives 400.
    """
    caller, s = await session_of(services, request, sid, app or namespace)
    if not rig:
        raise InvalidInput("rig is required: the label of the model to use")
    # An existing session keeps its App (even when the caller named another it may use).
    await _check_model(services, _app_of(services, s, caller), s, rig)
    created = False
    if s is None:
        caller, s, created = await create_session(services, request, sid, app or namespace, caller)
        if not created:  # another request created it first, perhaps in another App
            await _check_model(services, _app_of(services, s, caller), s, rig)
    await services.sessions.set_model(s, rig, client_id)
    return _json({"success": True, "rig": rig, "baml": rig, "created": created})
