"""A minimal TOML writer for market configs (nested tables of scalars and lists of scalars).

The standard library reads TOML (``tomllib``) but does not write it; a market config only needs
tables, strings, numbers, booleans and flat lists, so a few lines do.

>>> print(dumps({"market": {"name": "x", "seed": 1}, "a": {"b c": {"v": [1.5, 2.0]}}}), end="")
[market]
name = "x"
seed = 1
<BLANKLINE>
[a."b c"]
v = [1.5, 2.0]
"""

from __future__ import annotations

import json
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps(data: dict[str, Any]) -> str:
    """Serialize nested dicts to TOML text: scalars first, then one ``[a.b]`` table per sub-dict."""
    lines: list[str] = []

    def table(obj: dict[str, Any], path: list[str]) -> None:
        scalars = [(k, v) for k, v in obj.items() if not isinstance(v, dict)]
        subtables = [(k, v) for k, v in obj.items() if isinstance(v, dict)]
        if path and (scalars or not subtables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for key, value in scalars:
            lines.append(f"{_key(key)} = {_value(value)}")
        for key, value in subtables:
            table(value, [*path, key])

    table(data, [])
    return "\n".join(lines) + "\n"
