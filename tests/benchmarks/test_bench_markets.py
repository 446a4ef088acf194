"""The foreign-markets benchmark (benchmarks/bench_markets.py) end to end on a tiny budget: a
subprocess run with a tiny random generator and encoder, down to its JSON. Its numbers are not
benchmarks; the test checks that every stage ran and that the grading is the market's truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.bench_markets import targets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, tiny_causal_lm_dir, tiny_encoder_dir):
    tmp = tmp_path_factory.mktemp("bench-markets")
    out, work = tmp / "markets.json", tmp / "work"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_markets", "--markets", "atelier", "--impressions", "6000",
         "--contexts", "3", "--num", "1", "--generator", str(tiny_causal_lm_dir), "--encoder", str(tiny_encoder_dir),
         "--dpo-steps", "1", "--dpo-min-pairs", "2", "--reward-max-epochs", "1", "--best-of", "2", "--few-shot", "1",
         "--grpo", "dpo", "--grpo-steps", "1", "--grpo-seeds", "2", "--resample", "1",
         "--out", str(out), "--work", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())["markets"]["atelier"], work


def test_every_stage_recorded(smoke):
    case, _ = smoke
    rm = case["reward_model"]
    assert rm["n_train"] + rm["n_holdout"] == 6000
    for scorer in ("saved", "baseline", "oracle", "oracle_fresh"):
        assert 0.0 <= rm[scorer]["click_auc"] <= 1.0
    assert rm["health"]["status"] in ("ok", "weak", "no_signal")
    assert case["dpo"]["steps"] == 1 and case["dpo"]["pairs"] >= 2
    assert {"base", "tuned"} <= set(case["quality"]) and case["quality"]["tuned"]["defects"]["n"] == 3
    ctr = case["graded"]["ctr"]
    assert {"base", "tuned", "mean_logged", "best_logged"} <= set(ctr["means"])
    assert ctr["means"]["best_logged"] >= ctr["means"]["mean_logged"]
    assert {"tuned / base", "tuned / mean_logged", "tuned / best_logged"} <= set(ctr["ratios"])
    assert "tuned / base ctr >= 1.5" in case["targets"] and "machine" in case


def test_extra_rows_best_of_n_and_few_shot(smoke):
    from rlopt.generation.fewshot import verbatim_rate

    case, work = smoke
    ctr = case["graded"]["ctr"]
    rows = ("base + few-shot", "tuned + best-of-n", "tuned + few-shot", "tuned + few-shot + best-of-n")
    for row in rows:
        assert row in ctr["means"] and f"{row} / mean_logged" in ctr["ratios"] and row in case["quality"]
    assert case["timing"]["generate_tuned_best_of_n"]["rerank"]["n"] == 2
    assert case["timing"]["generate_tuned_few_shot_best_of_n"]["rerank"]["n"] == 2
    assert 0.0 <= case["timing"]["generate_base_few_shot"]["verbatim_rate"] <= 1.0
    for row in rows[2:]:  # every measured DPO route is checked against the generator targets
        assert f"{row} / mean_logged ctr >= 1.0" in case["targets"]
    for row in ("base + few-shot", "tuned + few-shot"):
        shown = pd.read_json(work / "atelier" / f"copies_{row}.jsonl", lines=True)
        assert shown["examples"].map(len).max() == 1  # the prompt carried one logged copy
        share = case["quality"][row]["verbatim_example_share"]
        assert share == pytest.approx(verbatim_rate(shown))


def test_grpo_row_and_resample_counterfactual(smoke):
    case, work = smoke
    grpo = case["grpo"]
    assert grpo["from"] == "dpo"
    if "error" in grpo:  # the health gate may stop GRPO on a tiny reward model: then it says so
        assert "no_signal" in grpo["error"] or "health" in grpo["error"] or "signal" in grpo["error"]
    else:
        assert grpo["steps"] == 1 and "grpo" in case["graded"]["ctr"]["means"]
        assert "grpo / base ctr >= 1.0" in case["targets"]
        assert "grpo (from dpo) / mean_logged ctr >= 1.0" in case["targets"]
        # --few-shot 1 in the smoke run: the GRPO generator is graded with the examples too
        assert "grpo + few-shot" in case["graded"]["ctr"]["means"]
        assert "grpo + few-shot (from dpo) / mean_logged ctr >= 1.0" in case["targets"]
        # --grpo-seeds 2: a second training seed, graded beside the first, and the spread of the two
        assert case["grpo_other_seeds"]["grpo (seed +1)"]["steps"] == 1
        spread = case["grpo_seed_spread"]["grpo"]["ctr"]
        ratios = case["graded"]["ctr"]["ratios"]
        assert spread["ratios"] == [ratios["grpo / mean_logged"]["ratio"], ratios["grpo (seed +1) / mean_logged"]["ratio"]]
        assert spread["min"] <= spread["mean"] <= spread["max"]
        assert "grpo + few-shot (seed +1)" in case["graded"]["ctr"]["means"]
        assert "grpo (seed +1) (no resample)" not in case["graded"]["ctr"]["means"]
    means = case["graded"]["ctr"]["means"]
    assert {"base (no resample)", "tuned (no resample)"} <= set(means)
    shown = pd.read_json(work / "atelier" / "copies_tuned.jsonl", lines=True)
    before = pd.read_json(work / "atelier" / "copies_tuned (no resample).jsonl", lines=True)
    kept = shown["resample_round"] == 0  # a copy kept from the first round is the same in both rows
    assert (shown.loc[kept, "copy_text"] == before.loc[kept, "copy_text"]).all()
    assert before.loc[~kept, "title_fallback"].all()
    assert case["timing"]["generate_tuned"]["resample"]["rounds"] == 1
    logged = case["quality_logged"]
    assert logged["impressions"] == case["reward_model"]["n_train"]
    assert 0.0 <= logged["per_impression"]["misleading"] <= 1.0 and "junk" in logged["per_copy"]
    assert set(case["proxy_p_click"]) == set(means) - {"mean_logged", "best_logged"}


def test_graded_by_the_markets_truth(smoke):
    """The tuned copies' mean true CTR is the atelier truth's reading of the copies written to disk."""
    from experiments.markets.atelier import Truth

    case, work = smoke
    copies = pd.read_json(work / "atelier" / "copies_tuned.jsonl", lines=True)
    truth = Truth.from_dir(work / "data" / "atelier")
    expected = truth.evaluate(copies).groupby(["item_id", "segment", "placement"])["p_click"].mean().mean()
    assert case["graded"]["ctr"]["means"]["tuned"] == pytest.approx(expected)


def test_targets_follow_the_issue():
    def case(n, auc, base_auc, status="ok"):
        return {"reward_model": {"n_train": n, "n_holdout": 0, "click_auc_over_oracle": auc / 0.7,
                                 "click_auc_minus_baseline": auc - base_auc, "health": {"status": status}}}

    big = targets(case(60_000, 0.68, 0.67))
    assert big["rm_click_auc / oracle >= 0.97"]["met"] and big["rm_click_auc >= baseline"]["met"]
    assert not targets(case(60_000, 0.66, 0.67))["rm_click_auc >= baseline"]["met"]
    small = "rm_click_auc >= baseline or health != ok"
    assert not targets(case(3_000, 0.55, 0.56))[small]["met"]
    assert targets(case(3_000, 0.55, 0.56, "weak"))[small]["met"]


def test_reward_only_replaces_the_reward_section_and_keeps_the_rest(tmp_path, tiny_encoder_dir):
    """--reward-only trains and measures the reward model only; a market already in --out keeps its
    generation sections, gets the new reward_model section and targets recomputed from it."""
    out = tmp_path / "markets.json"
    kept = {"graded": {"ctr": {"means": {"base": 0.05}}}, "dpo": {"steps": 40}, "targets": {}}
    out.write_text(json.dumps({"markets": {"atelier": kept}}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_markets", "--markets", "atelier", "--impressions", "4000",
         "--encoder", str(tiny_encoder_dir), "--reward-max-epochs", "1", "--reward-only", "--out", str(out),
         "--work", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    case = json.loads(out.read_text())["markets"]["atelier"]
    assert case["graded"] == kept["graded"] and case["dpo"] == kept["dpo"]
    rm = case["reward_model"]
    assert rm["n_train"] + rm["n_holdout"] == 4000 and rm["config"]["reward_only"] is True
    assert {"encoder", "baseline"} <= set(rm["components"]) and 0.0 <= rm["reference_baseline"]["click_auc"] <= 1.0
    assert rm["train_config"]["exposure_window"] == 8 and "machine" in rm
    assert "rm_click_auc >= baseline or health != ok" in case["targets"]


def test_copy_quality_reads_the_shown_copy_with_rlopt_checks_rules():
    from benchmarks.bench_markets import copy_quality
    from rlopt.generation.claims import ClaimSupport

    catalog = pd.DataFrame([{"item_id": "k", "title": "Kettle", "price": 40.0, "discount_pct": 0.0},
                            {"item_id": "l", "title": "Lamp", "price": 20.0, "discount_pct": 10.0}])
    copies = pd.DataFrame({"item_id": ["k", "k", "l", "l"],
                           "copy_text": ["Kettle - loved by many", "Kettle - 50% off", "Lamp - loved by many",
                                         "Lamp, , , :"],
                           "raw_copy_text": ["Kettle - loved by many", "Kettle - 50% off", "Lamp - on sale",
                                             "Lamp - 10% off"]})
    support = ClaimSupport(catalog, pd.DataFrame({"item_id": ["l"], "copy_text": ["Lamp - loved by many"]}))
    out = copy_quality(copies, catalog, support)
    assert out["misleading"] == 0.25 and out["misleading_written"] == 0.25  # "50% off" on an item with none
    assert out["unbacked_claim"] == 0.25 and out["unbacked_top"] == {"loved by": 1}  # backed for the lamp only
    assert out["defects"]["junk"] == 0.25 and out["defects"]["any"] == 0.25 and out["defects"]["n"] == 4
    assert out["diversity"]["top_template"] == "{title} - loved by many" and out["diversity"]["top_template_share"] == 0.5
    assert copy_quality(copies, catalog)["unbacked_claim"] is None and copy_quality(copies, catalog)["unbacked_top"] is None
