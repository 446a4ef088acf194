"""rlopt.io_utils: the one JSON conversion (json_default, json_ready) and strict atomic JSON files."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import numpy as np
import pytest

from rlopt.io_utils import json_default, json_ready, write_json_atomic


def test_json_ready_makes_strict_json():
    obj = {"auc": float("nan"), "ci": (np.float32(0.25), math.inf), "hi": -np.inf, "n": np.int64(7),
           "ok": np.bool_(True), "arr": np.array([[1.0, np.nan]]), "path": Path("a/b"),
           "when": datetime.date(2026, 1, 2), "nested": [{"x": np.float64("inf")}], "s": "text", "none": None}
    got = json_ready(obj)
    assert got == {"auc": None, "ci": [0.25, None], "hi": None, "n": 7, "ok": True, "arr": [[1.0, None]],
                   "path": "a/b", "when": "2026-01-02", "nested": [{"x": None}], "s": "text", "none": None}
    assert type(got["n"]) is int and type(got["ok"]) is bool and type(got["ci"][0]) is float
    json.dumps(got, allow_nan=False)  # strict JSON accepts it


def test_json_ready_keys_are_strings_as_json_writes_them():
    got = json_ready({3: "a", 2.5: "b", None: "c", True: "d", ("x", 1): "e", "k": "f"})
    assert got == {"3": "a", "2.5": "b", "null": "c", "true": "d", "('x', 1)": "e", "k": "f"}
    json.dumps(got, sort_keys=True)  # mixed key types would make sort_keys raise


def test_json_ready_leaves_unknown_objects_for_json_to_name():
    marker = object()
    assert json_ready([marker])[0] is marker
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        json_default(marker)


def test_write_json_atomic_strict_and_lenient(tmp_path):
    obj = {"x": float("nan"), "n": np.int32(3)}
    write_json_atomic(tmp_path / "lenient.json", obj)
    write_json_atomic(tmp_path / "strict.json", obj, strict=True)
    assert "NaN" in (tmp_path / "lenient.json").read_text()
    strict = (tmp_path / "strict.json").read_text()
    assert "NaN" not in strict and json.loads(strict) == {"n": 3, "x": None}
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
