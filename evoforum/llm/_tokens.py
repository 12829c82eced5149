"""Counting tokens when a server reports none: words and punctuation marks, a fair approximation."""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The approximate number of tokens of ``text``."""
    return len(_TOKEN.findall(text))


def count_prompt(contents: Iterable[str]) -> int:
    """Tokens of a prompt: its messages plus a few for each turn's framing."""
    return sum(count_tokens(text) + 4 for text in contents)


def pieces(text: str) -> list[str]:
    """How a reply is streamed when it is replayed or served by the stub: one piece per word."""
    found = re.findall(r"\s*\S+|\s+$", text)
    return found if "".join(found) == text else [text]
