"""Best-of-n reranking and few-shot prompts from the logs: the pick is the argmax of the scores over
eligible candidates, examples reach the prompt, copies repeating an example are caught, seeds
reproduce."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlopt.generation.fewshot import add_examples, is_verbatim, mark_verbatim, verbatim_rate
from rlopt.generation.prompts import EXAMPLES_HEADER, context_messages
from rlopt.generation.rerank import best_of_n, eligible, reward_model_scorer, select_best
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, make_logs


def _candidates(texts, n, **cols):
    frame = pd.DataFrame({"item_id": "i1", "segment": "bargain", "placement": "home_banner", "copy_text": texts,
                          "sample_idx": [k % n for k in range(len(texts))],
                          "quality_action": "ok", "compliance_action": "ok"})
    for name, values in cols.items():
        frame[name] = values
    return frame


def test_pick_is_the_argmax_of_each_group_ties_to_the_earlier_sample():
    texts = [f"Trail shoes that grip, take {k}" for k in range(8)]
    rng = np.random.default_rng(3)
    scores = rng.random(8)
    scores[5] = scores[4] = 2.0  # a tie in the second group
    picked = select_best(_candidates(texts, 4), scores, 4)
    assert picked["copy_text"].tolist() == [texts[int(np.argmax(scores[:4]))], texts[4]]
    assert picked["rerank_score"].tolist() == [scores[:4].max(), 2.0]
    assert picked["best_of"].tolist() == [4, 4] and picked["rerank_eligible"].tolist() == [4, 4]


def test_several_shown_copies_per_context_each_from_its_own_group():
    texts = [f"Lamp copy number {k}" for k in range(6)]
    frame = _candidates(texts, 3, sample_idx=list(range(6)))  # one context, num = 2 groups x n = 3
    picked = select_best(frame, np.array([0.1, 0.9, 0.2, 0.7, 0.3, 0.8]), 3)
    assert picked["copy_text"].tolist() == [texts[1], texts[5]]
    assert picked["sample_idx"].tolist() == [0, 1] and picked["rerank_pick"].tolist() == [1, 5]


@pytest.mark.parametrize("column, value", [("quality_action", "rejected"), ("quality_action", "empty"),
                                           ("compliance_action", "unrepairable"), ("verbatim_example", True)])
def test_rejected_fallback_or_verbatim_copy_is_never_picked(column, value):
    texts = ["Stride Trail Running Shoes", "Grip on any trail, 20% off", "Run further in comfort"]
    frame = _candidates(texts, 3, verbatim_example=False)
    frame.loc[0, column] = value
    picked = select_best(frame, np.array([5.0, 1.0, 2.0]), 3)
    assert picked["copy_text"].item() == texts[2] and picked["rerank_eligible"].item() == 2


def test_defective_copy_is_never_picked_even_with_the_top_score():
    texts = ["Shop at www.stride-shoes.com now", "Grip on any trail", "Run further in comfort"]
    assert eligible(_candidates(texts, 3)).tolist() == [False, True, True]
    assert select_best(_candidates(texts, 3), np.array([9.0, 2.0, 1.0]), 3)["copy_text"].item() == texts[1]


def test_a_group_without_eligible_copy_shows_its_best_and_is_counted():
    frame = _candidates(["Shoes", "Trail shoes", "Stride shoes"], 3, quality_action="rejected")
    picked = select_best(frame, np.array([0.1, 0.3, 0.2]), 3)
    assert picked["copy_text"].item() == "Trail shoes" and picked["rerank_eligible"].item() == 0
    assert picked.attrs["rerank"] == {"n": 3, "groups": 1, "no_eligible": 1}


def test_bad_groups_and_metrics_are_errors():
    with pytest.raises(ValueError, match="groups of 3"):
        select_best(_candidates(["a b", "c d"], 2), np.zeros(2), 3)
    with pytest.raises(ValueError, match="unknown rerank metric"):
        reward_model_scorer(object(), CATALOG, "clicks")


# ---------------------------------------------------------------- few-shot examples
def _logs():
    return make_logs([
        ("i1", "bargain", "push", "Trail shoes, 20% off today", 200, 40, 5),
        ("i1", "bargain", "push", "Stride Trail Running Shoes", 200, 10, 1),
        ("i1", "premium", "push", "Grip on any trail", 200, 24, 3),
        ("i1", "bargain", "push", "Trail shoes, 60% off today", 200, 90, 1),  # a wrong discount: never an example
        ("i1", "bargain", "push", "Shoes at www.stride.com", 200, 80, 1),  # a defect: never an example
        ("i1", "bargain", "push", "Rarely shown shoes", 5, 4, 0),  # fewer than min_impressions
        ("i2", "premium", "home_banner", "Pour-over coffee, slow mornings", 200, 30, 2),
    ])


def test_examples_are_the_best_fit_logged_copies_by_smoothed_ctr():
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"},
                        {"item_id": "i2", "segment": "premium", "placement": "push"}])  # i2 has no push copy
    out = add_examples(ctx, _logs(), CATALOG, k=2)
    assert out["examples"][0] == ["Trail shoes, 20% off today", "Grip on any trail"]
    assert out["examples"][1] == ["Pour-over coffee, slow mornings"]  # the item's copy from another placement
    assert add_examples(ctx, _logs(), CATALOG, k=0)["examples"].tolist() == [[], []]


def test_examples_follow_the_scorer_in_the_contexts_segment():
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "premium", "placement": "push"}])
    seen = []

    def shortest_first(frame):
        seen.append(frame)
        return -frame["copy_text"].str.len().to_numpy(float)

    out = add_examples(ctx, _logs(), CATALOG, k=3, scorer=shortest_first)
    # equal scores (26 characters each) are ordered by the text
    assert out["examples"][0] == ["Grip on any trail", "Rarely shown shoes", "Stride Trail Running Shoes"]
    assert set(seen[0]["segment"]) == {"premium"}


def test_examples_appear_in_the_prompt_and_only_when_given():
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push",
                         "examples": ["Grip on any trail", "Trail shoes, 20% off today"]},
                        {"item_id": "i1", "segment": "bargain", "placement": "push", "examples": []}])
    with_ex, plain = (m[-1]["content"] for m in context_messages(ctx, CATALOG, PLACEMENTS, SEGMENTS))
    assert EXAMPLES_HEADER in with_ex and "- Grip on any trail\n- Trail shoes, 20% off today\n" in with_ex
    assert EXAMPLES_HEADER not in plain and with_ex.endswith("Mention only the real discount.")


def test_verbatim_guard_flags_repeats_and_reports_the_rate():
    assert is_verbatim("GRIP on any trail!", ["Grip on any trail"])
    assert not is_verbatim("Any trail, any weather: Stride grips", ["Grip on any trail"])
    copies = pd.DataFrame({"copy_text": ["Grip on any trail.", "Light shoes for long runs", "Grip on any trail"],
                           "examples": [["Grip on any trail"], ["Grip on any trail"], []]})
    marked = mark_verbatim(copies)
    assert marked["verbatim_example"].tolist() == [True, False, False]
    assert verbatim_rate(marked) == 0.5


# ---------------------------------------------------------------- with a model
def _score_by_length(frame):
    return frame["copy_text"].str.len().to_numpy(float)


def test_best_of_n_picks_the_top_scored_sample_and_reproduces(tiny_causal_lm_dir):
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "home_banner"},
                        {"item_id": "i2", "segment": "premium", "placement": "push"}])
    kw = dict(seed=5, batch_size=2, quality=False, compliance=False)
    picked = best_of_n(model, tok, ctx, CATALOG, PLACEMENTS, SEGMENTS, n=4, num=2, scorer=_score_by_length, **kw)
    again = best_of_n(model, tok, ctx, CATALOG, PLACEMENTS, SEGMENTS, n=4, num=2, scorer=_score_by_length, **kw)
    pd.testing.assert_frame_equal(picked, again)
    cands = generate_copies(model, tok, ctx, CATALOG, PLACEMENTS, SEGMENTS, num=8, **kw)
    # 2 contexts x 2 groups of 4; the random toy model writes defects (junk, "@"): those are never picked
    lengths = np.where(eligible(cands), cands["copy_text"].str.len(), -1).reshape(4, 4)
    assert (lengths.max(axis=1) >= 0).all()
    assert picked["copy_text"].tolist() == [cands["copy_text"][g * 4 + int(np.argmax(lengths[g]))] for g in range(4)]
    assert len(picked) == 4 and picked["sample_idx"].tolist() == [0, 1, 0, 1]


def test_best_of_n_with_examples_marks_and_skips_verbatim_copies(monkeypatch):
    import rlopt.generation.sample as sample

    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "home_banner",
                         "examples": ["Grip on any trail, every trail"]}])
    texts = ["Grip on any trail, every trail!", "Light trail shoes", "Stride: light shoes for long runs"]

    def fake_generate(model, tokenizer, contexts, *args, num=1, seed=0, **kwargs):
        rows = contexts.loc[contexts.index.repeat(num)].reset_index(drop=True)
        return rows.assign(copy_text=texts[:num], sample_idx=range(num), quality_action="ok", compliance_action="ok")

    monkeypatch.setattr(sample, "generate_copies", fake_generate)
    picked = best_of_n(None, None, ctx, CATALOG, PLACEMENTS, SEGMENTS, n=3, scorer=_score_by_length)
    assert picked["copy_text"].item() == texts[2]  # the longest, the example's repeat excluded
    assert picked["verbatim_example"].item() is False or not picked["verbatim_example"].item()
    assert picked["rerank_eligible"].item() == 2


def test_a_context_without_eligible_sample_is_sampled_again(monkeypatch):
    import rlopt.generation.sample as sample

    ctx = pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "home_banner",
                         "examples": ["Grip on any trail"]},
                        {"item_id": "i2", "segment": "premium", "placement": "push", "examples": []}])
    seeds = []

    def fake_generate(model, tokenizer, contexts, *args, num=1, seed=0, **kwargs):
        seeds.append((seed, len(contexts)))
        rows = contexts.loc[contexts.index.repeat(num)].reset_index(drop=True)
        first = seed == 7  # the first round repeats the example for i1; a later round writes a new copy
        texts = ["Grip on any trail" if (first and i == "i1") else f"New copy {k} for {i}, seed {seed}"
                 for k, i in enumerate(rows["item_id"])]
        return rows.assign(copy_text=texts, sample_idx=[k % num for k in range(len(rows))],
                           quality_action="ok", compliance_action="ok")

    monkeypatch.setattr(sample, "generate_copies", fake_generate)
    picked = best_of_n(None, None, ctx, CATALOG, PLACEMENTS, SEGMENTS, n=2, seed=7, scorer=_score_by_length)
    assert seeds[0] == (7, 2) and seeds[1][1] == 1  # only the context without an eligible sample again
    assert picked["copy_text"][0].startswith("New copy") and picked["copy_text"][1].endswith("seed 7")
    assert picked.attrs["rerank"]["resampled_contexts"] == 1 and picked.attrs["rerank"]["no_eligible"] == 0
    stuck = best_of_n(None, None, ctx, CATALOG, PLACEMENTS, SEGMENTS, n=2, seed=7, retries=0, scorer=_score_by_length)
    assert stuck["copy_text"][0] == "Grip on any trail" and stuck.attrs["rerank"]["no_eligible"] == 1
