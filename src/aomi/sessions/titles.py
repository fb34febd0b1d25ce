"""Automatic session titles (SPEC 4.3).

The offline model gets a heuristic title from the first user message; a provider model is
asked for one (`TITLE_PROMPT`), and its answer is cleaned (`clean_title`), with the heuristic
title as the fallback.
"""

from __future__ import annotations

import re

from aomi.sessions.model import DEFAULT_TITLE, Sender, Session

MAX_WORDS = 6
MAX_CHARS = 48


def heuristic_title(text: str) -> str:
    """``"what is the price of ETH??"`` -> ``"What is the price of ETH"``."""
    words = re.sub(r"\s+", " ", text).strip().split(" ")
    title = " ".join(words[:MAX_WORDS]).rstrip(" ?!.,;:")
    if len(title) > MAX_CHARS:
        title = title[: MAX_CHARS - 1].rstrip() + "…"
    if not title:
        return DEFAULT_TITLE
    return title[0].upper() + title[1:]


def needs_title(s: Session) -> bool:
    """After the first complete exchange, for a session nobody titled by hand."""
    if s.title_manual or (s.title not in (None, DEFAULT_TITLE)):
        return False
    has_user = any(m.sender is Sender.USER for m in s.messages)
    has_answer = any(m.sender is Sender.AGENT and m.content.strip() for m in s.messages)
    return has_user and has_answer


def first_user_message(s: Session) -> str:
    return next((m.content for m in s.messages if m.sender is Sender.USER), "")


TITLE_MAX_TOKENS = 24
TITLE_PROMPT = (
    "Write a title of at most six words for this conversation. Answer with the title only, "
    "no quotes and no final punctuation.\n\nUser: {question}\n\nAssistant: {answer}"
)


def clean_title(text: str) -> str | None:
    """The model's title, one line, without quotes or a final full stop; None when empty."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = line.strip().strip("\"'`*#").strip()
    line = re.sub(r"^(title:\s*)", "", line, flags=re.IGNORECASE).rstrip(" .")
    if not line:
        return None
    return heuristic_title(line)
