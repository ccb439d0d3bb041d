"""YAML text for JSON-shaped data (dicts, lists, strings, numbers, booleans, null).

Enough to write asyncapi.yaml readably without making YAML a dependency of the contracts package,
which every service and integrator installs: strings that could be read as anything else are
written double-quoted, which YAML reads with JSON's escapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_$/][A-Za-z0-9_.$/+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_BLOCK_SAFE = re.compile(r"^[^\s][^\t\r\x00-\x08\x0b-\x1f\x7f]*[^\s]\Z", re.DOTALL)


def dump(document: Any) -> str:
    return "\n".join(_lines(document, 0)) + "\n"


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key), indent)}:"
            lines += _nested(head, item, indent)
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if isinstance(item, dict) and item:
                # The first key sits on the dash line; the rest line up under it.
                inner = _lines(item, indent + 2)
                lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
            else:
                lines += _nested(f"{pad}-", item, indent)
        return lines
    return [pad + _scalar(value, indent)]


def _nested(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, dict | list) and item:
        return [head, *_lines(item, indent + 2)]
    return [f"{head} {_scalar(item, indent)}"]


def _scalar(value: Any, indent: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    if "\n" in value and _BLOCK_SAFE.match(value) and "\n " not in value:
        pad = " " * (indent + 2)
        body = "\n".join(pad + line if line else "" for line in value.split("\n"))
        return "|-\n" + body
    return json.dumps(value, ensure_ascii=False)
