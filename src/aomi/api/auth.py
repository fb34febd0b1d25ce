"""Authorization in the order of SPEC 3: session id, App, key, App visibility, key scope, session."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.requests import Request

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


def bearer_token(headers: Headers) -> str:
    """The token of `Authorization: Bearer <token>`; "" when there is none."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def bearer_matches(headers: Headers, expected: SecretStr) -> bool:
    """The request carries this bearer token (compared in constant time)."""
    return hmac.compare_digest(bearer_token(headers).encode(), expected.get_secret_value().encode())


def session_id_from(headers: Headers) -> str:
    return parse_session_id(headers.get(SESSION_HEADER))


def presented_key(headers: Headers) -> str | None:
    key, alias = headers.get(KEY_HEADER), headers.get(KEY_HEADER_ALIAS)
    if key and alias and key != alias:
        raise ConflictingKeys(f"{KEY_HEADER} and {KEY_HEADER_ALIAS} carry different keys; send one")
    return key or alias or None


# SPEC 3, step 7: on a session that exists, these routes (method, path template) accept the
# session id itself as the credential when no key is presented, unless AOMI_SESSION_ACCESS=key.
# They only read a session or steer its running turn; what spends the App's budget or creates a
# keyed session is not here and always needs a key.
SESSION_ID_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/api/state"),
        ("GET", "/api/updates"),
        ("GET", "/api/events"),
        ("POST", "/api/interrupt"),
        ("POST", "/api/system"),
        ("GET", "/api/sessions/{session_id}"),
        ("PATCH", "/api/sessions/{session_id}"),
        ("DELETE", "/api/sessions/{session_id}"),
        ("POST", "/api/sessions/{session_id}/archive"),
        ("POST", "/api/sessions/{session_id}/unarchive"),
        ("GET", "/api/control/provider-keys"),
        ("POST", "/api/control/provider-keys"),
        ("DELETE", "/api/control/provider-keys/{provider}"),
    }
)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the App the request names (or the session's own, for a session-id
    credential) and the verified key, if any."""

    app: App
    key: KeyRecord | None
    by_session_id: bool = False

    def may_use(self, app: App | None) -> bool:
        if app is None:
            return False
        return app.public or (self.key is not None and app.name in self.key.apps)


class Authorizer:
    """The one place where SPEC 3 is decided; routers call it and never reason about access."""

    def __init__(self, apps: AppRegistry, verifier: KeyVerifier, session_access: str = "session-id") -> None:
        self.apps = apps
        self.verifier = verifier
        self.session_id_credential = session_access == "session-id"

    async def caller_key(self, headers: Headers) -> KeyRecord | None:
        """Step 3: a presented key must be valid (401 otherwise)."""
        key = presented_key(headers)
        return await self.verifier.verify(key) if key is not None else None

    async def usable_apps(self, headers: Headers) -> list[App]:
        """The Apps this caller may use: every public App plus the presented key's (a presented key
        must be valid). `default` first, then by name; a key's App that no longer exists is not in it."""
        key = await self.caller_key(headers)
        return [app for app in self.apps.all() if app.public or (key is not None and app.name in key.apps)]

    async def authorize(self, app_name: str | None, headers: Headers) -> Caller:
        """Steps 2-6. A public App is usable by everyone, with or without a key."""
        return self._caller(app_name, await self.caller_key(headers))

    def _caller(self, app_name: str | None, record: KeyRecord | None) -> Caller:
        name = app_name or DEFAULT_APP
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

    def accepts_session_id(self, request: Request) -> bool:
        """Whether this request's route takes the session id as a credential (SPEC 3, step 7)."""
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        return self.session_id_credential and (request.method, path) in SESSION_ID_ROUTES

    async def session_caller(self, request: Request, app_name: str | None, session: Session | None) -> Caller:
        """Steps 2-7 for a request on a session (None: it does not exist yet).

        Without a key, on an existing session, a route of ``SESSION_ID_ROUTES`` is authorized by the
        session id; every other case is authorized as the request names it, then checked against
        the session's App.
        """
        record = await self.caller_key(request.headers)
        if session is not None and record is None and self.accepts_session_id(request):
            own = self.apps.get(session.app)
            if own is not None:
                return Caller(own, None, by_session_id=True)
        caller = self._caller(app_name, record)
        if session is not None:
            self.check_session(caller, session)
        return caller

    def checks_streams(self, caller: Caller) -> bool:
        """Whether an open event stream of this caller must re-check step 7 before sending events.

        Not without a key while the session id is a credential: holding the id is the capability.
        """
        return caller.key is not None or not (caller.by_session_id or self.session_id_credential)

    def may_follow(self, caller: Caller, session_app: str) -> bool:
        """Step 7 for an open event stream: may it deliver events of a session now in ``session_app``?"""
        return not self.checks_streams(caller) or self._covers(caller, session_app)

    def check_session(self, caller: Caller, session: Session) -> None:
        """Step 7: the session's own App must be one the caller may use."""
        if not self._covers(caller, session.app):
            raise SessionForbidden("this session belongs to an App your key does not cover")

    def _covers(self, caller: Caller, session_app: str) -> bool:
        return session_app == caller.app.name or caller.may_use(self.apps.get(session_app))
