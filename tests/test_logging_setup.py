"""Quiet mode silences the plain tqdm bars that no library switch reaches (GGUF dequantizing), and only then."""

from __future__ import annotations

import io
import sys
import types

from tqdm import tqdm

from rlopt import logging_setup
from rlopt.logging_setup import no_raw_tqdm


def test_raw_tqdm_bars_hidden_only_in_quiet_mode(monkeypatch):
    lib = types.ModuleType("fake_lib_with_bars")
    lib.tqdm = tqdm
    monkeypatch.setitem(sys.modules, "fake_lib_with_bars", lib)

    def loop() -> str:
        out = io.StringIO()
        for _ in lib.tqdm(range(3), file=out, desc="converting tensors"):
            pass
        return out.getvalue()

    monkeypatch.setitem(logging_setup._state, "quiet", True)
    with no_raw_tqdm("fake_lib_with_bars"):
        assert loop() == ""
    assert lib.tqdm is tqdm and "converting tensors" in loop()  # restored after the block
    monkeypatch.setitem(logging_setup._state, "quiet", False)
    with no_raw_tqdm("fake_lib_with_bars"):
        assert "converting tensors" in loop()  # verbose (or library use): left alone
