"""A random valid instance of a JSON schema (the subset pydantic emits), drawn from a seeded rng."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

_WORDS = tuple(
    [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "plan",
        "check",
        "refine",
        "answer",
        "step",
        "result",
        "value",
        "draft",
        "review",
        "merge",
        "split",
        "score",
        "test",
        "code",
        "prompt",
        "agent",
        "critic",
        "writer",
        "solver",
        "budget",
        "route",
    ]
)


def instance(
    schema: dict[str, Any], rng: random.Random, root: dict[str, Any] | None = None, depth: int = 0
) -> Any:
    """A value that validates against ``schema`` (``$ref`` resolved against ``root``)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        return instance(_resolve(schema["$ref"], root), rng, root, depth)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return instance(rng.choice(options), rng, root, depth)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
        return instance(merged, rng, root, depth)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = rng.choice([k for k in kind if k != "null"] or ["null"])
    return _BY_TYPE[kind](schema, rng, root, depth)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def _object(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", properties))
    result: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in required or (depth < 3 and rng.random() < 0.5):
            result[name] = instance(sub, rng, root, depth + 1)
    return result


def _array(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low = int(schema.get("minItems", 1 if depth < 3 else 0))
    high = int(schema.get("maxItems", max(low, 3 if depth < 3 else low)))
    items = schema.get("items", {"type": "string"})
    values = [instance(items, rng, root, depth + 1) for _ in range(rng.randint(low, max(low, high)))]
    if schema.get("uniqueItems"):
        unique: list[Any] = []
        for value in values:
            if value not in unique:
                unique.append(value)
        values = unique
    return values


def _string(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
    while len(text) < low:
        text += " " + rng.choice(_WORDS)
    return text[: int(high)] if high is not None else text


def _integer(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1 if "exclusiveMinimum" in schema else 0)
    high = schema.get(
        "maximum", schema.get("exclusiveMaximum", 101) - 1 if "exclusiveMaximum" in schema else 100
    )
    return rng.randint(int(low), max(int(low), int(high)))


def _number(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 1.0)))
    value = round(low + (high - low) * rng.random(), 4)
    if "exclusiveMinimum" in schema and value <= low:
        value = (low + high) / 2
    return value


def _boolean(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    return rng.random() < 0.5


def _null(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    return None


_BY_TYPE: dict[str, Callable[[dict[str, Any], random.Random, dict[str, Any], int], Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "null": _null,
}
