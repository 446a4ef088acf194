"""The stage cache: fingerprints, the ``stage.json`` marker and the atomic stage directory.

A stage writes its outputs into ``<run>/<stage>.tmp/``; when it returns, the directory is renamed
to ``<run>/<stage>/`` and ``stage.json`` is written into it **last**. So a ``stage.json`` whose
fingerprint matches means "these outputs are complete and were made from these inputs"; anything
else (no marker: a crash mid-stage; another fingerprint: changed inputs) means "redo".

The fingerprint is ``sha256`` of a canonical JSON of
``{stage, code version, code digest, library versions, config sections, input-file digests,
upstream fingerprints, seed}``, so changing one stage's config changes its fingerprint and, through
the chain of upstream fingerprints, every downstream stage's, and nothing else. The code a stage
runs is more than its own function (``reward_models/train.py``, the tuning presets, ...), so the
key holds :func:`source_digest` -- one hash of every ``.py`` file of the installed ``rlopt``,
``reward_models`` and ``envs`` packages -- and :func:`library_versions` (rlopt, torch,
transformers, trl, peft): any edit to the code or an upgrade redoes the stages instead of serving
outputs an older code made.

Directories are replaced only through :func:`rlopt.pipeline.rundir.remove_owned_dir`, which
refuses a folder rlopt did not make.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rlopt.io_utils import json_default, write_json_atomic
from rlopt.pipeline.rundir import ATTEMPT_MARKER, STAGE_MARKER, remove_owned_dir

MARKER = STAGE_MARKER
SOURCE_PACKAGES = ("rlopt", "reward_models", "envs")
"""Packages whose source enters every fingerprint (:func:`source_digest`)."""
LIBRARIES = ("rlopt", "torch", "transformers", "trl", "peft")
"""Distributions whose versions enter every fingerprint (:func:`library_versions`)."""
_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def canonical_json(obj: Any) -> str:
    """Stable JSON text (sorted keys, no whitespace) used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default)


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


def tree_digest(roots: Iterable[str | os.PathLike[str]]) -> str:
    """sha256 over every ``*.py`` file under ``roots``: each root's name, then per file its relative
    path and bytes, in sorted order (so the digest does not depend on directory listing order).

    >>> tree_digest([]) == hashlib.sha256().hexdigest()
    True
    """
    h = hashlib.sha256()
    for root in roots:
        root = Path(root)
        h.update(f"root:{root.name}\n".encode())
        for path in sorted(root.rglob("*.py")):
            h.update(f"{path.relative_to(root).as_posix()}\n".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def package_roots(packages: Iterable[str] = SOURCE_PACKAGES) -> list[Path]:
    """The directories of the installed ``packages`` (those that are importable)."""
    roots = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots.extend(Path(p) for p in spec.submodule_search_locations)
    return roots


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """:func:`tree_digest` of the installed rlopt, reward_models and envs packages, once per process."""
    return tree_digest(package_roots())


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (None for one that is not installed)."""
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def fingerprint(payload: dict[str, Any]) -> str:
    """sha256 hex digest of ``payload`` as canonical JSON."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def read_marker(stage_dir: Path, name: str = MARKER) -> dict[str, Any] | None:
    """The stage's ``stage.json`` (or another marker ``name``) if present and readable, else None."""
    marker = stage_dir / name
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def fresh_tmp_dir(run_dir: Path, name: str, attempt: dict[str, Any]) -> Path:
    """An empty ``<run>/<name>.tmp/`` holding only ``.attempt.json`` = ``attempt``.

    A crashed attempt's leftovers are removed (only if rlopt made them: see
    :func:`~rlopt.pipeline.rundir.remove_owned_dir`); the attempt marker is the first file written,
    so every ``.tmp`` rlopt leaves behind is recognisably its own.
    """
    tmp = run_dir / f"{name}.tmp"
    remove_owned_dir(tmp)
    tmp.mkdir(parents=True)
    write_json_atomic(tmp / ATTEMPT_MARKER, attempt)
    return tmp


def commit_stage(run_dir: Path, name: str, tmp: Path, marker: dict[str, Any]) -> Path:
    """Move ``tmp`` to ``<run>/<name>/``, write ``stage.json`` into it, then drop ``.attempt.json``.

    The old directory is removed first (its ``stage.json`` before the rest), so a crash anywhere
    in here leaves a stage without a valid ``stage.json`` -- which the next run redoes -- but
    still carrying a marker that says rlopt made it.
    """
    final = run_dir / name
    remove_owned_dir(final)
    os.replace(tmp, final)
    write_json_atomic(final / MARKER, marker)
    (final / ATTEMPT_MARKER).unlink(missing_ok=True)
    return final
