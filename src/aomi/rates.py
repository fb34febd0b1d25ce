"""Rate texts (`300/minute`), shared by the settings check and the rate limiter."""

from __future__ import annotations

from limits import RateLimitItem, parse


def parse_limit(text: str) -> RateLimitItem | None:
    """`300/minute`, `10 per second`, ...; None for `off` or an empty text. ValueError otherwise."""
    if text.strip().lower() in ("", "off"):
        return None
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate such as 300/minute or 10/second (or off)") from None


def describe(limit: RateLimitItem) -> str:
    """`300 per 1 minute`, `10 per 2 seconds`."""
    unit = limit.GRANULARITY.name + ("s" if limit.multiples != 1 else "")
    return f"{limit.amount} per {limit.multiples} {unit}"
