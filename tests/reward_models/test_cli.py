"""``rlopt reward train | eval | score`` end to end on simulator output, with the tiny encoder."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rlopt.cli import app
from rlopt.errors import InputError


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(Marketplace.from_toml(DEFAULT_MARKET), 8000, seed=0).write(out)
    return out


@pytest.fixture(scope="module")
def trained(sim_dir, tiny_encoder_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("rm")
    result = CliRunner().invoke(app, [
        "reward", "train", "--logs", str(sim_dir / "train.parquet"), "--catalog", str(sim_dir / "catalog.parquet"),
        "--holdout", str(sim_dir / "holdout.parquet"), "--out", str(out), "--encoder", str(tiny_encoder_dir),
        "--epochs", "4", "--precision", "fp32", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_train_on_simulated_logs_beats_chance(trained):
    _, summary = trained
    assert summary["holdout_click_auc"] > 0.6
    assert summary["holdout_purchase_auc"] > 0.5  # few purchases in 8k impressions: noisy
    assert summary["n_train"] > 0 and summary["best_epoch"] >= 1


def test_train_saves_the_precision(trained):
    model_dir, summary = trained
    assert summary["precision"] == summary["encoder_precision"] == "fp32"
    assert json.loads((model_dir / "reward_config.json").read_text())["precision"] == "fp32"


def test_train_rejects_an_unknown_precision(sim_dir, tmp_path):
    with pytest.raises(InputError, match="auto, fp32, bf16"):
        CliRunner().invoke(app, [
            "reward", "train", "--logs", str(sim_dir / "train.parquet"), "--catalog",
            str(sim_dir / "catalog.parquet"), "--out", str(tmp_path / "rm"), "--precision", "fp8"],
            catch_exceptions=False)


def test_eval_reports_oracle_and_ratio(trained, sim_dir):
    model_dir, _ = trained
    result = CliRunner().invoke(app, ["reward", "eval", "--model", str(model_dir), "--logs",
                                      str(sim_dir / "holdout.parquet"), "--catalog",
                                      str(sim_dir / "catalog.parquet"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("click_auc", "purchase_auc", "click_logloss", "click_ece", "oracle_click_auc", "click_auc_ratio"):
        assert key in out
    assert out["oracle_click_auc"] > out["click_auc"] > 0.6
    assert out["click_auc_ratio"] == pytest.approx(out["click_auc"] / out["oracle_click_auc"])


def test_score_writes_table(trained, sim_dir, tmp_path):
    model_dir, _ = trained
    contexts = pd.read_json(sim_dir / "contexts.jsonl", lines=True).head(30)
    contexts["copy_text"] = [f"Great deal on item {i}, shop now" for i in contexts["item_id"]]
    copies = tmp_path / "copies.jsonl"
    contexts.to_json(copies, orient="records", lines=True)
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(app, ["reward", "score", "--model", str(model_dir), "--copies", str(copies),
                                      "--catalog", str(sim_dir / "catalog.parquet"), "--out", str(out),
                                      "--precision", "bf16", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoder_precision"] == "bf16"
    scored = pd.read_json(out, lines=True)
    assert len(scored) == 30
    assert {"p_click", "p_purchase", "expected_revenue", "reward", "copy_text"} <= set(scored.columns)
    assert (scored["p_purchase"] <= scored["p_click"]).all()


def test_score_streams_a_folder_of_shards_like_the_whole_file(trained, sim_dir, tmp_path):
    """A folder of shards is checked whole, then scored batch by batch: the same rows and scores as
    the one-file path; a bad row in the second shard fails naming it, and nothing is written."""
    import numpy as np

    model_dir, _ = trained
    copies = pd.read_json(sim_dir / "contexts.jsonl", lines=True).head(90)
    copies["copy_text"] = [f"{s} deal on item {i}, shop now" for s, i in zip(copies["segment"], copies["item_id"],
                                                                               strict=True)]
    copies.to_parquet(tmp_path / "copies.parquet", index=False)  # one small file: read whole
    shards = tmp_path / "shards"
    shards.mkdir()
    for k, part in enumerate((copies.iloc[:40], copies.iloc[40:])):
        part.to_parquet(shards / f"part-{k}.parquet", index=False)
    results, tables = {}, {}
    for name, source in (("file", tmp_path / "copies.parquet"), ("shards", shards)):
        out = tmp_path / f"{name}.parquet"
        result = CliRunner().invoke(app, ["reward", "score", "--model", str(model_dir), "--copies", str(source),
                                          "--catalog", str(sim_dir / "catalog.parquet"), "--out", str(out),
                                          "--precision", "fp32", "--json"])
        assert result.exit_code == 0, result.output
        results[name], tables[name] = json.loads(result.stdout), pd.read_parquet(out)
    assert results["shards"]["read"] == "in 2 batches (streamed)" and "read" not in results["file"]
    assert results["shards"]["rows"] == results["file"]["rows"] == 90
    assert results["shards"]["distinct_copies"] == results["file"]["distinct_copies"] == copies["copy_text"].nunique()
    scores = ["p_click", "p_purchase", "expected_revenue", "reward"]
    pd.testing.assert_frame_equal(tables["shards"].drop(columns=scores), tables["file"].drop(columns=scores))
    np.testing.assert_allclose(tables["shards"][scores], tables["file"][scores], rtol=0, atol=1e-6)
    assert results["shards"]["mean_reward"] == pytest.approx(results["file"]["mean_reward"], abs=1e-6)

    bad = copies.iloc[40:].copy()
    bad.iloc[5, bad.columns.get_loc("item_id")] = "no-such-item"
    bad.to_parquet(shards / "part-1.parquet", index=False)
    out = tmp_path / "bad.parquet"
    with pytest.raises(InputError) as info:
        CliRunner().invoke(app, ["reward", "score", "--model", str(model_dir), "--copies", str(shards),
                                 "--catalog", str(sim_dir / "catalog.parquet"), "--out", str(out)],
                           catch_exceptions=False)
    assert "part-1.parquet" in str(info.value) and "item_id" in str(info.value)
    assert not out.exists()


def test_missing_model_file_is_an_input_error(trained, sim_dir, tmp_path):
    import shutil

    model_dir, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").unlink()
    # CliRunner calls the typer app directly; rlopt.cli.main turns this InputError into exit code 2
    with pytest.raises(InputError) as info:
        CliRunner().invoke(app, ["reward", "eval", "--model", str(broken), "--logs", str(sim_dir / "holdout.parquet"),
                                 "--catalog", str(sim_dir / "catalog.parquet")], catch_exceptions=False)
    assert "model.safetensors" in str(info.value)


def test_help_has_examples():
    for cmd in ("train", "eval", "score"):
        result = CliRunner().invoke(app, ["reward", cmd, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_train_json_carries_the_scorer_and_health(trained):
    model_dir, summary = trained
    health = summary["health"]
    assert health["status"] in ("ok", "weak", "no_signal") and isinstance(health["reasons"], list)
    assert health["auc_low"] <= health["auc"] <= health["auc_high"]
    assert {"baseline_auc", "score_std", "calibration_slope", "min_detectable_lift"} <= set(health)
    assert summary["scorer"] in ("encoder", "baseline", "blend")
    assert summary["encoder_click_auc"] > 0.5 and summary["baseline_click_auc"] > 0.5
    saved = json.loads((model_dir / "reward_config.json").read_text())
    assert saved["health"]["status"] == health["status"] and saved["combiner"]["choice"] == summary["scorer"]


def test_eval_reports_the_encoder_and_the_baseline(trained, sim_dir):
    model_dir, summary = trained
    result = CliRunner().invoke(app, ["reward", "eval", "--model", str(model_dir), "--logs",
                                      str(sim_dir / "holdout.parquet"), "--catalog", str(sim_dir / "catalog.parquet"),
                                      "--history", str(sim_dir / "train.parquet"), "--no-oracle", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["scorer"] == summary["scorer"]
    # with the training logs as history, the exposure counts (and so the metrics) are the training run's
    assert out["baseline_click_auc"] == pytest.approx(summary["baseline_click_auc"])
    assert out[f"{out['scorer']}_click_auc"] == pytest.approx(out["click_auc"])
