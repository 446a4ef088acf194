"""`rlopt tune` / `rlopt generate`: help with examples, and bad input as InputError (exit 2 in `main`)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from rlopt.cli import app
from rlopt.data import write_jsonl, write_placements, write_table
from rlopt.errors import InputError
from tests.tuning.tuning_data import CATALOG, PLACEMENTS

runner = CliRunner()


@pytest.mark.parametrize("command", ["tune", "generate"])
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Examples" in result.output and f"rlopt {command}" in result.output


def test_unknown_method_lists_the_valid_ones(tmp_path):
    result = runner.invoke(app, ["tune", "--method", "ppo", "--logs", "l.csv", "--catalog", "c.csv",
                                 "--out", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "valid methods: dpo, grpo, rloo" in str(result.exception)


def test_contexts_with_unknown_item_name_the_line(tmp_path, tiny_causal_lm_dir):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_placements(PLACEMENTS, tmp_path / "placements.json")
    write_jsonl(pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"},
                              {"item_id": "ghost", "segment": "bargain", "placement": "push"}]),
                tmp_path / "ctx.jsonl")
    result = runner.invoke(app, ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts",
                                 str(tmp_path / "ctx.jsonl"), "--catalog", str(tmp_path / "catalog.jsonl"),
                                 "--out", str(tmp_path / "copies.jsonl")])
    assert isinstance(result.exception, InputError)
    assert "row 2" in str(result.exception) and "item_id" in str(result.exception)


def test_generate_writes_seeded_copies(tmp_path, tiny_causal_lm_dir):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_placements(PLACEMENTS, tmp_path / "placements.json")
    write_jsonl(pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"},
                              {"item_id": "i2", "segment": "premium", "placement": "home_banner"}]),
                tmp_path / "ctx.jsonl")
    outs = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts",
                                     str(tmp_path / "ctx.jsonl"), "--catalog", str(tmp_path / "catalog.jsonl"),
                                     "--num", "3", "--seed", "5", "--out", str(tmp_path / f"{name}.jsonl"),
                                     "--json"])
        assert result.exit_code == 0, result.output
        outs.append(pd.read_json(tmp_path / f"{name}.jsonl", lines=True))
    assert len(outs[0]) == 6 and outs[0]["copy_text"].tolist() == outs[1]["copy_text"].tolist()
    assert set(outs[0].columns) >= {"item_id", "segment", "placement", "copy_text", "generator", "sample_idx"}


def test_reward_pairs_only_for_dpo(tmp_path):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_placements(PLACEMENTS, tmp_path / "placements.json")
    result = runner.invoke(app, ["tune", "--method", "grpo", "--reward-pairs", "0.3", "--logs", "l.csv",
                                 "--catalog", str(tmp_path / "catalog.jsonl"), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, InputError)
    assert "--reward-pairs is a field of dpo, not grpo" in str(result.exception)


def test_reward_ensemble_needs_distinct_existing_members(tmp_path):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    (tmp_path / "rm").mkdir()
    base = ["tune", "--method", "grpo", "--logs", "l.csv", "--catalog", str(tmp_path / "catalog.jsonl"),
            "--out", str(tmp_path / "o")]
    twice = runner.invoke(app, [*base, "--reward-model", str(tmp_path / "rm"), "--reward-model", str(tmp_path / "rm")])
    assert isinstance(twice.exception, InputError) and "more than once" in str(twice.exception)
    missing = runner.invoke(app, [*base, "--reward-model", str(tmp_path / "rm"), "--reward-model", str(tmp_path / "no")])
    assert isinstance(missing.exception, InputError) and str(tmp_path / "no") in str(missing.exception)
    dpo = runner.invoke(app, [*base[:2], "dpo", *base[3:], "--reward-ensemble", "min"])
    assert isinstance(dpo.exception, InputError) and "--reward-ensemble is a field of grpo/rloo, not dpo" in str(dpo.exception)


def test_support_penalty_is_an_online_option(tmp_path):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    base = ["tune", "--method", "dpo", "--logs", "l.csv", "--catalog", str(tmp_path / "catalog.jsonl"),
            "--out", str(tmp_path / "o")]
    dpo = runner.invoke(app, [*base, "--support-penalty", "1"])
    assert isinstance(dpo.exception, InputError) and "--support-penalty is a field of grpo/rloo" in str(dpo.exception)
    negative = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-penalty", "-1"])
    assert isinstance(negative.exception, InputError) and "support_penalty (-1.0) must be >= 0" in str(negative.exception)
    assert not (tmp_path / "o").exists()
    no_guard = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-top-share", "0.5"])
    assert isinstance(no_guard.exception, InputError) and "needs support_penalty > 0" in str(no_guard.exception)
    zero = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-penalty", "1", "--support-top-share", "0"])
    assert isinstance(zero.exception, InputError) and "support_top_share" in str(zero.exception)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("method", ["dpo", "grpo", "rloo"])
def test_every_config_field_is_a_flag_and_a_tuning_key(method):
    """One config: each field of the method's config class is an option of `rlopt tune` (both spellings)
    and a key of [tuning]; each option is a field or one of the listed inputs."""
    from rlopt.cli.tune_cmds import RUN_FIELDS, TUNE_INPUTS, TUNE_METHODS, tune_parser
    from rlopt.pipeline.config import config_from_dict
    from rlopt.tuning.config import METHODS, field_names

    assert TUNE_METHODS == METHODS
    parser = tune_parser(method)
    dests = {a.dest for a in parser._actions if a.option_strings} - {"help"}
    fields = set(field_names(method)) - set(RUN_FIELDS)
    assert fields <= dests and dests - fields == set(TUNE_INPUTS)
    flags = {s for a in parser._actions for s in a.option_strings}
    for name in fields:
        assert f"--{name}" in flags and f"--{name.replace('_', '-')}" in flags, name
    # every field is a [tuning] key (type-checked; spot-check a value for a few of them)
    cfg = config_from_dict({"tuning": {"method": method, "learning_rate": 2e-4, "lora_r": 8, "max_steps": 3}})
    assert cfg.tuning.build().lora_r == 8
    for name in fields:
        with pytest.raises(InputError) as err:  # a wrong type names the key, so the key is known
            config_from_dict({"tuning": {"method": method, name: [{"not": "a value"}]}})
        assert "unknown key" not in str(err.value), name


def test_flags_reach_the_config_and_the_preset_fills_the_rest():
    from rlopt.cli.tune_cmds import tune_parser
    from rlopt.tuning.config import make_config

    ns = vars(tune_parser("dpo").parse_args(
        ["--method", "dpo", "--logs", "l", "--catalog", "c", "--out", "o", "--max-steps", "7",
         "--min_confidence", "0.7", "--value-metric", "ctr", "--auto-relax", "--lora-target-modules", "q_proj",
         "v_proj", "--no-guard-pairs"]))
    for key in ("method", "logs", "catalog", "out", "reward_model", "placements", "preset",
                "allow_weak_reward_model", "json"):
        ns.pop(key)
    assert ns == {"max_steps": 7, "min_confidence": 0.7, "value_metric": "ctr", "auto_relax": True,
                  "lora_target_modules": ["q_proj", "v_proj"], "guard_pairs": False}
    cfg = make_config("dpo", "quick", **ns)
    assert (cfg.max_steps, cfg.learning_rate, cfg.num_train_pairs) == (7, 5e-4, 160)


def test_unknown_flag_names_close_matches(tmp_path):
    base = ["tune", "--method", "dpo", "--logs", "l.csv", "--catalog", "c.csv", "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*base, "--min-confidance", "0.8"])
    assert isinstance(result.exception, InputError)
    assert "did you mean --min-confidence?" in str(result.exception) and "rlopt tune --method dpo --help" in str(result.exception)
    bad = runner.invoke(app, [*base, "--min-confidence", "high"])
    assert isinstance(bad.exception, InputError) and "min_confidence" in str(bad.exception)
    missing = runner.invoke(app, ["tune", "--method", "dpo", "--logs", "l.csv"])
    assert isinstance(missing.exception, InputError) and "--catalog" in str(missing.exception)


def test_grpo_help_lists_its_own_fields():
    result = runner.invoke(app, ["tune", "--method", "grpo", "--help"])
    assert result.exit_code == 0 and "--support-penalty" in result.output and "--min-confidence" not in result.output
    assert "presets: quick 40, standard 40, full 300" in " ".join(result.output.split())


def test_tune_cli_trains_with_field_flags_and_auto_relax(tmp_path, tiny_causal_lm_dir):
    """End to end through `rlopt tune`: TRL and rlopt fields as flags reach the trainer; the too-few-pairs
    error becomes a relaxed run with --auto-relax (the values used are in tuning.json)."""
    import json

    from tests.tuning.test_pair_mining_knobs import weak_logs

    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_placements(PLACEMENTS, tmp_path / "placements.json")
    write_table(weak_logs(), tmp_path / "logs.jsonl")  # 7 pairs at min_confidence 0.9, 12 at 0.85
    base = ["tune", "--method", "dpo", "--logs", str(tmp_path / "logs.jsonl"), "--catalog",
            str(tmp_path / "catalog.jsonl"), "--generator", str(tiny_causal_lm_dir), "--max-steps", "1",
            "--per-device-train-batch-size", "2", "--num-train-pairs", "4", "--max_length", "128",
            "--min-pairs", "12", "--json"]
    strict = runner.invoke(app, [*base, "--out", str(tmp_path / "strict")])
    assert isinstance(strict.exception, InputError) and "need min_pairs=12" in str(strict.exception)
    assert "min_confidence 0.85 would give 12" in str(strict.exception)
    assert "pair_scope 'item'" in str(strict.exception)
    # the item scope at the same threshold comes before a lower threshold
    with pytest.warns(UserWarning, match=r"auto_relax: .* mining with min_confidence=0.9, .*pair_scope='item'"):
        relaxed = runner.invoke(app, [*base, "--out", str(tmp_path / "relaxed"), "--auto-relax"])
    assert relaxed.exit_code == 0, relaxed.output
    meta = json.loads((tmp_path / "relaxed" / "tuning.json").read_text())
    assert meta["steps"] == 1 and meta["data"]["pairs"] >= 12 and meta["data"]["pair_scope"] == "item"
    assert meta["config"]["min_confidence"] == 0.9 and meta["config"]["pair_scope"] == "item"
    assert meta["config"]["per_device_train_batch_size"] == 2
    pooled = runner.invoke(app, [*base, "--out", str(tmp_path / "pooled"), "--pair-scope", "item"])
    assert pooled.exit_code == 0, pooled.output
