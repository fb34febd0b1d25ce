"""Input checks shared by every edge: text the databases can store, JSON of sane shape, numbers
that fit 64 bits. Each failure is an `InvalidInput` (400) that names the field.

PostgreSQL rejects NUL characters in text while SQLite stores them, and neither can encode a
lone UTF-16 surrogate (JSON may carry one as ``"\\udc00"``): such text is refused here, before
anything is stored, so both backends behave alike.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aomi.errors import AomiError, InvalidInput

MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: '²'.isdigit() is true and int('²') fails


def check_text(value: str, field: str) -> str:
    """``value`` unchanged, or `InvalidInput` for a NUL character or a lone surrogate."""
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def check_json(value: Any, field: str, depth: int = 0) -> Any:
    """``value`` unchanged when every string is storable text, every integer fits 64 bits, every
    number is finite and nesting stays within `MAX_JSON_DEPTH`."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise InvalidInput(f"{field} holds an integer outside the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} holds a number that is not finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{field} (a key)")
            check_json(item, f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{field}[{i}]", depth + 1)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str | bytes, field: str, error: type[AomiError] = InvalidInput) -> Any:
    """Parse JSON text; ``error`` when it is not valid JSON. The values are not checked yet: a
    request body's fields are checked (`check_text`, `check_json`) when they are read."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise error(f"{field} is not valid JSON") from None


def parse_json(text: str | bytes, field: str, error: type[AomiError] = InvalidInput) -> Any:
    """Parse JSON text and check it (`check_json`); ``error`` when it is not valid JSON."""
    return check_json(load_json(text, field, error), field)


def parse_count(text: str, field: str) -> int:
    """A non-negative whole number in ASCII digits that fits 64 bits (e.g. an event id)."""
    if not _DIGITS.fullmatch(text):
        raise InvalidInput(f"{field} must be a whole number of at most 18 digits, got {text[:32]!r}")
    return int(text)
