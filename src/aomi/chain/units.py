"""Amounts in human units and in base units (wei), both ways, exactly (no floats)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aomi.errors import InvalidInput

_BASE_UNITS = re.compile(r"^\s*(\d+)\s*(wei|units?)\s*$", re.IGNORECASE)
UINT256_MAX = 2**256 - 1


def to_base_units(amount: str | int | float, decimals: int, what: str = "amount") -> int:
    """``"0.1"`` with 18 decimals -> 10**17. A ``wei`` (or ``units``) suffix gives base units as is:
    ``"1000 wei"`` -> 1000. More fractional digits than ``decimals`` allow is an error, not a
    rounding."""
    if isinstance(amount, bool):
        raise InvalidInput(f"{what} must be a number, not {amount!r}")
    text = str(amount).strip()
    exact = _BASE_UNITS.match(text)
    if exact:
        value = int(exact.group(1))
    else:
        try:
            number = Decimal(text.replace("_", "").replace(",", ""))
        except InvalidOperation:
            raise InvalidInput(
                f"{what} {text[:40]!r} is not a number (e.g. '0.1', or '1000 wei' for base units)"
            ) from None
        if not number.is_finite() or number < 0:
            raise InvalidInput(f"{what} {text[:40]!r} must be a positive number")
        scaled = number.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise InvalidInput(f"{what} {text[:40]!r} has more than {decimals} decimal places")
        value = int(scaled)
    if value > UINT256_MAX:
        raise InvalidInput(f"{what} {text[:40]!r} is too large")
    return value


def from_base_units(value: int, decimals: int) -> str:
    """10**17 with 18 decimals -> ``"0.1"``: exact, without trailing zeros."""
    if decimals == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    frac_text = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def describe_amount(value: int, decimals: int, symbol: str) -> str:
    """``0.1 ETH (100000000000000000 wei)``; base units are named wei only for 18 decimals."""
    unit = "wei" if decimals == 18 else "base units"
    return f"{from_base_units(value, decimals)} {symbol} ({value} {unit})"
