"""`{param}` and `{secret.NAME}` placeholders in HTTP tool URLs, headers and query values, and in
MCP server headers and environments."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

PLACEHOLDER = re.compile(r"\{(secret\.)?([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_BRACE = re.compile(r"[{}]")


def placeholders(template: str) -> tuple[list[str], list[str]]:
    """(parameter names, secret names) the template refers to. ValueError for a stray brace."""
    params: list[str] = []
    secrets: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        (secrets if match.group(1) else params).append(match.group(2))
    if _BRACE.search(PLACEHOLDER.sub("", template)):
        raise ValueError("a '{' or '}' that is not part of a {name} or {secret.NAME} placeholder")
    return params, secrets


def render(
    template: str,
    args: Mapping[str, object],
    secret: Callable[[str], str],
    encode: Callable[[str], str] = str,
) -> str:
    """The template with arguments (through ``encode``, e.g. URL-encoding) and secrets (as they
    are: a secret may be a base URL) filled in. KeyError names a missing argument."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1):
            return secret(match.group(2))
        value = args[match.group(2)]
        return encode(value if isinstance(value, str) else _scalar(value))

    return PLACEHOLDER.sub(fill, template)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
