"""What the stub model says: a pure function of (seed, request), plus seeded fault decisions.

The convention, checked in this order on the request:

1. ``response_format`` carries a JSON schema (json_schema, or json_object with ``schema`` as
   llama.cpp takes it) -> a valid instance of it; json_object without one -> ``{"answer": ...}``.
2. a ``<prompt>`` element in the last user turn (a prompt to rewrite) -> its rewrite, in one.
3. two or more fenced Python blocks in the last user turn -> their recombination, fenced.
4. one fenced Python block -> a mutated version of it (constants, comparisons, operators), fenced.
5. a ``def name(args)`` signature without fences (a code-writing prompt) -> a function, fenced.
6. anything else -> a rewritten version of the last user turn (synonyms, an added instruction).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from typing import Any

import orjson

from evoforum.hashing import digest
from evoforum.llm.stub import _code, _schema

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_PROMPT = re.compile(r"<prompt>\n?(.*?)\n?</prompt>", re.DOTALL)
_SIGNATURE = re.compile(r"^def (\w+)\((.*?)\)(?:\s*->\s*[^:]+)?:", re.MULTILINE)
_SYNONYMS = {
    "answer": "reply",
    "reply": "response",
    "question": "problem",
    "problem": "task",
    "write": "produce",
    "code": "program",
    "function": "routine",
    "careful": "thorough",
    "short": "concise",
    "explain": "describe",
    "check": "verify",
    "solve": "work out",
    "think": "reason",
    "use": "apply",
}
_TAILS = (
    "Think step by step.",
    "Be concise.",
    "Check the answer before replying.",
    "State assumptions explicitly.",
    "Prefer the simplest correct solution.",
    "Consider edge cases first.",
    "",
)
_STREAM_KEYS = ("stream", "stream_options")
FAULT_KINDS = ("hang", "error_500", "error_429", "empty", "truncated", "invalid_json")


def request_key(body: dict[str, Any]) -> str:
    """The hash a request is answered by: the body without its streaming options."""
    return digest({k: v for k, v in body.items() if k not in _STREAM_KEYS}, domain="llm-request")


def rng_for(seed: int, key: str, salt: str = "") -> random.Random:
    return random.Random(f"{seed}:{key}:{salt}")


def answer(body: dict[str, Any], seed: int) -> str:
    """The stub's reply text for a chat completion ``body``."""
    rng = rng_for(seed, request_key(body))
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
        return orjson.dumps(_schema.instance(schema, rng)).decode()
    if response_format.get("type") == "json_object":
        schema = response_format.get("schema") or {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
        }
        return orjson.dumps(_schema.instance(schema, rng)).decode()
    prompt = _last_user(body)
    element = _PROMPT.search(prompt)
    if element is not None:
        return f"<prompt>\n{_rewrite(element[1], rng)}\n</prompt>"
    blocks = _FENCE.findall(prompt)
    if len(blocks) >= 2:
        return _fenced("Here is a combination of the parents:", _code.recombine(blocks, rng))
    if len(blocks) == 1:
        return _fenced("Here is the revised code:", _code.mutate(blocks[0], rng))
    signature = _SIGNATURE.search(prompt)
    if signature is not None:
        return _fenced("Here is an implementation:", _write(signature, rng))
    return _rewrite(prompt, rng)


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def _fenced(lead: str, code: str) -> str:
    return f"{lead}\n\n```python\n{code.rstrip()}\n```\n"


def _write(signature: re.Match[str], rng: random.Random) -> str:
    name, args = signature.group(1), signature.group(2)
    first = args.split(",")[0].split(":")[0].split("=")[0].strip()
    body = rng.choice(
        (
            f"    return {first}" if first else "    return None",
            f"    result = {first or 0}\n    return result",
            f"    if not {first or 'True'}:\n        return {first or 'None'}\n    return {first or 'None'}",
        )
    )
    return f"def {name}({args}):\n{body}\n"


def _rewrite(prompt: str, rng: random.Random) -> str:
    words = prompt.split(" ") if prompt else ["Answer", "the", "question."]
    out = []
    for word in words:
        core = word.strip(".,;:!?").lower()
        if core in _SYNONYMS and rng.random() < 0.6:
            replacement = _SYNONYMS[core]
            word = word.replace(
                word.strip(".,;:!?"), replacement.capitalize() if word[:1].isupper() else replacement
            )
        out.append(word)
    tail = rng.choice(_TAILS)
    return (" ".join(out).strip() + (" " + tail if tail else "")).strip()


def fault_for(seed: int, key: str, occurrence: int, rate: float, kinds: tuple[str, ...]) -> str | None:
    """The fault injected into the ``occurrence``-th time this request arrives, if any."""
    if rate <= 0 or not kinds:
        return None
    rng = rng_for(seed, key, f"fault:{occurrence}")
    return rng.choice(kinds) if rng.random() < rate else None


def spoil(text: str, kind: str, rng: random.Random) -> str:
    """The reply text under a content fault (empty, truncated, invalid JSON)."""
    if kind == "empty":
        return ""
    if kind == "invalid_json":
        return text[: max(1, len(text) - 1)] + rng.choice((",", " trailing words", "}}", ""))
    cut = rng.randint(1, max(1, len(text) // 2)) if text else 0
    return text[:cut]


def embedding(text: str, seed: int, dim: int) -> list[float]:
    """A deterministic unit vector: hashed bag of words, so texts sharing words are close."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or [""]:
        h = hashlib.sha256(f"{seed}:{word}".encode()).digest()
        vector[int.from_bytes(h[:4], "big") % dim] += 1.0 if h[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
