"""The compact fused LM head on the CPU: same log-probs and gradients, fewer projected rows."""

from __future__ import annotations

import pytest
import torch
import trl.trainer.utils as trl_utils

from rlopt.tuning.lm_head import compact_lm_head, compact_lm_head_available


@pytest.fixture()
def fused_model(tiny_causal_lm_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_causal_lm_dir), dtype=torch.float32)
    trl_utils.add_fused_lm_head(model)
    return model


def _batch(vocab: int, prompt_len: int = 12, completion_len: int = 4, rows: int = 3):
    """Token ids and labels scored on the completion only (-100 on the prompt), as TRL's trainers pass."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (rows, prompt_len + completion_len), generator=gen)
    labels = ids.clone()
    labels[:, :prompt_len] = -100
    return ids, labels


def _log_probs_and_grad(model, ids, labels):
    model.zero_grad()
    out = model(input_ids=ids, labels=labels, fused_lm_head=True)
    out.log_probs.sum().backward()
    grad = next(p.grad for n, p in model.named_parameters() if "q_proj" in n).clone()
    return out.log_probs.detach(), grad


def _rows_projected(model, ids, labels, monkeypatch) -> int:
    seen = []
    real_apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        seen.append(hidden.shape[0])
        return real_apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    with torch.no_grad():
        model(input_ids=ids, labels=labels, fused_lm_head=True)
    monkeypatch.undo()
    return seen[0]


def test_installed_trl_has_the_switch():
    # Fails on a TRL release that drops the switch: the tuning steps would silently be ~1.35-1.8x slower.
    assert compact_lm_head_available()


def test_same_log_probs_and_gradients(fused_model):
    ids, labels = _batch(fused_model.config.vocab_size)
    plain = _log_probs_and_grad(fused_model, ids, labels)
    with compact_lm_head() as active:
        assert active
        compact = _log_probs_and_grad(fused_model, ids, labels)
    torch.testing.assert_close(compact[0], plain[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(compact[1], plain[1], rtol=1e-4, atol=1e-6)
    assert (plain[0][:, :11] == 0).all() and (plain[0][:, 11:] != 0).all()  # shifted: prompt positions zero


def test_projects_only_labelled_rows(fused_model, monkeypatch):
    ids, labels = _batch(fused_model.config.vocab_size)
    assert _rows_projected(fused_model, ids, labels, monkeypatch) == 3 * 15  # TRL's CPU path: every position
    with compact_lm_head():
        assert _rows_projected(fused_model, ids, labels, monkeypatch) == 3 * 4  # the completion's positions


def test_switch_restored_on_exit_and_error():
    original = trl_utils._use_triton
    with pytest.raises(RuntimeError), compact_lm_head():
        assert trl_utils._use_triton is not original
        raise RuntimeError("interrupted")
    assert trl_utils._use_triton is original
    with compact_lm_head(enabled=False) as active:
        assert not active and trl_utils._use_triton is original
