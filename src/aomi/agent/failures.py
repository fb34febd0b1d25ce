"""What a turn's `SystemError` says when a model provider fails it: the provider, the model and
the cause in words, with keys redacted."""

from __future__ import annotations

import re

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelTimeoutError,
)

ERROR_DETAIL_MAX = 200


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    return re.sub(r"\b(sk|pk|gsk|AIza)[-_A-Za-z0-9]{8,}", "[redacted]", text)


def provider_failure(provider: str, label: str, exc: ModelAPIError, api_key: str | None) -> str:
    """The SystemError text of a turn a provider failed: the provider, and the cause in words."""
    status = f" (HTTP {exc.status_code})" if isinstance(exc, ModelHTTPError) else ""
    if isinstance(exc, ModelAuthenticationError):
        cause = f"rejected the API key{status}; check the server's key or save a valid key of your own"
    elif isinstance(exc, ModelContextWindowExceededError):
        cause = f"refused the request: the conversation is too long for the model{status}"
    elif isinstance(exc, ModelRateLimitError | ModelQuotaExceededError):
        cause = f"is rate limiting or out of quota{status}; try again later"
    elif isinstance(exc, ModelTimeoutError):
        cause = "did not answer in time"
    elif isinstance(exc, ModelConnectionError):
        cause = "could not be reached"
    elif isinstance(exc, ModelHTTPError) and exc.status_code >= 500:
        cause = f"had a server error{status}"
    else:
        detail = redact(exc.message, api_key)[:ERROR_DETAIL_MAX]
        cause = f"failed{status}: {detail}"
    return f"The model provider {provider} (model {label}) {cause}. The turn was stopped."
