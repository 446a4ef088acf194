"""Every experiment script runs as a subprocess with a tiny budget and writes the JSON its readers use.

Each test runs ``python -m experiments.<area>.<script>`` from the repository root (as the READMEs say),
then reads the JSON it wrote: the keys the docs' results page reads, and values that would be wrong if
the script were (numbers in range, counts that add up, the machine recorded). The tuning scripts share
one tiny ``compare`` run (2-layer random models, an 8-item market).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OBD_SAMPLE = ROOT / "tests" / "data" / "obd"


def run_script(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m module args`` from the repository root; fails the test with its output unless rc 0."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{module} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def read(path: Path) -> dict:
    assert path.is_file(), f"{path} was not written"
    return json.loads(path.read_text(), parse_constant=lambda _: float("nan"))


def check_machine(record: dict) -> None:
    assert record["machine"]["cpus"] >= 1 and record["machine"]["python"]


def test_aa_fpr(tmp_path):
    out = tmp_path / "aa.json"
    run_script("experiments.ab.aa_fpr", "--reps", "20", "--impressions", "3000", "--pre-impressions", "3000",
               "--looks", "5", "--out", str(out))
    d = read(out)
    check_machine(d)
    assert d["config"]["reps"] == 20 and d["users_in_experiment"] > 0 and 0 < d["true_ctr"] < 1
    rows = {r["test"]: r for r in d["rows"]}
    assert {"ctr_delta", "clicks_per_user_cuped", "srm_at_alpha", "msprt_reject", "peeking_reject"} <= set(rows)
    for r in rows.values():
        assert r["rejections"] == round(r["fpr"] * 20) and r["ci95"][0] <= r["fpr"] <= r["ci95"][1], r
    # naive peeking looks 5 times at the same data: it rejects at least whenever the last look does
    assert rows["peeking_reject"]["rejections"] >= rows["last_look_reject"]["rejections"]


def test_aa_full_sim(tmp_path):
    out = tmp_path / "full.json"
    run_script("experiments.ab.aa_full_sim", "--runs", "2", "--impressions", "2000", "--out", str(out))
    d = read(out)
    check_machine(d)
    names = {r["test"] for r in d["rows"]}
    assert {"ctr", "srm_mismatch (p < 0.001)", "msprt_ctr_20_looks"} <= names
    assert all(r["rejections"] in (0, 1, 2) and r["fpr"] == r["rejections"] / 2 for r in d["rows"])


def test_sequential_power(tmp_path):
    out = tmp_path / "sp.json"
    run_script("experiments.ab.sequential_power", "--reps", "8", "--impressions", "4000", "--looks", "5",
               "--lifts", "0.0", "1.0", "--out", str(out))
    d = read(out)
    check_machine(d)
    rows = {r["lift"]: r for r in d["rows"]}
    assert set(rows) == {0.0, 1.0}
    # doubling the true CTR is found far more often than no change at all (A/A: about alpha)
    assert rows[1.0]["fixed_power"] > rows[0.0]["fixed_power"]
    assert rows[1.0]["planned_power_normal_approx"] > 0.5 > rows[0.0]["planned_power_normal_approx"]
    for r in rows.values():
        assert 0 < r["msprt_mean_sample_fraction"] <= 1


def test_regret(tmp_path):
    run_script("experiments.bandits.regret_100k", "--steps", "400", "--seeds", "2", "--policies", "uniform",
               "linucb", "--name", "tiny", "--out-dir", str(tmp_path))
    d = read(tmp_path / "tiny.json")
    check_machine(d)
    assert (tmp_path / "tiny.png").stat().st_size > 0
    assert set(d["summary"]) == {"epsilon-greedy", "uniform", "linucb"} and d["args"]["steps"] == 400
    assert d["summary"]["epsilon-greedy"]["ratio_to_epsilon_greedy"] == 1.0
    for s in d["summary"].values():
        # regret = what the best copy would have earned minus what the policy earned (expected values)
        assert 0 <= s["regret_mean"] <= s["oracle_reward_mean"]
    assert len(d["runs"]["linucb"]) == 2


def test_ope_coverage(tmp_path):
    out = tmp_path / "cov.json"
    run_script("experiments.ope.coverage", "--reps", "2", "--n-rounds", "300", "--n-impressions", "600",
               "--n-bootstrap", "20", "--out", str(out))
    d = read(out)
    check_machine(d)
    syn = d["synthetic"]
    assert 0 < syn["setup"]["truth"] < 1
    for method in ("percentile", "bca"):
        for est, s in syn["summary"][method].items():
            assert s["coverage"] in (0.0, 0.5, 1.0), (est, s)  # 2 repetitions
            assert s["mean_width"] > 0 and s["rmse"] >= abs(s["bias"]) - 1e-12
    assert set(d["market"]["summary"]) == {"uniform", "logged-best:epsilon=0.1"}


def test_ope_obd(tmp_path):
    out = tmp_path / "obd.json"
    run_script("experiments.ope.obd_experiment", "--data", str(OBD_SAMPLE), "--n-bootstrap", "20", "--n-sim", "200",
               "--n-folds", "2", "--out", str(out))
    d = read(out)
    check_machine(d)
    assert len(d["runs"]) == 3
    for r in d["runs"]:
        assert 0 < r["ground_truth"] < 1 and r["n_rounds"] > 0
        for name, e in r["estimators"].items():
            assert e["low"] <= e["estimate"] <= e["high"], (r["case"], name)
            assert e["covers"] == (e["low"] <= r["ground_truth"] <= e["high"])
            assert math.isclose(e["relative_error"], abs(e["estimate"] - r["ground_truth"]) / r["ground_truth"],
                                rel_tol=1e-6)


def test_bad_input_is_one_paragraph_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.tuning.guard_pairs", "--pair", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "CONTROL_DIR:OPTION_DIR" in proc.stderr and "Traceback" not in proc.stderr


# --- tuning: one tiny compare run, then the scripts that read run directories ---------------------


@pytest.fixture(scope="module")
def compare_run(tmp_path_factory, tiny_causal_lm_dir, tiny_encoder_dir):
    """A finished tiny ``compare`` run (DPO and GRPO from the base): its directory and market file."""
    from rlopt.testing import write_small_market

    base = tmp_path_factory.mktemp("compare")
    market = write_small_market(base / "market.toml")
    run_script("experiments.tuning.compare", "--out", str(base / "run"), "--market", str(market),
               "--impressions", "4000", "--eval-contexts", "6", "--num", "1", "--dpo-steps", "2", "--grpo-steps", "2",
               "--dpo-set", "num_train_pairs=8", "min_pairs=4", "--methods", "dpo", "grpo",
               "--generator", str(tiny_causal_lm_dir), "--reward-set", f"encoder={tiny_encoder_dir}", "max_epochs=1",
               "--results", str(base / "recorded.json"), timeout=900)
    return base / "run", market, base / "recorded.json"


def test_compare(compare_run):
    run, _, recorded = compare_run
    d = read(run / "results.json")
    assert read(recorded) == d  # --results: the summary is recorded there too
    check_machine(d)
    assert set(d["generators"]) == {"base", "dpo", "grpo"} and set(d["ratio_vs_base"]) == {"dpo", "grpo"}
    assert d["eval_contexts"] == 6 and d["train_impressions"] > 0
    for name, g in d["generators"].items():
        assert 0 <= g["ctr"]["mean"] <= 1 and g["ctr"]["n"] == 6, name
    for m, r in d["ratio_vs_base"].items():
        assert r["p_click"]["low"] <= r["p_click"]["ratio"] <= r["p_click"]["high"], m
        assert d["tuning"][m]["steps"] == 2
    # every step was built in this run and carries the library cache's marker
    assert d["reused"] and not any(d["reused"].values())
    for step in ("sim", "reward_model", "tuned-dpo", "tuned-grpo"):
        assert len(read(run / step / "stage.json")["fingerprint"]) == 64


def test_compare_holds_items_out(compare_run):
    """Nothing about the held-out items is trained on: the training logs lack them; evaluation uses only them."""
    import pandas as pd

    run, _, _ = compare_run
    d = read(run / "results.json")
    held = set(d["held_out_items"])
    assert held
    train = pd.read_parquet(run / "train_items.parquet", columns=["item_id"])
    assert not held & set(train["item_id"].astype(str))
    copies = pd.read_json(run / "copies-base.jsonl", lines=True)
    assert set(copies["item_id"].astype(str)) <= held


def test_guard_pairs(compare_run, tmp_path):
    run, market, _ = compare_run
    run_script("experiments.tuning.guard_pairs", "--pair", f"{run}:{run}", "--market", str(market),
               "--name", "pairs", "--out-dir", str(tmp_path))
    d = read(tmp_path / "pairs.json")
    check_machine(d)
    # a run paired with itself: the same copies, so every ratio is exactly 1
    assert d["ctr_ratio_per_pair"] == [1.0] and d["ctr_ratio_geometric_mean"] == 1.0
    assert d["pairs"][0]["vs_base"]["control"] == d["pairs"][0]["vs_base"]["option"]


@pytest.mark.slow
def test_rm_agreement(compare_run, tmp_path):
    run, _, _ = compare_run
    run_script("experiments.tuning.rm_agreement", "--out", str(run), "--generator", "grpo", "--name", "rma",
               "--out-dir", str(tmp_path), timeout=900)
    d = read(tmp_path / "rma.json")
    check_machine(d)
    assert d == {**read(run / "rm_agreement-grpo.json"), "machine": d["machine"]}
    assert set(d["proxy_ratio_tuned_over_base"]) == {"tuned against: reward_model", "other seed, all users",
                                                      "other seed, users half A", "other seed, users half B"}
    assert all(r > 0 for r in d["proxy_ratio_tuned_over_base"].values())
    assert d["true_ctr_ratio"] == read(run / "results.json")["ratio_vs_base"]["grpo"]["p_click"]["ratio"]
    for share in d["share_naming_the_item"].values():
        assert 0 <= share <= 1
