"""Human-readable function signatures: parse, encode a call, decode a result.

Accepted forms: ``balanceOf(address)``, ``balanceOf(address)(uint256)`` (outputs in a second
group) and Solidity-like ``function balanceOf(address owner) view returns (uint256)``. Types are
the ABI's: ``uint<N>``, ``int<N>``, ``address``, ``bool``, ``bytes<N>``, ``bytes``, ``string``,
arrays ``T[]`` / ``T[k]`` and tuples ``(T1,T2)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils import keccak

from aomi.chain.addresses import normalize_address
from aomi.errors import InvalidAddress, InvalidInput

_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_MODIFIERS = {"external", "public", "view", "pure", "payable", "nonpayable", "virtual", "override"}
_LOCATIONS = {"memory", "calldata", "storage", "indexed"}
_ELEMENTARY = re.compile(r"^(uint|int)(\d*)$|^bytes(\d*)$|^(address|bool|string)$")
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


@dataclass(frozen=True)
class FunctionSignature:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] | None
    """None when the signature did not say what the function returns."""

    @property
    def canonical(self) -> str:
        return f"{self.name}({','.join(self.inputs)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.canonical)[:4]


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InvalidInput(f"unbalanced parentheses in {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise InvalidInput(f"unbalanced parentheses in {text!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts] if text.strip() else []


def _group(text: str, start: int) -> tuple[str, int]:
    """The text inside the parenthesis opening at ``start``, and the index after its close."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    raise InvalidInput(f"unbalanced parentheses in {text!r}")


def canonical_type(raw: str) -> str:
    """``uint`` -> ``uint256``, ``(uint,address)[]`` kept as a tuple type; InvalidInput when unknown."""
    text = raw.strip()
    array = _ARRAY.match(text)
    if array:
        return canonical_type(array.group(1)) + f"[{array.group(2)}]"
    if text.startswith("(") or text.startswith("tuple("):
        inner, end = _group(text, text.index("("))
        if text[end:].strip():
            raise InvalidInput(f"unknown type {raw!r}")
        return "(" + ",".join(canonical_type(_param_type(p)) for p in _split_top(inner)) + ")"
    m = _ELEMENTARY.match(text)
    if not m:
        raise InvalidInput(f"unknown ABI type {raw!r}")
    if m.group(1):
        bits = int(m.group(2) or 256)
        if bits % 8 or not 8 <= bits <= 256:
            raise InvalidInput(f"unknown ABI type {raw!r}")
        return f"{m.group(1)}{bits}"
    if text.startswith("bytes") and m.group(3) and not 1 <= int(m.group(3)) <= 32:
        raise InvalidInput(f"unknown ABI type {raw!r}")
    return text


def _param_type(param: str) -> str:
    """``address owner`` -> ``address``; ``uint256[] calldata ids`` -> ``uint256[]``."""
    text = param.strip()
    if text.startswith("("):
        inner, end = _group(text, 0)
        rest = text[end:]
        array = re.match(r"^((?:\[\d*\])*)", rest)
        suffix = array.group(1) if array else ""
        return f"({inner}){suffix}"
    words = [w for w in text.split() if w not in _LOCATIONS]
    if not words:
        raise InvalidInput(f"empty parameter in {param!r}")
    return words[0]


def _types(group: str) -> tuple[str, ...]:
    return tuple(canonical_type(_param_type(p)) for p in _split_top(group))


def parse_signature(text: str) -> FunctionSignature:
    """Parse a human-readable signature; InvalidInput saying what is wrong."""
    sig = " ".join(text.strip().split())
    if sig.startswith("function "):
        sig = sig[len("function ") :]
    if "(" not in sig:
        raise InvalidInput(f"signature {text[:80]!r} has no parameter list, e.g. 'balanceOf(address)'")
    name = sig[: sig.index("(")].strip()
    if not _NAME.match(name):
        raise InvalidInput(f"{name!r} is not a function name")
    inputs_text, end = _group(sig, sig.index("("))
    rest = sig[end:].strip()
    outputs: tuple[str, ...] | None = None
    words = rest.split("returns", 1)
    head = words[0].strip()
    if head.startswith("("):  # cast style: f(address)(uint256)
        out_text, out_end = _group(head, 0)
        outputs = _types(out_text)
        head = head[out_end:].strip()
    if any(w not in _MODIFIERS for w in head.split()):
        raise InvalidInput(f"cannot read {rest[:80]!r} in the signature")
    if len(words) == 2:
        tail = words[1].strip()
        if not tail.startswith("("):
            raise InvalidInput("'returns' must be followed by a parenthesized type list")
        out_text, out_end = _group(tail, 0)
        if tail[out_end:].strip():
            raise InvalidInput(f"unexpected text after the return types: {tail[out_end:][:40]!r}")
        outputs = _types(out_text)
    return FunctionSignature(name, _types(inputs_text), outputs)


def _hex_bytes(value: object, what: str) -> bytes:
    if isinstance(value, str) and re.fullmatch(r"0x([0-9a-fA-F]{2})*", value.strip()):
        return bytes.fromhex(value.strip()[2:])
    raise InvalidInput(f"{what} must be hex bytes like '0x1234', not {str(value)[:40]!r}")


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text, 10)
        except ValueError:
            pass
    raise InvalidInput(f"{what} must be an integer, not {str(value)[:40]!r}")


def coerce(abi_type: str, value: object, what: str = "argument") -> Any:
    """A JSON value (what a model passes) as the Python value eth-abi encodes for ``abi_type``."""
    array = _ARRAY.match(abi_type)
    if array:
        if not isinstance(value, list | tuple):
            raise InvalidInput(f"{what} must be a list for type {abi_type}")
        if array.group(2) and len(value) != int(array.group(2)):
            raise InvalidInput(f"{what} must hold {array.group(2)} items for type {abi_type}")
        return [coerce(array.group(1), v, f"{what}[{i}]") for i, v in enumerate(value)]
    if abi_type.startswith("("):
        parts = _split_top(abi_type[1:-1])
        if not isinstance(value, list | tuple) or len(value) != len(parts):
            raise InvalidInput(f"{what} must be a list of {len(parts)} values for type {abi_type}")
        return tuple(coerce(t, v, f"{what}[{i}]") for i, (t, v) in enumerate(zip(parts, value, strict=True)))
    if abi_type == "address":
        try:
            return normalize_address(value)
        except InvalidAddress as exc:
            raise InvalidInput(f"{what}: {exc.message}") from None
    if abi_type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise InvalidInput(f"{what} must be true or false")
    if abi_type == "string":
        if not isinstance(value, str):
            raise InvalidInput(f"{what} must be a string")
        return value
    if abi_type.startswith("bytes"):
        data = _hex_bytes(value, what)
        size = abi_type[5:]
        if size and len(data) != int(size):
            raise InvalidInput(f"{what} must be exactly {size} bytes for type {abi_type}")
        return data
    number = _integer(value, what)
    bits = int(re.sub(r"^u?int", "", abi_type))
    low, high = (0, 2**bits - 1) if abi_type.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= number <= high:
        raise InvalidInput(f"{what} {number} is out of range for type {abi_type}")
    return number


def encode_call(sig: FunctionSignature, args: Sequence[object]) -> bytes:
    """Selector + ABI-encoded arguments."""
    if len(args) != len(sig.inputs):
        raise InvalidInput(f"{sig.canonical} takes {len(sig.inputs)} argument(s); {len(args)} were given")
    values = [
        coerce(t, v, f"argument {i + 1} ({t})") for i, (t, v) in enumerate(zip(sig.inputs, args, strict=True))
    ]
    try:
        return sig.selector + encode(list(sig.inputs), values)
    except EncodingError as exc:
        raise InvalidInput(f"cannot encode the arguments of {sig.canonical}: {exc}") from None


def readable(value: Any) -> Any:
    """A decoded ABI value as JSON: bytes as hex, big integers as text-safe ints, nested lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        return normalize_address(value.lower())
    return value


def decode_result(types: Sequence[str], data: bytes) -> list[Any]:
    try:
        return [readable(v) for v in decode(list(types), data)]
    except (DecodingError, OverflowError) as exc:
        raise InvalidInput(f"the result does not decode as ({','.join(types)}): {exc}") from None
