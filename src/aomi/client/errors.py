"""Typed client exceptions: the server's `{"error": {"code", "message"}}` body and HTTP status,
raised as one class per kind of failure (unknown codes raise the base class)."""

from __future__ import annotations

from typing import Any

import httpx


class AomiClientError(Exception):
    """A request the server refused (or could not be sent): ``status``, ``code`` and ``message``.

    ``status`` is the HTTP status (0 when no answer came back); ``code`` the server's stable
    snake_case code (e.g. ``session_busy``); ``message`` its text for people.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})" if status else message)
        self.status, self.code, self.message = status, code, message


class AomiConnectionError(AomiClientError):
    """The server could not be reached, or the connection broke before an answer came."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection_error", message)


class InvalidInputError(AomiClientError):
    """400: the request was malformed (bad id, address, user_state, model, transaction...)."""


class UnauthorizedError(AomiClientError):
    """401: no valid App key (or wallet token) where one is needed."""


class ForbiddenError(AomiClientError):
    """403: the key, or the caller, may not use this App or session."""


class NotFoundError(AomiClientError):
    """404: unknown App, session or route."""


class SessionBusyError(AomiClientError):
    """409: a turn is already running in the session; wait for it or interrupt it."""


class PayloadTooLargeError(AomiClientError):
    """413: the message or the body is over the server's limit."""


class RetryableError(AomiClientError):
    """A refusal worth retrying later: ``retry_after`` is the server's `Retry-After` in seconds."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """429: too many requests for this key or session; wait ``retry_after`` seconds."""


class ServiceUnavailableError(RetryableError):
    """503 (or 424): a dependency (database, chain, simulator) is away; retry after ``retry_after``."""


_BY_CODE: dict[str, type[AomiClientError]] = {
    **dict.fromkeys(
        (
            "invalid_input",
            "bad_request",
            "missing_session_id",
            "invalid_session_id",
            "conflicting_keys",
            "invalid_user_state",
            "invalid_address",
            "unknown_model",
            "unknown_chain",
            "invalid_transaction",
            "missing_secret",
        ),
        InvalidInputError,
    ),
    **dict.fromkeys(
        (
            "invalid_app_key",
            "app_key_required",
            "invalid_wallet_proof",
            "wallet_token_required",
            "invalid_wallet_token",
        ),
        UnauthorizedError,
    ),
    **dict.fromkeys(("app_key_not_authorized", "session_forbidden"), ForbiddenError),
    **dict.fromkeys(("app_not_found", "session_not_found", "not_found"), NotFoundError),
    "session_busy": SessionBusyError,
    "payload_too_large": PayloadTooLargeError,
    "rate_limited": RateLimitedError,
    **dict.fromkeys(
        ("database_unavailable", "chain_unavailable", "simulation_unavailable"), ServiceUnavailableError
    ),
}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """The server's code and message; a body in another shape (a proxy's page) keeps the status."""
    try:
        body: Any = response.json()
        error = body["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return "http_error", text


def error_from_response(response: httpx.Response) -> AomiClientError:
    """The typed exception for a failed response."""
    code, message = _error_body(response)
    cls = _BY_CODE.get(code, AomiClientError)
    if issubclass(cls, RetryableError):
        return cls(response.status_code, code, message, _retry_after(response))
    return cls(response.status_code, code, message)


def raise_for_error(response: httpx.Response) -> None:
    if response.is_error:
        raise error_from_response(response)
