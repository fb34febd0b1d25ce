"""Time as integer milliseconds (storage) and ISO-8601 UTC strings (HTTP)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from aomi.errors import InvalidInput


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """``2026-11-27T21:52:25.123Z``: ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_DURATION_RE = re.compile(r"([0-9]{1,9})([smhdw])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
MAX_DURATION_MS = 100 * 365 * 86_400_000


def parse_duration_ms(text: str, name: str, *, allow_zero: bool = False) -> int:
    """``30d`` -> milliseconds (units s, m, h, d, w); `InvalidInput` naming ``name`` otherwise."""
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None or (int(match.group(1)) == 0 and not allow_zero):
        least = "a number" if allow_zero else "a positive number"
        raise InvalidInput(f"invalid {name} {text!r}: use {least} and a unit s, m, h, d or w, e.g. 30d")
    ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if ms > MAX_DURATION_MS:
        raise InvalidInput(f"invalid {name} {text!r}: at most 100 years")
    return ms


def parse_iso_ms(text: str, name: str = "time") -> int:
    """An ISO-8601 time (``2026-12-01T10:00:00Z``; no zone means UTC) -> epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError):
        example = "2026-12-01T10:00:00Z"
        raise InvalidInput(f"invalid {name} {text!r}: use an ISO-8601 time such as {example}") from None
