"""Copy defects (rlopt.generation.quality) and their repair (rlopt.generation.postprocess.repair_quality).

Real copies: the issue's examples from the quickstart's report and a user's shop, SmolLM2-135M's own
output, and good copies that must not be flagged.
"""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.generation.postprocess import cap_length, repair_quality, trim_dangling
from rlopt.generation.quality import DEFECTS, copy_defects, defect_frame, defect_rates, has_junk

BAD = [
    ("@Ridgeline: , , , : Ridgeline Edge L", {"invented_url", "junk"}),
    ("SKIP SIGN-ON: Kinetic Pulse Trail Runners: 40% OFF", {"junk"}),
    ("Sweat and water resistant earphones that are", {"incomplete"}),
    ("Verve wireless earbuds offer only", {"incomplete"}),
    ("For 160 characters, focus on the real.", {"leaked_instructions"}),
    ("Nordwind jackets at www.nordwind.com/sale", {"invented_url"}),
    ("https://www.brio-shoes.com/brio-brand-", {"invented_url", "incomplete"}),
    ("@norda_running_shoes@norda_shoes@norda", {"invented_url"}),
    ("Purchase: Amazon UK", {"invented_url"}),
    ("Sure! Here is a push notification for your shoppers", {"leaked_instructions"}),
    ("I'm thrilled to announce a new addition to our list of", {"leaked_instructions", "incomplete"}),
    ("Product: Brewly Core Espresso Machine at $299.99", {"leaked_instructions"}),
    ("Dear [Customer Name]", {"leaked_instructions", "junk"}),
    ("Email hello@brewly.co for a free sample", {"invented_url"}),
    ("Call 555-123-4567 to order your kettle", {"invented_url"}),
    ("This is a sneak peek into a sneak peek into the new Aero", {"repetition"}),
    ("Fjellmark Fjellmark, UK", {"repetition"}),
    ("Kettle - - - 20% off", {"junk"}),
    ("Trail shoes built for", {"incomplete"}),
    ("Cosy slippers (warm and", {"incomplete"}),
    ("At the most affordable price in the world, not only do you", {"incomplete"}),
    ("Awesome, now I know you're talking about Packit Core!", {"leaked_instructions"}),
    ("Your product is not only a quality t-shirt but also premium", {"leaked_instructions"}),
]

GOOD = [
    "Stainless Kettle - 20% off",
    "Loved by 10,000+ runners",
    "Trail shoes that grip. Built for mud.",
    "For members only",
    "Level up your morning brew",
    "Game on: Nova controllers are here",
    "A gift for her",
    "Now only $1,299.99",
    "Deals end at 10:30 tonight",
    "Run more, run faster",
    "Focus on your run, not your feet",
    "Save 20% on Stride runners",
    "100% organic cotton tee, made to last",
    "Fresh running shoes for your morning miles",
    "Everything you need to know about trail shoes",
    "Unlock faster mornings with Brewly",
    "Meet the Nova. Built for mud.",
    "Discover the Kinetic Pulse Trail Runners: exceptional cushioning, crafted to last. Explore",  # a CTA
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_defective_copy_is_flagged(text, expected):
    assert set(copy_defects(text)) == expected


@pytest.mark.parametrize("text", GOOD)
def test_good_copy_is_not_flagged(text):
    assert copy_defects(text) == []


def test_frame_and_rates_apply_the_same_rules():
    texts = pd.Series([t for t, _ in BAD] + GOOD, index=range(100, 100 + len(BAD) + len(GOOD)))
    frame = defect_frame(texts)
    assert list(frame.columns) == list(DEFECTS) and list(frame.index) == list(texts.index)
    for i, text in texts.items():
        assert [d for d in DEFECTS if frame.loc[i, d]] == copy_defects(text)
    rates = defect_rates(texts)
    assert rates["n"] == len(texts)
    assert rates["any"] == pytest.approx(len(BAD) / len(texts))
    assert rates["invented_url"] == pytest.approx(frame["invented_url"].mean())
    assert all(v != v for k, v in defect_rates([]).items() if k != "n")  # nan for no copies


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Sweat and water resistant earphones that are", 60, "Sweat and water resistant earphones"),
    ("Verve wireless earbuds offer only", 60, "Verve wireless earbuds"),
    ("@Ridgeline: , , , : Ridgeline Edge L", 60, "Ridgeline Edge L"),
    ("Nordwind jackets - shop now at www.nordwind.com/sale", 60, "Nordwind jackets - shop now"),
    ("Sure! Here is a push notification: Fresh kettles, 20% off", 60, "Fresh kettles, 20% off"),
    ("Product: Brewly Core Espresso Machine at $299.99", 60, "Brewly Core Espresso Machine at $299.99"),
    ("This product is a must-buy for your skin, and it's for", 60, "This product is a must-buy for your skin"),
    ("Comfy comfy slippers for cold nights", 60, "Comfy slippers for cold nights"),
    ("Great kettles on Amazon UK today", 60, "Great kettles today"),
    ("Kinetic Aero Trail Runners at your price: $95.99", 60, "Kinetic Aero Trail Runners at $95.99"),
])
def test_repairable_copy_is_repaired(text, limit, expected):
    fixed, action = repair_quality(text, limit)
    assert (fixed, action) == (expected, "repaired")
    assert copy_defects(fixed) == [] and len(fixed) <= limit
    assert repair_quality(fixed, limit) == (fixed, "ok")  # idempotent


@pytest.mark.parametrize("text", [
    "SKIP SIGN-ON: Kinetic Pulse Trail Runners: 40% OFF",
    "For 160 characters, focus on the real.",
    "Purchase: Amazon UK",
    "@norda_running_shoes@norda_shoes@norda",
    "Dear [Customer Name]",
    "Hello! I'm the Marketing Manager at Kinetic Pulse, and",
    "This is a sneak peek into a sneak peek into the new Aero",
])
def test_unrepairable_copy_is_rejected(text):
    assert repair_quality(text, 60) == (None, "rejected")


@pytest.mark.parametrize("text", GOOD)
def test_good_copy_passes_unchanged(text):
    assert repair_quality(text, 60) == (text, "ok")


def test_cap_length_backs_off_a_dangling_tail():
    # the cut at the limit used to leave "... earphones that are"
    text = "Sweat and water resistant earphones that are built for long runs"
    assert cap_length(text, 45) == "Sweat and water resistant earphones"
    assert copy_defects(cap_length(text, 45)) == []
    assert trim_dangling("for the") == ""  # nothing whole left: the caller keeps its own text
    assert cap_length("for the win and the", 10) == "for the"  # ... and cap_length keeps the cut


def test_recorded_smollm2_copies_are_repaired_or_rejected():
    """Every recorded SmolLM2 copy either passes, is repaired to defect-free copy, or is rejected."""
    from pathlib import Path

    rows = pd.read_json(Path(__file__).parent / "smollm2_claims.jsonl", lines=True)
    actions = []
    for text in rows["copy_text"]:
        fixed, action = repair_quality(str(text), 160)
        actions.append(action)
        assert fixed is None or copy_defects(fixed) == []
    assert "repaired" in actions or "rejected" in actions


def test_generate_copies_repairs_or_rejects_defective_samples(tiny_causal_lm_dir, monkeypatch):
    """generate_copies: quality repair after compliance, title fallback on reject, same seed -> same copies."""
    from rlopt.generation import sample
    from rlopt.generation.models import resolve_generator
    from tests.generation.test_sample_compliance import CONTEXTS
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    first = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=3)
    again = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=3)
    assert first["copy_text"].tolist() == again["copy_text"].tolist()
    assert sum(first.attrs["quality"].values()) == len(first)
    raw = iter(["Trail shoes that grip at stride.com", "For 40 characters, focus on the real.",
                "", "Coffee set for slow mornings"])
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: next(raw))
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0, batch_size=1)
    titles = CATALOG.set_index("item_id")["title"]
    assert out["quality_action"].tolist() == ["repaired", "rejected", "empty", "ok"]
    assert out["copy_text"].tolist() == ["Trail shoes that grip", cap_length(titles["i1"], 40),
                                         cap_length(titles["i2"], 60), "Coffee set for slow mornings"]
    assert out.attrs["quality"] == {"ok": 1, "repaired": 1, "rejected": 1, "empty": 1}
    assert out.attrs["title_fallbacks"] == 2
    raw = iter(["Trail shoes that grip at stride.com", "For 40 characters, focus on the real."] * 2)
    off = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0,
                                 batch_size=1, quality=False)
    assert set(off["quality_action"]) == {"off"} and (off["copy_text"] == off["raw_copy_text"]).all()


def test_grpo_rloo_pay_a_penalty_per_defect_weighted_by_the_config():
    from rlopt.errors import InputError
    from rlopt.tuning.config import make_config
    from rlopt.tuning.rewards import CopyQualityPenalty, build_reward_funcs
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS

    completions = ["Trail shoes that grip", [{"role": "assistant", "content": "Sure! Visit stride.com for"}],
                   "@stride: , , Trail shoes"]
    scores = CopyQualityPenalty(PLACEMENTS)(None, completions, placement=["home_banner"] * 3)
    assert scores == [0.0, -3.0, -2.0]  # leaked + invented URL + incomplete; invented URL + junk
    for method in ("grpo", "rloo"):
        funcs, weights = build_reward_funcs(None, CATALOG, PLACEMENTS, make_config(method, "quick"))
        assert dict(zip([f.__name__ for f in funcs], weights, strict=True))["copy_quality"] == 1.0
        off = make_config(method, "quick", quality_penalty=0.0)
        assert "copy_quality" not in [f.__name__ for f in build_reward_funcs(None, CATALOG, PLACEMENTS, off)[0]]
    with pytest.raises(InputError, match="quality_penalty"):
        make_config("grpo", "quick", quality_penalty=-1.0)


def test_dpo_never_chooses_defective_copy():
    """The DPO guard drops logged pairs whose chosen copy has a defect; reward-ranked pairs rank it as a guard."""
    from rlopt.tuning.dpo import guard_pairs
    from rlopt.tuning.ranked_pairs import online_reward_weights, rank_pairs, score_copies
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS

    pairs = pd.DataFrame({"item_id": ["i1"] * 3, "segment": ["bargain"] * 3, "placement": ["home_banner"] * 3,
                          "chosen": ["Trail shoes that grip", "Trail shoes at www.stride.com", "Trail shoes for the"],
                          "rejected": ["Meh shoes", "Meh shoes", "Meh shoes"]})
    assert guard_pairs(pairs, CATALOG, PLACEMENTS)["chosen"].tolist() == ["Trail shoes that grip"]
    assert online_reward_weights().quality_penalty == 1.0

    def rm(prompts, completions, **kw):  # the reward model loves the link
        return [0.9 if "www" in c else 0.1 for c in completions]

    copies = pd.DataFrame({"item_id": "i1", "segment": "bargain", "placement": "home_banner",
                           "raw_copy_text": ["Trail shoes at www.stride.com", "Trail shoes that grip", "shoes shoes"]})
    score, guards = score_copies(copies, rm, CATALOG, PLACEMENTS)
    assert guards[0] < 0 and guards[1] == 0
    ranked = rank_pairs(copies, score, guards, min_gain=0.0)
    assert ranked["chosen"].tolist() == ["Trail shoes that grip"]


def test_evaluation_reports_defect_rates_of_shown_and_raw_copy():
    from rlopt.tuning.evaluate import evaluate_copies

    class FlatOracle:  # evaluate_copies needs the truth's three columns; their values do not matter here
        def evaluate(self, df):
            return pd.DataFrame({"p_click": 0.05, "p_purchase": 0.01, "expected_revenue": 0.5}, index=df.index)

    copies = pd.DataFrame({"item_id": ["i1", "i1", "i2", "i2"], "segment": "bargain", "placement": "push",
                           "copy_text": ["Trail shoes that grip", "Trail shoes that grip", "Coffee set",
                                         "Coffee set for"],
                           "raw_copy_text": ["Trail shoes at stride.com", "Trail shoes that grip", "", "Coffee set for"],
                           "quality_action": ["repaired", "ok", "empty", "ok"]})
    out = evaluate_copies(copies, FlatOracle())
    assert out["defect_rates"]["incomplete"] == 0.25 and out["defect_rates"]["any"] == 0.25
    assert out["defect_rates_raw"]["invented_url"] == 0.25 and out["defect_rates_raw"]["any"] == 0.5
    assert out["quality_actions"] == {"repaired": 1, "ok": 2, "empty": 1}
    assert out["frame"]["defect_incomplete"].tolist() == [False, False, False, True]


@pytest.mark.parametrize("text, junk", [
    ("Corvo, 107.33: Fav. No 107.33", True),  # issue 19: a repeated number, a price-only fragment
    ("Cradlecare Foldable Bottle Warmer - Bite - 90", True),
    ("Letters: 1234", True),
    ("Terra Nova Speckled Vase - 144.88", True),  # a number with nothing to say what it is
    ("Northpeak Trail Backpack: 20% off: 20% off the discounted item", True),
    ("Loved by 10,000+ shoppers", False),
    ("Tundra Camp Lantern: 300 lumens", False),
    ("Terra Nova Speckled Vase - now $144.88", False),
    ("Spring collection, 2025", False),  # a year
    ("Buy 2, get 1 free", False),
    ("Top 10 gifts for 24/7 comfort", False),
])
def test_number_junk(text, junk):
    assert has_junk(text) is junk


def test_a_run_on_repeat_is_repetition():
    # seen in the small shop's tuned copy; each rule before it saw "handwoven" only twice as a word
    assert "repetition" in copy_defects("Hearth Wool Rug: Handwoven hand woven handwoven "
                                        "handwovenhandwovenhandwovenhandwoven")
    assert copy_defects("Mississippi mud pie, made in Tennessee") == []


def test_prompt_words_seen_in_tuned_copy_are_leaks():
    # bazaar's tuned and GRPO copy echoed the system prompt ("one line, no quotes")
    assert "leaked_instructions" in copy_defects("Cradlecare Bottle Warmer - $77.36 - One-line - Cradlecare")
    assert "leaked_instructions" in copy_defects("Cradlecare Bottle Warmer - the perfect pick - no need for quotes")


@pytest.mark.parametrize("text", ["Northpeak Terra Rain Jacket | Not Repeating", "Here's a new one",
                                  "Brewly Kettle, word for word the best", "Copies that worked: Brewly Kettle",
                                  "Write a new one: Auris earbuds", "Auris Core Earbuds (do not repeat them)",
                                  "Auris Aero Headphones: wireless and 30-hour battery. Don't repeat."])
def test_the_few_shot_request_said_back_is_a_leak(text):
    # the quickstart's base and tuned copy echoed "Write a new one; do not repeat them word for word."
    assert "leaked_instructions" in copy_defects(text)


@pytest.mark.parametrize("text", ["Old kettle? Time for a new one", "Trail shoes you will want a new pair of",
                                  "Repeat customers love the Nova", "Worth repeating: 20% off Brewly"])
def test_copy_about_new_things_and_repeats_is_not_a_leak(text):
    assert "leaked_instructions" not in copy_defects(text)
