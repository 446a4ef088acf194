"""The TRL reward function: call conventions, pickling, and a real 1-step GRPO run."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from reward_models import RewardFunction, RewardWeights


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    return tiny_model.save_pretrained(tmp_path_factory.mktemp("reward-model"))


def _kwargs(synth, n):
    rows = synth.logs.iloc[:n]
    return {"item_id": list(rows.item_id), "segment": list(rows.segment), "placement": list(rows.placement)}


def test_standard_and_conversational_completions_agree(model_dir, synth):
    fn = RewardFunction(model_dir, synth.catalog)
    texts = list(synth.logs.copy_text.iloc[:4])
    plain = fn(prompts=["p"] * 4, completions=texts, **_kwargs(synth, 4))
    chat = fn(prompts=[[{"role": "user", "content": "p"}]] * 4,
              completions=[[{"role": "assistant", "content": t}] for t in texts], **_kwargs(synth, 4))
    assert plain == chat
    assert all(isinstance(x, float) for x in plain)
    assert fn.__name__ == "reward_model"


def test_reward_matches_model_score(model_dir, synth, tiny_model):
    fn = RewardFunction(model_dir, synth.catalog, weights={"click": 0.0, "purchase": 0.0, "revenue": 1.0})
    frame = synth.logs.iloc[:5][["copy_text", "item_id", "segment", "placement"]]
    tiny_model.encoder.clear_cache()
    expected = tiny_model.score(frame, synth.catalog, weights=RewardWeights(0.0, 0.0, 1.0))["reward"]
    got = fn(prompts=None, completions=list(frame.copy_text), **_kwargs(synth, 5))
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-6)


def test_empty_completion_gets_empty_reward(model_dir, synth):
    fn = RewardFunction(model_dir, synth.catalog, empty_reward=-1.0)
    out = fn(prompts=["p"] * 2, completions=["", synth.logs.copy_text.iloc[1]], **_kwargs(synth, 2))
    assert out[0] == -1.0 and out[1] > 0


def test_pickles_small_and_lazily_reloads(model_dir, synth):
    fn = RewardFunction(model_dir, synth.catalog)
    before = fn(completions=[synth.logs.copy_text.iloc[0]], **_kwargs(synth, 1))
    assert fn._model is not None
    clone = pickle.loads(pickle.dumps(fn))
    assert clone._model is None
    assert clone(completions=[synth.logs.copy_text.iloc[0]], **_kwargs(synth, 1)) == before


def test_missing_column_is_an_input_error(model_dir, synth):
    from rlopt.errors import InputError

    fn = RewardFunction(model_dir, synth.catalog)
    with pytest.raises(InputError, match="placement"):
        fn(completions=["x"], item_id=[synth.catalog.item_id[0]])


def test_inside_one_grpo_step(model_dir, synth, tiny_causal_lm_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    rows = synth.logs.iloc[:4]
    data = Dataset.from_dict({"prompt": [f"Write copy for {i}:" for i in rows.item_id], **_kwargs(synth, 4)})
    calls = []
    reward = RewardFunction(model_dir, synth.catalog)

    def spy(prompts, completions, **kw):
        out = reward(prompts, completions, **kw)
        calls.append(out)
        return out

    spy.__name__ = reward.__name__
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=6, max_steps=1, report_to="none", logging_steps=1,
                      use_cpu=True, save_strategy="no", bf16=False)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_causal_lm_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_causal_lm_dir))
    trainer = GRPOTrainer(model=model, reward_funcs=[spy], args=args, train_dataset=data,
                          processing_class=tokenizer)
    trainer.train()
    assert calls and all(np.isfinite(calls[0]))
    logged = [h for h in trainer.state.log_history if "rewards/reward_model/mean" in h]
    assert logged and np.isfinite(logged[0]["rewards/reward_model/mean"])
