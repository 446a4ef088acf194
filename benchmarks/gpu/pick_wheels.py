"""Which carried wheels to install on this machine: the lines of ``wheels.txt`` whose rule says so.

Standard library only: it runs on the GPU machine before anything is installed. Prints one wheel
path per line on stdout (what ``run.sh`` passes to ``pip install --no-index``) and one line per
decision on stderr. A wheel that is needed but not in the wheel folder is an error (exit 2)
naming the file and the script that downloads it.

Usage: ``python3 benchmarks/gpu/pick_wheels.py benchmarks/gpu/wheels.txt .whl``
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

RULES = ("always", "if-older", "if-missing")


@dataclass(frozen=True)
class Wheel:
    """One line of ``wheels.txt``: ``NAME==VERSION MODULE RULE``."""

    name: str
    version: str
    module: str
    rule: str


def normalize(name: str) -> str:
    """A distribution name as wheel file names spell it (PEP 427: runs of ``-_.`` become ``_``, lower case).

    >>> normalize("Charset-Normalizer")
    'charset_normalizer'
    """
    return re.sub(r"[-_.]+", "_", name).lower()


def release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version, for ordering (``"2026.10.19.post1"`` -> (2026, 10, 19)).

    >>> release("0.70.19") < release("0.70.20"), release("1.16.0rc1")
    (True, (1, 16, 0))
    """
    match = re.match(r"\d+(\.\d+)*", version.strip())
    return tuple(int(x) for x in match.group(0).split(".")) if match else ()


def read_manifest(path: Path) -> list[Wheel]:
    """Parse ``wheels.txt`` (``#`` comments, blank lines); a malformed line exits 2 naming it."""
    out = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        spec = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", parts[0])
        if len(parts) != 3 or spec is None or parts[2] not in RULES:
            fail(f"{path}, line {number}: expected 'NAME==VERSION MODULE RULE' with RULE one of "
                 f"{', '.join(RULES)}; got {raw.strip()!r}")
        out.append(Wheel(spec.group(1), spec.group(2), parts[1], parts[2]))
    return out


def installed_version(wheel: Wheel) -> str | None:
    """The version installed here, or None when the module cannot be imported from this interpreter."""
    try:
        if importlib.util.find_spec(wheel.module) is None:
            return None
    except (ImportError, ValueError):
        return None
    try:
        return importlib.metadata.version(wheel.name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"  # importable, but with no metadata: treat as present


def needed(wheel: Wheel, have: str | None) -> tuple[bool, str]:
    """Whether to install ``wheel`` given the installed version ``have``, and why.

    >>> needed(Wheel("peft", "0.21.2", "peft", "if-older"), "0.18.0")
    (True, 'installed 0.18.0 is older')
    >>> needed(Wheel("peft", "0.21.2", "peft", "if-older"), "0.22.0")
    (False, 'installed 0.22.0 is not older')
    """
    if wheel.rule == "always":
        return True, "always"
    if have is None:
        return True, "missing"
    if wheel.rule == "if-older" and have != "unknown" and release(have) < release(wheel.version):
        return True, f"installed {have} is older"
    return False, f"installed {have}" + (" is not older" if wheel.rule == "if-older" else "")


def wheel_file(folder: Path, wheel: Wheel) -> Path | None:
    """The wheel of ``wheel`` in ``folder`` (file names are ``<name>-<version>-<tags>.whl``)."""
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.glob("*.whl")
                   if p.name.count("-") >= 2 and normalize(p.name.split("-")[0]) == normalize(wheel.name)
                   and p.name.split("-")[1] == wheel.version)
    return found[0] if found else None


def pick(manifest: Path, folder: Path) -> list[Path]:
    """The wheel files to install, in manifest order; reasons go to stderr."""
    out = []
    missing = []
    for wheel in read_manifest(manifest):
        install, why = needed(wheel, installed_version(wheel))
        print(f"pick_wheels: {'install' if install else 'keep   '} {wheel.name}=={wheel.version} ({why})",
              file=sys.stderr)
        if not install:
            continue
        path = wheel_file(folder, wheel)
        if path is None:
            missing.append(f"{normalize(wheel.name)}-{wheel.version}-*.whl")
        else:
            out.append(path)
    if missing:
        fail(f"{folder}: no wheel for {', '.join(missing)}; download them on a machine with a package index "
             "with scripts/fetch_gpu_wheels.sh and carry the folder along")
    return out


def fail(message: str) -> None:
    print(f"pick_wheels: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        fail("usage: pick_wheels.py WHEELS_TXT WHEEL_FOLDER")
    for path in pick(Path(args[0]), Path(args[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
