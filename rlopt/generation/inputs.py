"""Where placements (character limits) and segment descriptions come from for generate / tune.

Placements: ``--placements F`` > ``placements.json`` next to the data file > ``market.toml`` next to
it > the default market config. Segment descriptions: a tuned generator's ``segments.json`` (so
prompts match the ones it was tuned on) > ``market.toml`` next to the data > the default market
config > the bare segment name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rlopt.data import read_placements
from rlopt.data.schema import Placement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _default_market() -> Path | None:
    try:
        from rlopt.market import DEFAULT_MARKET
    except ImportError:  # pragma: no cover - market is part of rlopt
        return None
    return Path(DEFAULT_MARKET)


def find_placements(explicit: str | Path | None, near: str | Path | None) -> tuple[dict[str, Placement], str]:
    """Placements and the file they came from (see module docstring for the order)."""
    if explicit:
        return read_placements(explicit), str(explicit)
    candidates = []
    if near is not None:
        folder = Path(near).parent
        candidates += [folder / "placements.json", folder / "placements.toml", folder / "market.toml"]
    default = _default_market()
    if default is not None:
        candidates.append(default)
    for path in candidates:
        if path.is_file():
            return read_placements(path), str(path)
    from rlopt.errors import InputError

    raise InputError("no placements found: pass --placements F (TOML/JSON name -> {max_chars, slots, "
                     "examination})", column="placements")


def _segments_from_toml(path: Path) -> dict[str, str]:
    from rlopt.data.io import read_text_file  # non-UTF-8 -> InputError naming the file and byte offset

    raw = tomllib.loads(read_text_file(path))
    segs = raw.get("segments", {})
    return {name: str(body.get("description", name)) for name, body in segs.items() if isinstance(body, dict)}


def find_segments(near: str | Path | None = None, generator: str | None = None) -> dict[str, str]:
    """Segment name -> plain-English description (empty dict when nothing is known)."""
    if generator and (Path(generator) / "segments.json").is_file():
        from rlopt.data.io import read_text_file

        return json.loads(read_text_file(Path(generator) / "segments.json"))
    candidates = [Path(near).parent / "market.toml"] if near is not None else []
    default = _default_market()
    if default is not None:
        candidates.append(default)
    for path in candidates:
        if path.is_file():
            segs = _segments_from_toml(path)
            if segs:
                return segs
    return {}
