"""One import-boundary scanner for the tests that keep the simulator's truth out of training code.

A module "uses" a name when it imports it (``import a.b``, ``from a import b`` gives ``a`` and
``a.b``) or names it in a string without spaces (``importlib.import_module("a.b")``). The scan
parses each file with :mod:`ast`, so prose in docstrings and comments does not count, and it
fails when a folder holds too few files: a moved or renamed folder must not pass with nothing read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def used_names(path: Path) -> set[str]:
    """Every module name ``path`` imports or names in a space-free string."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and " " not in node.value:
            names.add(node.value)  # importlib.import_module("rlopt.market.oracle") and friends
    return names


def forbidden_uses(path: Path, forbidden: Iterable[str]) -> set[str]:
    """The names ``path`` uses that are in ``forbidden`` or below one of them."""
    forbidden = tuple(forbidden)
    return {n for n in used_names(path) if any(n == f or n.startswith(f + ".") for f in forbidden)}


def boundary_violations(folders: Iterable[str], forbidden: Iterable[str], *, allowed: Mapping[str, str] | Iterable[str] = (),
                        root: Path = ROOT, min_files: int = 1) -> list[str]:
    """``"<file> imports <names>"`` for every file under ``folders`` that uses a ``forbidden`` name.

    Parameters
    ----------
    folders : folders relative to ``root``, scanned recursively for ``*.py``.
    forbidden : module names (a name also forbids everything below it).
    allowed : files (paths relative to ``root``, POSIX) exempt from the scan.
    min_files : each folder must hold at least this many Python files, else ``AssertionError``.
    """
    forbidden = tuple(forbidden)
    allowed = set(allowed)
    bad = []
    for folder in folders:
        paths = sorted((root / folder).rglob("*.py"))
        assert len(paths) >= min_files, f"{folder}: {len(paths)} Python files read, expected >= {min_files}"
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if rel in allowed:
                continue
            hits = forbidden_uses(path, forbidden)
            if hits:
                bad.append(f"{rel} imports {', '.join(sorted(hits))}")
    return bad


def local_closure(path: Path, package: str = "experiments", root: Path = ROOT) -> list[Path]:
    """``path`` and every module of ``package`` (a folder under ``root``) it imports, directly or
    through another one: the files a standalone script really runs."""
    seen: dict[Path, None] = {}
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen[current] = None
        for name in sorted(used_names(current)):
            if name == package or name.startswith(package + "."):
                module = root.joinpath(*name.split("."))
                todo += [f for f in (module.with_suffix(".py"), module / "__init__.py") if f.is_file()]
    return list(seen)


def script_violations(path: Path, forbidden: Iterable[str], *, must_use: Iterable[str], package: str = "experiments",
                      root: Path = ROOT) -> list[str]:
    """:func:`boundary_violations` for one standalone script and the ``package`` modules it imports.

    ``must_use`` names modules ``path`` is known to import: the scan asserts it found them, so a file
    that moved, was emptied or is no longer what the test was written for fails instead of passing
    with nothing read.
    """
    missing = set(must_use) - used_names(path)
    assert not missing, f"{path}: the scan found no use of {sorted(missing)}; is it still the file this test checks?"
    bad = []
    for file in local_closure(path, package, root):
        hits = forbidden_uses(file, forbidden)
        if hits:
            bad.append(f"{file.relative_to(root).as_posix()} imports {', '.join(sorted(hits))}")
    return bad
