"""`rlopt run` on a shop's own logs (issue 19, item 6): every stage says which data it used, OPE
gives intervals without an oracle, the bandits are replayed over the logs (never the packaged
simulated market), generation covers only the contexts asked for (capped, seeded), and the verdict
carries the reward model's predicted lift over the shop's logged copy with the A/B size to confirm.

The logs are ``experiments/markets/small_shop.py``'s (written independently of ``rlopt.market``),
on tiny models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.markets.small_shop import PLACEMENTS, make_small_shop
from rlopt.data import write_table
from rlopt.pipeline import load_config
from rlopt.pipeline.runner import StageContext, StageResult, StageUnavailable
from rlopt.pipeline.stages_eval import stage_bandit
from rlopt.pipeline.stages_model import requested_contexts
from rlopt.testing import write_tiny_config

RLOPT = [sys.executable, "-c", "from rlopt.cli import main; main()"]
MAX_CONTEXTS = 6


def _shop(out: Path) -> Path:
    """The small shop's logs as a user would hand them over: one CSV of logs, the catalog, placements."""
    shop = make_small_shop(2400, 1200, seed=0)
    shop.write(out)
    pd.concat([pd.read_csv(out / "train.csv"), pd.read_csv(out / "holdout.csv")]).to_csv(out / "logs.csv", index=False)
    placements = {name: {"max_chars": 120, "slots": len(exam), "examination": list(exam)}
                  for name, (exam, _) in PLACEMENTS.items()}
    (out / "placements.json").write_text(json.dumps(placements))
    return out


def _config(path: Path, shop: Path, llm: Path, enc: Path) -> Path:
    """The tiny budgets on the shop's logs: no A/B stage (no simulator), bandits replayed in batches."""
    data = {"logs": str(shop / "logs.csv"), "catalog": str(shop / "catalog.csv"),
            "placements": str(shop / "placements.json")}
    return write_tiny_config(path, llm, enc, data, tuning={"auto_relax": True}, ab=None,
                             generation={"batch_size": 8, "max_contexts": MAX_CONTEXTS},
                             bandit={"steps": None, "n_shoppers": None, "batch_size": 50},
                             ope={"max_eval_rows": None})


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory, tiny_causal_lm_dir, tiny_encoder_dir):
    root = tmp_path_factory.mktemp("shop_run")
    cfg = _config(root / "shop.toml", _shop(root / "shop"), tiny_causal_lm_dir, tiny_encoder_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([*RLOPT, "run", str(cfg), "--json"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return cfg, root / "run", {**json.loads(proc.stdout), "stderr": proc.stderr}


def _summary(run: Path, stage: str) -> dict:
    return json.loads((run / stage / "stage.json").read_text())["summary"]


def test_every_stage_evaluates_on_the_users_logs(shop_run):
    _, run, out = shop_run
    status = {k: v["status"] for k, v in out["stages"].items()}
    assert status["ab"] == "unavailable"  # no simulator: said, not faked
    assert all(status[s] == "ran" for s in ("data", "validate", "reward", "tuning", "generation", "bandit", "ope"))
    for stage in ("tuning", "generation", "bandit", "ope"):
        assert _summary(run, stage)["data_source"].startswith("your logs ("), stage

    ope = _summary(run, "ope")
    assert ope["truth"] is None and ope["n_eval"] > 0
    for e in ope["estimates"]:
        assert e["low"] <= e["estimate"] <= e["high"] and np.isfinite(e["estimate"])

    bandit = _summary(run, "bandit")  # replayed over the logs, not the packaged market
    assert bandit["mode"] == "replay" and "env_id" not in bandit
    assert [r["policy"] for r in bandit["final"]] == ["uniform", "linucb"]
    assert all(0 < r["kept_rounds"] < bandit["steps"] and 0 <= r["replay_value"] <= 1 for r in bandit["final"])


def test_generation_covers_only_the_asked_contexts_and_compares_with_the_logged_copy(shop_run):
    _, run, out = shop_run
    gen = _summary(run, "generation")
    # progress, with time left: a live status line on the console (drawn only on a terminal), in full in log.txt
    assert f"[generation] tuned: {MAX_CONTEXTS}/{MAX_CONTEXTS} contexts (" in (run / "log.txt").read_text()
    held = pd.read_json(run / "validate" / "contexts.jsonl", lines=True, dtype=False)
    assert gen["contexts"] == MAX_CONTEXTS and gen["contexts_sampled"] is True
    assert gen["contexts_available"] == len(held.drop_duplicates()) > MAX_CONTEXTS
    copies = pd.read_json(run / "generation" / "tuned.jsonl", lines=True, dtype=False)
    asked = set(map(tuple, held[["item_id", "segment", "placement"]].astype(str).to_numpy()))
    assert set(map(tuple, copies[["item_id", "segment", "placement"]].astype(str).to_numpy())) <= asked

    pred = gen["predicted"]
    per_ctx = pd.read_csv(run / "generation" / "logged_compare.csv")
    assert pred["n_contexts"] == len(per_ctx) > 0
    assert (per_ctx["best_logged"] >= per_ctx["mean_logged"] - 1e-12).all()
    r = pred["ratios"]["tuned / mean_logged"]
    assert r["low"] <= r["ratio"] <= r["high"]
    assert r["ratio"] == pytest.approx(per_ctx["tuned"].mean() / per_ctx["mean_logged"].mean())
    lift = pred["lift"]
    assert lift["lift"] == pytest.approx(r["ratio"] - 1)
    assert (lift["ab_sample_size_per_arm"] is None) == (lift["lift"] <= 0)
    buys = gen["predicted_purchase"]  # the reward model's P(purchase) for the same contexts
    assert buys["n_contexts"] == pred["n_contexts"]
    assert buys["means"]["tuned"] == pytest.approx(per_ctx["tuned_purchase"].mean())
    assert (per_ctx["tuned_purchase"] <= per_ctx["tuned"] + 1e-12).all()  # P(purchase) <= P(click)


def test_verdict_has_the_numbers_and_every_heading_names_the_data(shop_run):
    _, run, out = shop_run
    verdict = out["verdict"]
    assert "predict" in verdict and "over your logged copy" in verdict and "CTR [" in verdict, verdict
    report = _summary(run, "report")["verdict"]
    assert "predicted CTR lift over your mean logged copy" in report["numbers"]
    health = json.loads((run / "reward" / "model" / "reward_config.json").read_text())["health"]
    assert report["numbers"]["reward model health"].startswith(health["status"])
    # the claim guard reads the shown tuned copy (claim_check on: nothing unbacked is shown)
    tuned_checks = _summary(run, "generation")["copy_checks"]["tuned"]
    assert report["numbers"]["unbacked-claim rate of the shown tuned copy (guard: at most 1%)"].startswith(
        f"{tuned_checks['unbacked_claim']:.1%} of {tuned_checks['copies']} copies")
    assert tuned_checks["unbacked_claim"] == 0.0
    if health["status"] != "ok":  # a model without signal cannot make a candidate: said loudly, with why
        assert report["decision"] == "inconclusive" and "THE REWARD MODEL IS" in verdict
        assert health["reasons"][0] in verdict
    md = (run / "report" / "report.md").read_text()
    top = md.split("## Stages")[0]
    assert report["sentence"] in " ".join(top.replace("\\", "").split()) or "Verdict:" in top
    assert "| purchase rate: tuned / mean logged |" in md and "| CTR: tuned / best logged |" in md
    for heading in ("Reward model", "Generator tuning", "Placement bandit", "Off-policy", "Tuned copy vs the shop's logged"):
        line = next(ln for ln in md.splitlines() if ln.startswith(f"## {heading}"))
        assert "data: your logs (" in line, line
    # checks that need no truth, on the user's logs too: defects, unbacked claims, one phrase everywhere
    checks = _summary(run, "generation")["copy_checks"]
    assert set(checks) == {"base", "tuned"}
    for c in checks.values():
        assert 0.0 <= c["unbacked_claim"] <= 1.0 and 0.0 < c["distinct_share"] <= 1.0
        assert 0.0 < c["top_template_share"] <= 1.0 and c["top_template"]
    assert "Copy checks: defects, unbacked claims, one phrase everywhere" in md and "| unbacked claim |" in md


def test_bandit_without_propensities_says_so_instead_of_simulating(shop_run, tmp_path):
    cfg_path, run, _ = shop_run
    validate = tmp_path / "validate"
    validate.mkdir()
    for name in ("catalog.parquet", "placements.json"):
        (validate / name).write_bytes((run / "validate" / name).read_bytes())
    for name in ("train.parquet", "holdout.parquet"):
        write_table(pd.read_parquet(run / "validate" / name).drop(columns="propensity"), validate / name)
    config = load_config(cfg_path)
    ctx = StageContext("bandit", config, tmp_path / "work", run, 0,
                       {"validate": StageResult("validate", "ran", validate)}, log=lambda _: None)
    with pytest.raises(StageUnavailable, match="no 'propensity' column"):
        stage_bandit(ctx)


def test_requested_contexts_is_seeded_and_capped():
    ctx = pd.DataFrame({"item_id": [f"i{i}" for i in range(50)], "segment": "s", "placement": "p"})
    a, n = requested_contexts(pd.concat([ctx, ctx]), 10, np.random.default_rng(3))
    b, _ = requested_contexts(ctx, 10, np.random.default_rng(3))
    assert n == 50 and len(a) == 10 and a.equals(b)
    assert len(requested_contexts(ctx, 0, np.random.default_rng(3))[0]) == 50


def test_logged_copy_comparison_weights_the_logged_mix_and_takes_the_best():
    from rlopt.pipeline.logged_compare import compare, context_values, lift_and_sample_size, logged_options

    # item a in p: copy "x" shown 3 times, "yy" once; item b has no logged copy in p (left out)
    logs = pd.DataFrame({"item_id": ["a", "a", "a", "a", "b"], "placement": ["p", "p", "p", "p", "q"],
                         "copy_text": ["x", "x", "x", "yy", "z"]})
    contexts = pd.DataFrame({"item_id": ["a", "b"], "segment": ["s", "s"], "placement": ["p", "p"]})
    options = logged_options(logs, contexts)
    assert sorted(options["copy_text"]) == ["x", "yy"] and options["weight"].sum() == pytest.approx(1.0)

    def score(frame):  # P(click) grows with the copy's length: 0.01 per character
        return 0.01 * frame["copy_text"].str.len().to_numpy(float)

    tuned = pd.DataFrame({"item_id": ["a", "a"], "segment": "s", "placement": "p", "copy_text": ["tttt", "tt"]})
    base = tuned.assign(copy_text="b")
    values = context_values({"base": base, "tuned": tuned}, options, score)
    row = values.loc[("a", "s", "p")]
    assert len(values) == 1
    assert row["mean_logged"] == pytest.approx(0.75 * 0.01 + 0.25 * 0.02)  # the shop's mix
    assert row["best_logged"] == pytest.approx(0.02) and row["tuned"] == pytest.approx(0.03)
    out = compare(values, seed=0, n_boot=200)
    assert out["ratios"]["tuned / mean_logged"]["ratio"] == pytest.approx(0.03 / 0.0125)
    assert out["ratios"]["tuned / best_logged"]["ratio"] == pytest.approx(1.5)
    lift = lift_and_sample_size(out, base_ctr=0.05, impressions=10_000)
    assert lift["lift"] == pytest.approx(1.4) and lift["ab_sample_size_per_arm"] > 0
    worse = lift_and_sample_size(compare(values.assign(tuned=0.001), seed=0, n_boot=200), 0.05, 10_000)
    assert worse["lift"] < 0 and worse["ab_sample_size_per_arm"] is None
