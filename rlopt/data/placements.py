"""Read and write placement definitions (TOML or JSON): ``name -> {max_chars, slots, examination}``.

A placement named ``default`` is a fallback: logs and contexts may then use placement names
that are not listed, and those rows are checked against the ``default`` entry's slots.

The entries may sit at the top level of the file or under a ``placements`` table, so a market
config TOML (``[placements.push]`` ...) works as a placements file too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlopt.data.io import read_text_file
from rlopt.data.schema import Placement
from rlopt.errors import InputError
from rlopt.io_utils import write_json_atomic, write_text_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_PLACEMENT = "default"
_KEYS = ("max_chars", "slots", "examination")


def placement_for(placements: Mapping[str, Any], name: str) -> Any | None:
    """Entry of placement ``name``; the ``default`` entry covers unlisted names; None when neither is there."""
    return placements.get(str(name)) or placements.get(DEFAULT_PLACEMENT)


def read_placements(path: str | os.PathLike[str]) -> dict[str, Placement]:
    """Read placements from a ``.toml`` or ``.json`` file.

    Parameters
    ----------
    path : str or PathLike
        File whose top level (or ``placements`` table) maps each placement name to
        ``{max_chars: int > 0, slots: int > 0, examination: list of `slots` floats in (0, 1]}``.

    Returns
    -------
    dict of str to Placement
        In file order; may include the fallback entry ``"default"``.

    Raises
    ------
    InputError
        Unreadable file, bad TOML/JSON, missing or ill-typed keys (the column names the entry).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("placements file not found", file=str(p), rule="file readable")
    suffix = p.suffix.lower()
    text = read_text_file(p)
    try:
        if suffix == ".toml":
            raw = tomllib.loads(text)
        elif suffix == ".json":
            raw = json.loads(text)
        else:
            raise InputError(f"placements must be a .toml or .json file, not '{suffix or '(none)'}'",
                             file=str(p), rule="file format")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"not valid {suffix[1:].upper()} ({err})", file=str(p), rule="file format") from None
    return placements_from_mapping(raw, file=str(p))


def placements_from_mapping(raw: Any, *, file: str | None = None) -> dict[str, Placement]:
    """Build ``dict[str, Placement]`` from parsed TOML/JSON (see :func:`read_placements`)."""
    if isinstance(raw, Mapping) and isinstance(raw.get("placements"), Mapping):
        raw = raw["placements"]
    if not isinstance(raw, Mapping) or not raw:
        raise InputError("expected a table mapping placement names to {max_chars, slots, examination}",
                         file=file, rule="placements format")
    out: dict[str, Placement] = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise InputError(f"placement '{name}' must be a table with keys {', '.join(_KEYS)}",
                             file=file, column=str(name), rule="placements format")
        missing = [k for k in _KEYS if k not in entry]
        if missing:
            raise InputError(f"placement '{name}' lacks {', '.join(missing)} (has: {', '.join(entry)})",
                             file=file, column=str(name), rule="placements format")
        max_chars, slots, exam = entry["max_chars"], entry["slots"], entry["examination"]
        if not _is_int(max_chars) or not _is_int(slots):
            raise InputError(f"placement '{name}': max_chars and slots must be integers "
                             f"(got {max_chars!r}, {slots!r})", file=file, column=str(name),
                             rule="placements format")
        if not isinstance(exam, list) or not all(_is_number(x) for x in exam):
            raise InputError(f"placement '{name}': examination must be a list of numbers (got {exam!r})",
                             file=file, column=str(name), rule="placements format")
        try:
            out[str(name)] = Placement(str(name), int(max_chars), int(slots), tuple(float(x) for x in exam))
        except ValueError as err:
            raise InputError(str(err), file=file, column=str(name), rule="placements format") from None
    return out


def write_placements(placements: Mapping[str, Placement], path: str | os.PathLike[str]) -> Path:
    """Write placements atomically as JSON (``.json``) or TOML (``.toml``); return the path."""
    p = Path(path)
    body = {name: pl.to_dict() for name, pl in placements.items()}
    if p.suffix.lower() == ".json":
        write_json_atomic(p, body)
    elif p.suffix.lower() == ".toml":
        write_text_atomic(p, _to_toml(body))
    else:
        raise InputError(f"placements must be written as .json or .toml, not '{p.suffix or '(none)'}'",
                         file=str(p), rule="file format")
    return p


def resolve_placements(placements: Mapping[str, Placement] | str | os.PathLike[str] | None
                       ) -> dict[str, Placement] | None:
    """Accept a placements dict, a path to one, or None (no placement checks)."""
    if placements is None:
        return None
    if isinstance(placements, (str, os.PathLike)):
        return read_placements(placements)
    return dict(placements)


def _to_toml(body: Mapping[str, Mapping[str, Any]]) -> str:
    lines = []
    for name, entry in body.items():
        key = name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)
        lines.append(f"[{key}]")
        lines.append(f"max_chars = {entry['max_chars']}")
        lines.append(f"slots = {entry['slots']}")
        lines.append("examination = [" + ", ".join(repr(float(x)) for x in entry["examination"]) + "]")
        lines.append("")
    return "\n".join(lines)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
