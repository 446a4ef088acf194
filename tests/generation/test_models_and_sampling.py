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


def test_first_line_done_marks_rows_whose_first_content_line_ended(tiny_causal_lm_dir):
    import torch

    from rlopt.generation.sample import FirstLineDone, line_break_token_ids

    _, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    breaks = torch.tensor(line_break_token_ids(tok))
    assert len(breaks) > 0 and all("\n" in tok.decode([i]) for i in breaks.tolist())

    def ids(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    prompt = ids("Write copy:")
    rows = [ids("Fresh shoes today\n"), ids("\n"), ids("Fresh shoes"), ids("\n\nBig sale\n")]
    width = max(map(len, rows))
    pad = tok.pad_token_id
    batch = torch.tensor([prompt + [pad] * (width - len(r)) + r for r in rows])  # last token = row's last
    done = FirstLineDone(tok, len(prompt), breaks)(batch, None)
    assert done.tolist() == [True, False, False, True]  # an empty leading line does not count


def _newline_prone(model, tok, bias: float):
    """The tiny model with a bias on the line-break token, so its random samples do break lines."""
    import torch

    head = model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[tok.convert_tokens_to_ids("Ċ")] = bias
    model.lm_head = biased
    return model


def test_stopping_at_the_first_line_keeps_the_same_copies_and_stops_sooner(tiny_causal_lm_dir):
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model = _newline_prone(model, tok, bias=3.0)
    lengths = []
    generate = model.generate

    def recording(*args, **kwargs):
        out = generate(*args, **kwargs)
        lengths.append(out.shape[1] - kwargs["input_ids"].shape[1])
        return out

    model.generate = recording
    kw = dict(num=3, seed=3, batch_size=1, compliance=False)
    stop = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, stop_at_first_line=True, **kw)
    n_stop, lengths[:] = list(lengths), []
    full = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, stop_at_first_line=False, **kw)
    assert stop["raw_copy_text"].tolist() == full["raw_copy_text"].tolist()
    assert sum(n_stop) < sum(lengths)  # the stop did end some batches early


def test_shared_prompt_cache_gives_the_same_next_token_scores(tiny_causal_lm_dir):
    import torch

    from rlopt.generation.sample import shared_prompt_inputs

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model.eval()
    enc = tok(["Write a banner for runners", "Hi"], return_tensors="pt", padding=True)  # left-padded
    kw = dict(do_sample=False, max_new_tokens=6, output_scores=True, return_dict_in_generate=True,
              pad_token_id=tok.pad_token_id)
    with torch.no_grad():
        plain = model.generate(input_ids=enc["input_ids"].repeat_interleave(3, dim=0),  # = num_return_sequences
                               attention_mask=enc["attention_mask"].repeat_interleave(3, dim=0), **kw)
        shared = model.generate(**shared_prompt_inputs(model, enc, 3), **kw)
    assert shared.sequences.shape == plain.sequences.shape == (6, enc["input_ids"].shape[1] + 6)
    assert torch.equal(shared.sequences, plain.sequences)
    for a, b in zip(shared.scores, plain.scores, strict=True):
        assert torch.allclose(a, b, atol=1e-4)
