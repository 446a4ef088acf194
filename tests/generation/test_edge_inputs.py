"""Edge inputs of generate_copies: temperature 0 is greedy, negative is refused, and an empty sample
replaced by the title is marked ``empty``, not ``ok`` (tiny random Llama)."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.errors import InputError
from rlopt.generation import sample
from rlopt.generation.models import resolve_generator
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

CONTEXTS = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"},
                         {"item_id": "i2", "segment": "premium", "placement": "home_banner"}])


@pytest.fixture(scope="module")
def tiny(tiny_causal_lm_dir):
    return resolve_generator(str(tiny_causal_lm_dir), device="cpu")


@pytest.mark.parametrize("decoder", ["rlopt", "transformers"])
def test_temperature_zero_is_greedy(tiny, decoder):
    model, tok = tiny
    runs = [sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=s,
                                   temperature=0.0, compliance=False, decoder=decoder) for s in (0, 1)]
    raw = runs[0]["raw_copy_text"].tolist()
    assert raw[0] == raw[1] and raw[2] == raw[3]  # both samples of a context: the argmax path
    assert runs[1]["raw_copy_text"].tolist() == raw  # and the seed does not matter


@pytest.mark.parametrize("temperature", [-0.5, float("nan")])
def test_negative_temperature_is_refused(tiny, temperature):
    model, tok = tiny
    with pytest.raises(InputError, match="temperature must be >= 0"):
        sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, temperature=temperature)


def test_empty_sample_replaced_by_title_is_not_ok(tiny, monkeypatch):
    model, tok = tiny
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: "")
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0)
    assert out["compliance_action"].tolist() == ["empty"] * 4
    assert out.attrs["compliance"] == {"empty": 4} and out.attrs["title_fallbacks"] == 4
    titles = dict(zip(CATALOG["item_id"], CATALOG["title"], strict=True))
    assert [titles[i] for i in out["item_id"]] == [t for t in out["copy_text"]]
