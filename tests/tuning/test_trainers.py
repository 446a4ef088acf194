"""Two real steps each of DPO, GRPO and RLOO on a tiny random Llama change the LoRA adapter; resume works."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from safetensors.torch import load_file

from rlopt.errors import InputError
from rlopt.tuning.config import make_config
from rlopt.tuning.dpo import train_dpo
from rlopt.tuning.online import train_online
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, length_reward, training_logs


def _lora_b_changed(out_dir) -> bool:
    """LoRA's B matrices start at exactly zero, so any nonzero B means training moved the adapter."""
    weights = load_file(str(out_dir / "adapter_model.safetensors"))
    b = [t for k, t in weights.items() if "lora_B" in k]
    return bool(b) and all(t.abs().sum() > 0 for t in b)


def _check_outputs(out, method, steps):
    meta = json.loads((out / "tuning.json").read_text())
    assert meta["method"] == method and meta["steps"] == steps
    assert (out / "curves.csv").is_file() and (out / "curves.png").stat().st_size > 0
    assert json.loads((out / "segments.json").read_text())["bargain"] == SEGMENTS["bargain"]
    assert _lora_b_changed(out)
    return meta


def test_dpo_two_steps_and_resume(tiny_causal_lm_dir, tmp_path):
    out = tmp_path / "dpo"
    common = dict(generator=str(tiny_causal_lm_dir), min_pairs=2, per_device_train_batch_size=2,
                  save_steps=1, num_train_pairs=8, max_length=128)
    first = train_dpo(training_logs(), CATALOG, PLACEMENTS, make_config("dpo", "quick", max_steps=1, **common),
                      out, SEGMENTS)
    assert first["resumed_from"] is None and (out / "checkpoint-1").is_dir()
    # An interrupted run (here: one that stopped at step 1) picks up from its last checkpoint.
    second = train_dpo(training_logs(), CATALOG, PLACEMENTS, make_config("dpo", "quick", max_steps=2, **common),
                       out, SEGMENTS)
    assert second["resumed_from"].endswith("checkpoint-1")
    meta = _check_outputs(out, "dpo", 2)
    assert meta["data"]["pairs"] == 12 and "loss" in (out / "curves.csv").read_text()
    assert meta["data"]["compact_lm_head"] is True


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_online_two_steps(method, tiny_causal_lm_dir, tmp_path):
    out = tmp_path / method
    cfg = make_config(method, "quick", generator=str(tiny_causal_lm_dir), max_steps=2,
                      per_device_train_batch_size=4, num_generations=2, save_steps=1, max_completion_length=8)
    summary = train_online(method, training_logs(), CATALOG, PLACEMENTS, cfg, out, length_reward, SEGMENTS)
    meta = _check_outputs(out, method, 2)
    assert meta["data"]["rewards"] == ["rlopt_reward", "discount_honesty", "claim_support", "length_limit",
                                      "repetition", "copy_quality"]
    assert "reward" in (out / "curves.csv").read_text().splitlines()[0]
    assert summary["config"]["beta"] == cfg.beta
    assert meta["data"]["rlopt_sampled_batches"] > 0  # rlopt's decoder sampled (the installed TRL's hook)
    assert meta["data"]["compact_lm_head"] is True


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_rlopt_sampling_matches_trl_generate_when_greedy(method, tiny_causal_lm_dir, tmp_path):
    from trl import GRPOTrainer, RLOOTrainer

    from rlopt.tuning.common import load_base, lora_config, training_contexts
    from rlopt.tuning.online import online_dataset
    from rlopt.tuning.sampling import with_rlopt_sampling

    trl_cls = {"grpo": GRPOTrainer, "rloo": RLOOTrainer}[method]
    cfg = make_config(method, "quick", generator=str(tiny_causal_lm_dir), max_steps=1, per_device_train_batch_size=4,
                      num_generations=2, max_completion_length=12, temperature=1e-5, output_dir=str(tmp_path))
    model, tok = load_base(cfg)  # no line-break stop: the tiny model's greedy first token is a line break
    data = online_dataset(training_contexts(training_logs(), 4, 0), CATALOG, PLACEMENTS, SEGMENTS)
    trainer = with_rlopt_sampling(trl_cls)(model=model, reward_funcs=[length_reward], args=cfg, train_dataset=data,
                                           processing_class=tok, peft_config=lora_config(cfg))
    prompts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=True, return_dict=False)
               for m in data["prompt"][:3]]
    rows = [ids for ids in prompts for _ in range(2)]  # TRL's order: each prompt num_generations times
    extra = (2,) if method == "grpo" else ()
    ours = trainer._generate_single_turn(rows, None, {}, *extra)
    theirs = trl_cls._generate_single_turn(trainer, rows, None, {}, *extra)
    if method == "grpo":
        (ours, _), (theirs, _) = ours, theirs
    assert trainer.rlopt_sampled_batches == 1
    assert ours == theirs and any(len(c) > 1 for c in ours)


def test_too_few_pairs_is_a_clear_error(tiny_causal_lm_dir, tmp_path):
    cfg = make_config("dpo", "quick", generator=str(tiny_causal_lm_dir), min_pairs=50)
    with pytest.raises(InputError, match=r"only 12 confident preference pairs \(need min_pairs=50\)"):
        train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, tmp_path / "x", SEGMENTS)


def test_online_needs_a_reward_model(tiny_causal_lm_dir, tmp_path):
    cfg = make_config("grpo", "quick", generator=str(tiny_causal_lm_dir))
    with pytest.raises(InputError, match="needs a reward model"):
        train_online("grpo", training_logs(), CATALOG, PLACEMENTS, cfg, tmp_path / "x", None, SEGMENTS)


def test_sampling_stops_at_the_first_line_break(tiny_causal_lm_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlopt.tuning.online import line_break_token_ids, stop_at_line_break

    tok = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir)
    breaks = line_break_token_ids(tok)
    assert tok.convert_tokens_to_ids("Ċ") in breaks and all("\n" in tok.decode([i]) for i in breaks)
    assert not any("\n" in tok.decode([i]) for i in range(len(tok)) if i not in set(breaks))
    stop_at_line_break(model, tok)
    eos = model.generation_config.eos_token_id
    assert eos[0] == tok.eos_token_id and set(breaks) <= set(eos) and len(eos) == len(set(eos))


def test_grpo_against_a_pessimistic_ensemble_logs_the_spread_and_support(tiny_causal_lm_dir, tmp_path):
    def short_reward(prompts, completions, **kwargs):  # a second member that disagrees with length_reward
        return [1.0 / (1.0 + len(str(c))) for c in completions]

    out = tmp_path / "grpo-ensemble"
    cfg = make_config("grpo", "quick", generator=str(tiny_causal_lm_dir), max_steps=2, reward_ensemble="min",
                      per_device_train_batch_size=4, num_generations=2, save_steps=1, max_completion_length=8,
                      support_penalty=1.0)  # and the support guard, with the real default sentence encoder
    train_online("grpo", training_logs(), CATALOG, PLACEMENTS, cfg, out, [length_reward, short_reward], SEGMENTS)
    meta = _check_outputs(out, "grpo", 2)
    assert meta["config"]["reward_ensemble"] == "min"
    assert meta["data"]["rewards"][-1] == "logged_support"
    curves = pd.read_csv(out / "curves.csv")
    spread = curves["reward_model/spread"].dropna()  # logged on the steps that sampled (num_iterations 2)
    assert len(spread) >= 1 and (spread > 0).all()  # the members disagree
    similarity = curves["support/similarity"].dropna()
    assert len(similarity) >= 1 and ((similarity > -1) & (similarity <= 1)).all()
