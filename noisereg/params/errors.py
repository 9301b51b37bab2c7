"""One line per params.yaml error: the dotted key, the allowed values in words, the value given.

Pydantic reports every error with its own wording and union-member locations; a user wants
the first problem, named by the key they typed. The allowed values are read from the JSON
Schema of the models, so the words always match the rules (and the editor's schema).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

Schema = dict[str, Any]


class ParamsError(ValueError):
    """A params.yaml value is missing, malformed or out of range."""


class Invalid(ValueError):
    """A cross-field rule that failed: the key it names, relative to the model that checks it.

    `one_line` prefixes the model's own dotted path, so a rule written once in a variant's
    model names `variants.<name>.<key>` for whichever variant broke it.
    """

    def __init__(self, key: str, requirement: str, *value: Any) -> None:
        super().__init__(requirement)
        self.key = key
        self.requirement = requirement
        self.value = value  # () when the rule concerns no single value


def one_line(error: ValidationError, raw: Any, schema: Schema) -> str:
    """Return the first validation error as one line naming the key and the allowed values."""
    first = error.errors(include_url=False)[0]
    defs = schema.get("$defs", {})
    location = first["loc"]
    keys, value = _given(raw, location)
    dotted = ".".join(map(str, keys))
    problem = first.get("ctx", {}).get("error")
    if isinstance(problem, Invalid):
        key = ".".join(filter(None, (dotted, problem.key)))
        got = f", got {problem.value[0]!r}" if problem.value else ""
        return f"params: '{key}' {problem.requirement}{got}"
    if first["type"] == "missing":
        key = ".".join(map(str, (*keys, location[len(keys)])))
        expected = describe(_at(schema, [*keys, location[len(keys)]]), defs)
        return f"params: missing key '{key}' (expected {expected})"
    if first["type"] == "extra_forbidden":
        allowed = list(_at(schema, keys[:-1])["properties"])
        hint = difflib.get_close_matches(str(keys[-1]), allowed, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"params: unknown key '{dotted}'{suggestion}; allowed: {', '.join(allowed)}"
    if location and location[-1] == "[key]":
        parent = ".".join(map(str, keys[:-1]))
        names = _at(schema, keys[:-1]).get("propertyNames", {})
        if "enum" in names:
            names_allowed = ", ".join(map(str, names["enum"]))
            return (
                f"params: unknown name {first['input']!r} in '{parent}'; allowed: {names_allowed}"
            )
        rule = names.get("description", names.get("pattern"))
        return f"params: name {first['input']!r} in '{parent}' must use {rule}"
    if not keys:
        return f"params: the file must hold {describe(schema, defs)}"
    return f"params: '{dotted}' must be {describe(_at(schema, keys), defs)}, got {value!r}"


def _given(raw: Any, location: tuple[int | str, ...]) -> tuple[list[int | str], Any]:
    """Return the longest prefix of `location` that names keys present in `raw`, and its value.

    Pydantic's locations also hold union members and list indices; the user wrote keys.
    """
    keys: list[int | str] = []
    value = raw
    for part in location:
        if not isinstance(value, Mapping) or part not in value:
            break
        keys.append(part)
        value = value[part]
    return keys, value


def _resolve(node: Schema, defs: Schema) -> Schema:
    """Return a schema node with its `$ref` (pydantic puts models in `$defs`) merged in."""
    while "$ref" in node:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **rest}
    return node


def _at(schema: Schema, keys: list[int | str]) -> Schema:
    """Return the schema of the value at `keys` (a model's property or a mapping's entry)."""
    defs = schema.get("$defs", {})
    node = schema
    for key in keys:
        node = _resolve(node, defs)
        if str(key) in node.get("properties", {}):
            node = node["properties"][str(key)]
        elif "patternProperties" in node:
            (node,) = node["patternProperties"].values()
        else:
            node = node.get("additionalProperties", {})
    return _resolve(node, defs)


def describe(node: Schema, defs: Schema | None = None) -> str:
    """Return the values a schema node allows, in words: 'an integer >= 1', 'one of a, b'."""
    defs = node.get("$defs", {}) if defs is None else defs
    node = _resolve(node, defs)
    if "anyOf" in node:
        return ", or ".join(describe(option, defs) for option in node["anyOf"])
    if "enum" in node:
        return "one of " + ", ".join(map(str, node["enum"]))
    kind = node.get("type")
    if kind == "null":
        return "null"
    if kind == "boolean":
        return "true or false"
    if kind == "integer":
        bounds = [f">= {node['minimum']}"] if "minimum" in node else []
        bounds += [f"<= {node['maximum']}"] if "maximum" in node else []
        return " ".join(["an integer", " and ".join(bounds)]).strip()
    if kind == "number" and not {"maximum", "exclusiveMaximum"} & set(node):
        bound = (
            f"> {float(node['exclusiveMinimum'])!r}"
            if "exclusiveMinimum" in node
            else f">= {float(node['minimum'])!r}"
        )
        return f"a number {bound}"
    if kind == "number":
        low, high = (
            f"({float(node['exclusiveMinimum'])!r}"
            if "exclusiveMinimum" in node
            else f"[{float(node['minimum'])!r}",
            f"{float(node['exclusiveMaximum'])!r})"
            if "exclusiveMaximum" in node
            else f"{float(node['maximum'])!r}]",
        )
        return f"a number in {low}, {high}"
    if kind == "string":
        if "examples" in node:
            return "a string like " + " or ".join(node["examples"])
        return "a non-empty string" if node.get("minLength") else "a string"
    if kind == "array":
        least, most = node.get("minItems", 0), node.get("maxItems")
        if most is not None:
            shape = f"a list of {least} to {most} values"
        else:
            shape = "a non-empty list" if least else "a list"
        distinct = " without repeated values" if node.get("uniqueItems") else ""
        return f"{shape}{distinct}, each {describe(node.get('items', {}), defs)}"
    if kind == "object":
        if "properties" in node:
            return "a mapping with keys " + ", ".join(node["properties"])
        return "a non-empty mapping of name -> settings"
    return "a value"
