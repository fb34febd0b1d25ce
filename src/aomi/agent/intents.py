"""The intents the offline model recognises in a user message, each as a tool call's arguments.

Deterministic regular expressions, most specific first: a transfer request, a contract read, a
token balance, a native balance, ENS in either direction, the chain's context, a token price.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_ADDRESS = r"0x[0-9a-fA-F]{40}"
_NAME = r"[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)+"
_TARGET = rf"({_ADDRESS}|{_NAME})"
_AMOUNT = r"(\d+(?:\.\d+)?)"
_NATIVE = {"eth", "ether", "native"}
_WORDS = {"my", "the", "token", "wallet", "eth", "ether", "native", "current", "account", "what", "is", "of"}

Intent = Callable[[str], dict[str, Any] | None]

_TOKEN = r"([A-Za-z][A-Za-z0-9]{1,9}|" + _ADDRESS + ")"
_SEND = re.compile(rf"\b(?:send|transfer|pay)\s+{_AMOUNT}\s*(eth|ether)?\s+to\s+{_TARGET}", re.IGNORECASE)
_CALL = re.compile(
    rf"\bcall\s+(\w+\([^()]*\)(?:\s*\([^()]*\))?)\s+on\s+{_TARGET}(?:\s+with\s+(.+?))?\s*[.?!]*$",
    re.IGNORECASE,
)
_TOKEN_BALANCE = [
    re.compile(
        rf"\b(?:token\s+balance|balance\s+of\s+token)\s+{_TOKEN}(?:\s+(?:for|of|held\s+by)\s+{_TARGET})?",
        re.I,
    ),
    re.compile(rf"\bhow\s+much\s+{_TOKEN}\s+(?:do\s+i\s+have|does\s+{_TARGET}\s+(?:have|hold))", re.I),
    re.compile(rf"\bmy\s+{_TOKEN}\s+balance\b()", re.I),
    re.compile(rf"\b{_TOKEN}\s+balance\s+(?:of|for)\s+{_TARGET}", re.I),
]
_BALANCE = re.compile(rf"\bbalance\b(?:.*?\b(?:of|for)\s+{_TARGET})?", re.IGNORECASE)
_TOKEN_INFO = re.compile(
    rf"\b(?:token\s+info(?:rmation)?|info(?:rmation)?\s+(?:about|on)\s+token)\s+(?:for\s+|of\s+)?{_TOKEN}",
    re.I,
)
_ENS_FORWARD = re.compile(rf"\b(?:resolve|address\s+of|who\s+is|what\s+address\s+is)\s+({_NAME})\b", re.I)
_ENS_REVERSE = re.compile(
    rf"\b(?:(?:ens|primary)\s+name\s+(?:of|for)|reverse\s+(?:resolve|lookup)(?:\s+of)?|who\s+is|resolve)\s+({_ADDRESS})",
    re.IGNORECASE,
)
_CONTEXT = re.compile(
    r"\b(latest\s+block|block\s+number|chain\s+context|gas\s+price|base\s+fee|which\s+chain|what\s+chain)\b",
    re.IGNORECASE,
)


def _split_args(text: str | None) -> list[str]:
    if not text:
        return []
    return [part.strip().strip("'\"") for part in re.split(r",|\band\b", text) if part.strip()]


def send_intent(text: str) -> dict[str, Any] | None:
    m = _SEND.search(text)
    if m is None:
        return None
    amount, target = m.group(1), m.group(3)
    return {"to": target, "value": amount, "description": f"Send {amount} ETH to {target}"}


def call_intent(text: str) -> dict[str, Any] | None:
    m = _CALL.search(text)
    if m is None:
        return None
    return {"contract": m.group(2), "signature": m.group(1), "args": _split_args(m.group(3))}


def token_balance_intent(text: str) -> dict[str, Any] | None:
    for pattern in _TOKEN_BALANCE:
        m = pattern.search(text)
        if m is None or m.group(1).lower() in _NATIVE or m.group(1).lower() in _WORDS:
            continue
        args: dict[str, Any] = {"token": m.group(1)}
        if m.lastindex and m.lastindex >= 2 and m.group(2):
            args["address"] = m.group(2)
        return args
    return None


def balance_intent(text: str) -> dict[str, Any] | None:
    m = _BALANCE.search(text)
    if m is None:
        return None
    return {"address": m.group(1)} if m.group(1) else {}


def token_info_intent(text: str) -> dict[str, Any] | None:
    m = _TOKEN_INFO.search(text)
    return {"token": m.group(1)} if m else None


def ens_intent(text: str) -> dict[str, Any] | None:
    m = _ENS_REVERSE.search(text) or _ENS_FORWARD.search(text)
    return {"name_or_address": m.group(1)} if m else None


def context_intent(text: str) -> dict[str, Any] | None:
    return {} if _CONTEXT.search(text) else None


# (tool, intent), most specific first.
CHAIN_INTENTS: list[tuple[str, Intent]] = [
    ("send_transaction_to_wallet", send_intent),
    ("call_view_function", call_intent),
    ("get_token_balance", token_balance_intent),
    ("get_token_info", token_info_intent),
    ("get_balance", balance_intent),
    ("resolve_ens", ens_intent),
    ("get_chain_context", context_intent),
]
