"""Small file helpers: atomic writes so a failure never leaves a half-written output, and JSON conversion."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same directory so the final ``os.replace`` is atomic.
    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:  # read-only or full file system: name the output, not a random temp name
        err.filename = str(target)
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            # mkstemp creates 0600; give the output the usual permissions (0666 less the umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(err, OSError) and err.filename in (None, str(tmp_path)):
            err.filename = str(target)  # a failed write() names no file, or our temp name: say which output
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, strict: bool = False) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    NumPy scalars and arrays, paths and dates are converted by :func:`json_default`. With
    ``strict=True`` the file is strict JSON: ``obj`` goes through :func:`json_ready` first (NaN
    and infinities become ``null``); otherwise they are written as ``NaN`` / ``Infinity``, which
    Python's ``json`` reads back.
    """
    if strict:
        obj = json_ready(obj)
    text = json.dumps(obj, indent=2, sort_keys=True, default=json_default, allow_nan=not strict)
    write_text_atomic(path, text + "\n")


def json_default(obj: Any) -> Any:
    """``default=`` hook for :func:`json.dumps`: NumPy scalar -> Python, array -> list, path -> str, date -> ISO.

    >>> import numpy as np
    >>> json.dumps({"n": np.int64(3), "x": np.arange(2), "p": Path("a/b")}, default=json_default)
    '{"n": 3, "x": [0, 1], "p": "a/b"}'
    """
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")



def json_ready(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON can hold (``json.dumps(..., allow_nan=False)`` accepts it).

    Recursively: NaN and infinities (Python or NumPy floats) become ``None``; NumPy integers,
    booleans and arrays become Python ints, bools and lists; tuples become lists; keys become
    strings (numbers and ``None`` as :mod:`json` writes them, anything else as ``str(key)``, so
    ``sort_keys`` never compares mixed types); anything :func:`json_default` knows is converted
    by it; other values are returned as they are.

    >>> import numpy as np
    >>> json_ready({"ci": (np.float32(0.5), float("inf")), "n": np.int64(2), "auc": float("nan")})
    {'ci': [0.5, None], 'n': 2, 'auc': None}
    """
    import numpy as np

    if isinstance(obj, dict):
        return {_json_key(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_ready(v) for v in obj.tolist()]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (bool, int, str)) or obj is None:
        return obj
    try:
        return json_ready(json_default(obj))
    except TypeError:
        return obj  # json.dumps says what it cannot write


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return str(key)
