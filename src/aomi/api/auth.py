"""Authorization in the order of SPEC 3: session id, App, key, App visibility, key scope, session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.datastructures import Headers

from aomi.apps.registry import App, AppRegistry
from aomi.errors import (
    AppNotFound,
    ConflictingKeys,
    InvalidSessionId,
    KeyNotAuthorized,
    KeyRequired,
    MissingSessionId,
    SessionForbidden,
)
from aomi.keys.store import KeyRecord
from aomi.keys.verify import KeyVerifier
from aomi.sessions.model import Session

SESSION_HEADER = "X-Session-Id"
KEY_HEADER, KEY_HEADER_ALIAS = "AOMI-APP-KEY", "X-API-Key"
DEFAULT_APP = "default"


def parse_session_id(value: str | None) -> str:
    """A session id must be a UUID; returned in canonical lowercase form."""
    if value is None or not value.strip():
        raise MissingSessionId(f"the {SESSION_HEADER} header is required: send a UUID you generated")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidSessionId(f"{SESSION_HEADER} must be a UUID, got {value[:64]!r}") from None


def session_id_from(headers: Headers) -> str:
    return parse_session_id(headers.get(SESSION_HEADER))


def presented_key(headers: Headers) -> str | None:
    key, alias = headers.get(KEY_HEADER), headers.get(KEY_HEADER_ALIAS)
    if key and alias and key != alias:
        raise ConflictingKeys(f"{KEY_HEADER} and {KEY_HEADER_ALIAS} carry different keys; send one")
    return key or alias or None


@dataclass(frozen=True)
class Caller:
    """Who is asking: the App the request names and the verified key, if any."""

    app: App
    key: KeyRecord | None

    def may_use(self, app: App | None) -> bool:
        if app is None:
            return False
        return app.public or (self.key is not None and app.name in self.key.apps)


class Authorizer:
    def __init__(self, apps: AppRegistry, verifier: KeyVerifier) -> None:
        self.apps = apps
        self.verifier = verifier

    async def caller_key(self, headers: Headers) -> KeyRecord | None:
        """Steps 3: a presented key must be valid (401 otherwise)."""
        key = presented_key(headers)
        return await self.verifier.verify(key) if key is not None else None

    async def authorize(self, app_name: str | None, headers: Headers) -> Caller:
        """Steps 2-6. A public App is usable by everyone, with or without a key."""
        name = app_name or DEFAULT_APP
        record = await self.caller_key(headers)
        app = self.apps.get(name)
        if record is None:
            if app is None or not app.public:
                raise KeyRequired(f"the App {name!r} needs an App key: send it in the {KEY_HEADER} header")
            return Caller(app, None)
        if app is None:
            raise AppNotFound(f"no App named {name!r}")
        caller = Caller(app, record)
        if not caller.may_use(app):
            raise KeyNotAuthorized(f"this App key is not valid for the App {name!r}")
        return caller

    def check_session(self, caller: Caller, session: Session) -> None:
        """Step 7: the session's own App must be one the caller may use."""
        if session.app != caller.app.name and not caller.may_use(self.apps.get(session.app)):
            raise SessionForbidden("this session belongs to an App your key does not cover")
