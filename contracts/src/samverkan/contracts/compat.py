"""Backward compatibility of two JSON Schemas: can a consumer using the new schema read every
event written under the old one? (BACKWARD in schema-registry terms; run against every earlier
version, BACKWARD_TRANSITIVE.)

Decided over the JSON Schema that pydantic emits, and conservatively: a change the check cannot
prove safe (a changed pattern, an unknown keyword) is reported as breaking.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$comment", "$id"}
_ANNOTATIONS |= {"deprecated", "readOnly", "writeOnly"}
_RAISED_IS_NARROWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_LOWERED_IS_NARROWER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_MUST_BE_EQUAL = ("pattern", "format", "multipleOf", "not", "allOf", "oneOf", "prefixItems")
_OBJECT = ("properties", "required", "additionalProperties")
_HANDLED = {"type", "enum", "const", "anyOf", "items", "uniqueItems", *_OBJECT}
_HANDLED |= {*_RAISED_IS_NARROWER, *_LOWERED_IS_NARROWER, *_MUST_BE_EQUAL}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every way data valid under `old` may be invalid under `new`, each naming where; [] if none."""
    return _subset(normalise(old), normalise(new), "$")


def normalise(schema: Schema) -> Any:
    """The schema with local $refs inlined and annotations (titles, docs, x-*) removed."""
    definitions = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key == "$defs" or key.startswith("x-"):
                continue
            if key == "properties":  # keys here are field names, not keywords
                out[key] = {name: walk(sub, seen) for name, sub in value.items()}
            elif key == "$ref":
                name = value.removeprefix("#/$defs/")
                if name in seen:
                    raise ValueError(f"recursive schema at {value}; not supported")
                out.update(walk(definitions[name], (*seen, name)))
            else:
                out[key] = walk(value, seen)
        return out

    return walk(schema, ())


def _subset(old: Any, new: Any, path: str) -> list[str]:
    if old == new or new in ({}, True) or old is False:
        return []
    if "anyOf" in old:
        rest = {k: v for k, v in old.items() if k != "anyOf"}
        return [p for branch in old["anyOf"] for p in _subset({**rest, **branch}, new, path)]
    if "anyOf" in new:
        rest = {k: v for k, v in new.items() if k != "anyOf"}
        problems = _subset(old, rest, path) if rest else []
        if all(_subset(old, branch, path) for branch in new["anyOf"]):
            problems.append(f"{path}: {_describe(old)} is no longer accepted by any alternative")
        return problems
    problems = _types_and_values(old, new, path)
    for keyword in _RAISED_IS_NARROWER:
        if keyword in new and not (keyword in old and old[keyword] >= new[keyword]):
            problems.append(f"{path}: {keyword} raised to {new[keyword]}")
    for keyword in _LOWERED_IS_NARROWER:
        if keyword in new and not (keyword in old and old[keyword] <= new[keyword]):
            problems.append(f"{path}: {keyword} lowered to {new[keyword]}")
    for keyword in _MUST_BE_EQUAL:
        if keyword in new and new[keyword] != old.get(keyword):
            problems.append(f"{path}: {keyword} changed to {new[keyword]!r}")
    if new.get("uniqueItems") and not old.get("uniqueItems"):
        problems.append(f"{path}: items must now be unique")
    if "items" in new:
        problems += _subset(old.get("items", {}), new["items"], f"{path}[]")
    if any(k in new or k in old for k in _OBJECT):
        problems += _object(old, new, path)
    for keyword in sorted(set(new) - _HANDLED):
        if new[keyword] != old.get(keyword):
            problems.append(f"{path}: unsupported change of {keyword}; cannot prove it compatible")
    return problems


def _types_and_values(old: Schema, new: Schema, path: str) -> list[str]:
    problems = []
    new_types, old_types = _types(new), _types(old)
    if new_types is not None:
        if old_types is None:
            problems.append(f"{path}: now restricted to {'/'.join(sorted(new_types))}")
        else:
            lost = {t for t in old_types if t not in new_types}
            lost -= {"integer"} if "number" in new_types else set()
            if lost:
                problems.append(
                    f"{path}: type {'/'.join(sorted(lost))} is no longer accepted "
                    f"(now {'/'.join(sorted(new_types))})"
                )
    allowed = _values(new)
    if allowed is not None:
        before = _values(old)
        if before is None:
            problems.append(f"{path}: now restricted to the values {allowed}")
        elif removed := [v for v in before if v not in allowed]:
            problems.append(f"{path}: value(s) {removed} removed")
    return problems


def _object(old: Schema, new: Schema, path: str) -> list[str]:
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_extra, new_extra = old.get("additionalProperties", {}), new.get("additionalProperties", {})
    old_required = set(old.get("required", []))
    for name in sorted(set(new.get("required", [])) - old_required):
        what = "was optional and is now required" if name in old_props else "new required field"
        problems.append(f"{path}.{name}: {what}")
    for name, schema in old_props.items():
        if name in new_props:
            problems += _subset(schema, new_props[name], f"{path}.{name}")
        elif new_extra is False:
            problems.append(f"{path}.{name}: field removed")
        else:
            problems += _subset(schema, new_extra, f"{path}.{name}")
    if old_extra is not False:
        # Old data may carry any other name with any value old allowed for extras.
        for name in sorted(set(new_props) - set(old_props)):
            problems += _subset(old_extra, new_props[name], f"{path}.{name}")
        if new_extra is False:
            problems.append(f"{path}: fields not named in the schema are no longer accepted")
        else:
            problems += _subset(old_extra, new_extra, f"{path}.*")
    return problems


def _types(schema: Schema) -> set[str] | None:
    if "type" in schema:
        declared = schema["type"]
        return {declared} if isinstance(declared, str) else set(declared)
    values = _values(schema)
    return None if values is None else {_json_type(v) for v in values}


def _values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return schema.get("enum")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def _describe(schema: Schema) -> str:
    types = _types(schema)
    return "/".join(sorted(types)) if types else "a value"
