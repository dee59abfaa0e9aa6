"""Walking the OpenAPI schema: plausible bodies, every string field, one value swapped in.

Used by the hostile-input walker (tests/ticketing/test_validation.py) and the fuzz tests
(tests/ticketing/test_fuzz_api.py), so both cover a field the day it is added."""

from __future__ import annotations

import copy
from typing import Any


def resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in spec:
        spec = schema["components"]["schemas"][spec["$ref"].rsplit("/", 1)[-1]]
    return spec


def example(schema: dict, spec: dict) -> Any:
    """A plausible value for ``spec`` (the background the one bad field is sent in)."""
    spec = resolve(schema, spec)
    if "anyOf" in spec:
        return example(schema, next(s for s in spec["anyOf"] if s.get("type") != "null"))
    if "enum" in spec:
        return spec["enum"][0]
    kind = spec.get("type")
    if kind == "object":
        props = spec.get("properties", {})
        return {name: example(schema, props[name]) for name in spec.get("required", [])}
    if kind == "array":
        return [example(schema, spec.get("items", {}))]
    if kind == "integer":
        return max(1, spec.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if spec.get("format") == "date-time":
        return "2030-01-01T10:00:00Z"
    if spec.get("format") == "date":
        return "2030-01-01"
    return "x" * max(1, spec.get("minLength", 1))


def string_fields(schema: dict, spec: dict, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path, spec) of every string property, nested objects and arrays of objects included."""
    spec = resolve(schema, spec)
    if "anyOf" in spec:
        if any(resolve(schema, o).get("type") in ("number", "integer") for o in spec["anyOf"]):
            return []  # a decimal sent as a string: a number, not text
        found = []
        for option in spec["anyOf"]:
            found += string_fields(schema, option, path)
        return found
    if spec.get("type") == "object":
        found = []
        for name, prop in spec.get("properties", {}).items():
            found += string_fields(schema, prop, (*path, name))
        return found
    if spec.get("type") == "array":
        return string_fields(schema, spec.get("items", {}), (*path, 0))
    if spec.get("type") == "string" and "enum" not in spec and path:
        return [(path, spec)]
    return []


def with_value(body: Any, path: tuple, value: Any, schema: dict, spec: dict) -> Any:
    """``body`` with ``value`` at ``path``, building the containers on the way."""
    body = copy.deepcopy(body)
    node, node_spec = body, resolve(schema, spec)
    for i, key in enumerate(path):
        last = i == len(path) - 1
        if "anyOf" in node_spec:
            node_spec = next(
                resolve(schema, s) for s in node_spec["anyOf"] if resolve(schema, s).get("type") != "null"
            )
        child = node_spec["properties"][key] if isinstance(key, str) else node_spec["items"]
        if last:
            node[key] = value
            break
        if isinstance(key, str) and node.get(key) is None:
            node[key] = example(schema, child)
        if isinstance(key, int) and not node:
            node.append(example(schema, child))
        node, node_spec = node[key], resolve(schema, child)
    return body


def leaf_fields(schema: dict, spec: dict, path: tuple = ()) -> list[tuple]:
    """The path of every leaf property (any type), nested objects and arrays of objects included."""
    spec = resolve(schema, spec)
    if "anyOf" in spec:
        options = [resolve(schema, o) for o in spec["anyOf"]]
        objects = [o for o in options if o.get("type") in ("object", "array")]
        return leaf_fields(schema, objects[0], path) if objects else [path]
    if spec.get("type") == "object" and spec.get("properties"):
        found = []
        for name, prop in spec["properties"].items():
            found += leaf_fields(schema, prop, (*path, name))
        return found
    if spec.get("type") == "array" and resolve(schema, spec.get("items", {})).get("properties"):
        return leaf_fields(schema, spec["items"], (*path, 0))
    return [path] if path else []
