"""Generator resolution errors, and seeded batched sampling on a tiny random Llama."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.generation.models import resolve_generator
from rlopt.generation.sample import generate_copies
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

CONTEXTS = pd.DataFrame([
    {"item_id": "i1", "segment": "bargain", "placement": "push"},
    {"item_id": "i2", "segment": "premium", "placement": "home_banner"},
    {"item_id": "i1", "segment": "premium", "placement": "home_banner"},
])


def test_directory_without_weights_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="no weights"):
        resolve_generator(str(tmp_path))


def test_directory_without_config_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        resolve_generator(str(tmp_path))


def test_adapter_without_weights_is_an_error(tmp_path):
    (tmp_path / "adapter_config.json").write_text('{"base_model_name_or_path": "x"}')
    with pytest.raises(InputError, match="no adapter weights"):
        resolve_generator(str(tmp_path))


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        resolve_generator(str(tmp_path / "nothing"))


def test_generate_is_seeded_and_fits_limits(tiny_causal_lm_dir):
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    assert tok.padding_side == "left"
    a = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=3, seed=7, batch_size=2)
    b = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=3, seed=7, batch_size=2)
    c = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=3, seed=8, batch_size=2)
    assert len(a) == 9 and list(a["sample_idx"]) == [0, 1, 2] * 3
    assert a["copy_text"].tolist() == b["copy_text"].tolist()
    assert a["copy_text"].tolist() != c["copy_text"].tolist()
    limits = a["placement"].map(lambda p: PLACEMENTS[p].max_chars)
    assert (a["copy_text"].str.len() <= limits).all()
    assert (a["copy_text"].str.len() > 0).all()
    assert a[["item_id", "segment", "placement"]].iloc[::3].reset_index(drop=True).equals(CONTEXTS)


@pytest.mark.slow
def test_default_generator_loads_offline_and_generates(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, tok = resolve_generator("default", device="cpu")
    out = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0)
    assert len(out) == 6 and (out["copy_text"].str.len() > 0).all()
    assert (out["copy_text"].str.len() <= out["placement"].map(lambda p: PLACEMENTS[p].max_chars)).all()
