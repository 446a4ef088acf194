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


def _counting_rows(model):
    """Wrap ``model.forward`` to count the rows of every forward pass (the decoding work done)."""
    import functools

    rows = []
    forward = model.forward

    @functools.wraps(forward)  # keeps the signature that decode reads the cache keyword from
    def counted(*args, **kwargs):
        rows.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    model.forward = counted
    return rows


def test_line_break_tokens_are_exactly_those_with_a_newline(tiny_causal_lm_dir):
    from rlopt.generation.decode import line_break_token_ids

    _, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    breaks = set(line_break_token_ids(tok))
    assert tok.convert_tokens_to_ids("Ċ") in breaks
    assert all(("\n" in tok.decode([i])) == (i in breaks) for i in range(len(tok)))


@pytest.mark.parametrize("share_prefix", [True, False])
def test_greedy_decoding_matches_transformers_generate(tiny_causal_lm_dir, share_prefix):
    """top_k=1 makes sampling greedy: the cache, positions, left padding and the shared prompt
    prefix must agree with generate token for token."""
    import torch

    from rlopt.generation.decode import common_prefix_length, left_pad, sample_tokens

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model.eval()
    head = "You write short honest marketing copy for an online shop. Reply with the copy only. "
    texts = [head + "Write a banner for runners who like trails", head + "Hi", head + "A push for tea"]
    prompts = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert common_prefix_length(prompts) >= 8  # the shared-prefix path is the one exercised
    ids, mask = left_pad(prompts, tok.pad_token_id)
    with torch.no_grad():
        ours = sample_tokens(model, prompts, tok.pad_token_id, num=2, max_new_tokens=6, top_k=1,
                             share_prefix=share_prefix)
        ref = model.generate(input_ids=ids.repeat_interleave(2, dim=0), attention_mask=mask.repeat_interleave(2, dim=0),
                             do_sample=False, max_new_tokens=6, min_new_tokens=6, pad_token_id=tok.pad_token_id)
    assert ours == ref[:, ids.shape[1]:].tolist()


def test_prefill_with_a_shared_prefix_gives_each_prompts_own_next_token_logits(tiny_causal_lm_dir):
    import torch

    from rlopt.generation.decode import prefill

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model.eval()
    head = "You write short honest marketing copy for an online shop. Reply with the copy only. "
    prompts = [tok(head + t, add_special_tokens=False)["input_ids"] for t in ("Write a banner for trails", "Hi")]
    with torch.no_grad():
        alone = torch.cat([model(input_ids=torch.tensor([q])).logits[:, -1] for q in prompts])  # unpadded, one by one
        for min_shared in (8, 10**9):  # shared prefix, and plain left padding
            _, logits, mask, last = prefill(model, prompts, tok.pad_token_id, min_shared=min_shared)
            assert torch.allclose(logits, alone, atol=1e-4)
            assert last.tolist() == [len(q) - 1 for q in prompts] and mask.sum(1).tolist() == [len(q) for q in prompts]


def test_a_kept_prompt_cache_samples_chosen_prompts_again_as_fresh_encoding_would(tiny_causal_lm_dir):
    """PromptCache(keep=True): the encoded prompts survive a sampling; sampling a subset of them again
    gives the tokens that encoding only that subset gives (greedy: no draw to differ), and the same
    seed gives the same samples however often the kept cache is used."""
    import torch

    from rlopt.generation.decode import PromptCache, sample_tokens

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model.eval()
    head = "You write short honest marketing copy for an online shop. Reply with the copy only. "
    prompts = [tok(head + t, add_special_tokens=False)["input_ids"]
               for t in ("Write a banner for runners who like trails", "Hi", "A push for tea")]
    with torch.no_grad():
        cache = PromptCache(model, prompts, tok.pad_token_id)
        first = cache.sample(num=2, max_new_tokens=6, top_k=1, keep=True)
        again = cache.sample([2, 0], max_new_tokens=6, top_k=1, keep=True)
        fresh = sample_tokens(model, [prompts[2], prompts[0]], tok.pad_token_id, max_new_tokens=6, top_k=1)
        assert again == fresh == [first[4], first[0]]
        draws = []
        for _ in range(2):
            torch.manual_seed(11)
            draws.append(cache.sample([1, 2], num=2, max_new_tokens=8, temperature=0.9, keep=True))
        assert draws[0] == draws[1]
        torch.manual_seed(11)
        assert cache.sample([1, 2], num=2, max_new_tokens=8, temperature=0.9) == draws[0]  # the last use
    assert cache.cache is None


def test_sampling_follows_top_k_top_p_and_the_uniform_draw():
    import torch

    from rlopt.generation.decode import filter_and_sample

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    draw = lambda u, **kw: filter_and_sample(logits, torch.tensor([u]), **kw).item()  # noqa: E731
    assert [draw(u, top_k=0) for u in (0.1, 0.6, 0.9, 0.99)] == [0, 1, 2, 3]  # inverse CDF
    assert draw(0.99, top_k=2) == 1  # only the 2 most likely remain
    assert draw(0.99, top_k=0, top_p=0.7) == 1  # nucleus {0, 1}: 0.5 + 0.3 >= 0.7
    assert draw(0.99, top_k=0, top_p=0.5) == 0


def test_dropping_finished_rows_changes_no_token(tiny_causal_lm_dir):
    import torch

    from rlopt.generation.decode import first_line_complete, line_break_token_ids, sample_tokens

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model = _newline_prone(model, tok, bias=3.0).eval()
    rows = _counting_rows(model)
    prompts = [tok(t, add_special_tokens=False)["input_ids"] for t in ("Write a banner", "Hi", "A push for tea")]
    kw = dict(num=2, max_new_tokens=24, temperature=0.8, top_p=0.95, stop_ids=[tok.eos_token_id],
              row_done=lambda t: first_line_complete(tok.decode(t)), check_ids=line_break_token_ids(tok))
    out = {}
    for drop in (True, False):
        torch.manual_seed(5)
        rows.clear()
        with torch.no_grad():
            out[drop] = (sample_tokens(model, prompts, tok.pad_token_id, drop_finished=drop, **kw),
                         sum(rows))
    assert out[True][0] == out[False][0]
    assert any(len(t) < 24 for t in out[True][0])  # some rows did finish early ...
    assert out[True][1] < out[False][1]  # ... and were not computed after that


def test_stopping_at_the_first_line_keeps_the_same_copies(tiny_causal_lm_dir):
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    model = _newline_prone(model, tok, bias=3.0)
    rows = _counting_rows(model)
    kw = dict(num=3, seed=3, batch_size=2, compliance=False)
    stop = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, stop_at_first_line=True, **kw)
    n_stop, rows[:] = sum(rows), []
    full = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, stop_at_first_line=False, **kw)
    assert stop["raw_copy_text"].tolist() == full["raw_copy_text"].tolist()
    assert (stop["raw_copy_text"].str.len() > 0).all()
    assert n_stop < sum(rows)


def test_transformers_decoder_still_works_and_unknown_decoder_is_an_error(tiny_causal_lm_dir):
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    out = generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0, decoder="transformers")
    assert len(out) == 6 and (out["copy_text"].str.len() > 0).all()
    with pytest.raises(ValueError, match="unknown decoder"):
        generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, decoder="vllm")


def _write_adapter(base_model, base_spec: str, out, seed: int):
    """A LoRA adapter with random (non-zero) weights on ``base_model``, recorded as tuned from ``base_spec``."""
    import json

    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    peft_model = get_peft_model(base_model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                       init_lora_weights=False))
    peft_model.save_pretrained(out)
    (out / "tuning.json").write_text(json.dumps({"generator": base_spec}))
    return peft_model.merge_and_unload()


def test_a_tuned_generator_tuned_again_resolves_through_the_chain(tiny_causal_lm_dir, tmp_path):
    """GRPO on a DPO-tuned generator writes an adapter whose base is an adapter: both are merged in order."""
    import torch

    base, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    first, second = tmp_path / "dpo", tmp_path / "grpo"
    merged_first = _write_adapter(base, str(tiny_causal_lm_dir), first, seed=1)
    expected = _write_adapter(merged_first, str(first), second, seed=2).eval()
    model, _ = resolve_generator(str(second), device="cpu")
    ids = tok(["Fresh shoes for the weekend"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        plain = resolve_generator(str(tiny_causal_lm_dir), device="cpu")[0](input_ids=ids).logits
        got, want = model(input_ids=ids).logits, expected(input_ids=ids).logits
    assert torch.allclose(got, want, atol=1e-5) and not torch.allclose(got, plain, atol=1e-3)


def test_a_cycle_of_tuned_directories_is_an_error(tiny_causal_lm_dir, tmp_path):
    import json

    base, _ = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    loop = tmp_path / "loop"
    _write_adapter(base, str(tiny_causal_lm_dir), loop, seed=1)
    (loop / "tuning.json").write_text(json.dumps({"generator": str(loop)}))  # names itself as its base
    with pytest.raises(InputError, match="stacked|cycle"):
        resolve_generator(str(loop), device="cpu")
