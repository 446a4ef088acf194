"""The stage cache: fingerprints, the ``stage.json`` marker and the atomic stage directory.

A stage writes its outputs into ``<run>/<stage>.tmp/``; when it returns, the directory is renamed
to ``<run>/<stage>/`` and ``stage.json`` is written into it **last**. So a ``stage.json`` whose
fingerprint matches means "these outputs are complete and were made from these inputs"; anything
else (no marker: a crash mid-stage; another fingerprint: changed inputs) means "redo".

The fingerprint is ``sha256`` of a canonical JSON of
``{stage, code version, config sections, input-file digests, upstream fingerprints, seed}``,
so changing one stage's config changes its fingerprint and, through the chain of upstream
fingerprints, every downstream stage's, and nothing else.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from pathlib import Path
from typing import Any

from rlopt.io_utils import _json_default, write_json_atomic

MARKER = "stage.json"
_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def canonical_json(obj: Any) -> str:
    """Stable JSON text (sorted keys, no whitespace) used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, or of a directory's files (relative names + bytes), memoized.

    Memoized on (path, size, mtime) so a run hashes each external input once.
    """
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(child.relative_to(path)).encode())
            h.update(file_digest(child).encode())
        return h.hexdigest()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGEST_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGEST_CACHE[key] = h.hexdigest()
    return _DIGEST_CACHE[key]


def code_version(fn: Any, version: int | str = 1) -> str:
    """A short digest of a stage function's source and its declared ``version``.

    Editing the stage function (or bumping ``version`` when a library it calls changes
    behaviour) invalidates that stage's cache and, through fingerprints, everything downstream.
    """
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):  # builtins, lambdas defined in a REPL
        source = getattr(fn, "__qualname__", repr(fn))
    return hashlib.sha256(f"{version}\n{source}".encode()).hexdigest()[:16]


def fingerprint(payload: dict[str, Any]) -> str:
    """sha256 hex digest of ``payload`` as canonical JSON."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def read_marker(stage_dir: Path, name: str = MARKER) -> dict[str, Any] | None:
    """The stage's ``stage.json`` (or another marker ``name``) if present and readable, else None."""
    marker = stage_dir / name
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def fresh_tmp_dir(run_dir: Path, name: str) -> Path:
    """An empty ``<run>/<name>.tmp/`` (a crashed attempt's leftovers are removed)."""
    tmp = run_dir / f"{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit_stage(run_dir: Path, name: str, tmp: Path, marker: dict[str, Any]) -> Path:
    """Move ``tmp`` to ``<run>/<name>/`` and write ``stage.json`` into it, last.

    The old directory's marker is removed first, so a crash anywhere in here leaves a stage
    without a marker, which the next run redoes.
    """
    final = run_dir / name
    if final.exists():
        (final / MARKER).unlink(missing_ok=True)
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_json_atomic(final / MARKER, marker)
    return final
