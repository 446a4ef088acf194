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
    assert "unknown grpo config field 'reward_pairs'" in str(result.exception)


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
    assert isinstance(dpo.exception, InputError) and "applies to grpo/rloo" in str(dpo.exception)


def test_support_penalty_is_an_online_option(tmp_path):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    base = ["tune", "--method", "dpo", "--logs", "l.csv", "--catalog", str(tmp_path / "catalog.jsonl"),
            "--out", str(tmp_path / "o")]
    dpo = runner.invoke(app, [*base, "--support-penalty", "1"])
    assert isinstance(dpo.exception, InputError) and "--support-penalty applies to grpo/rloo" in str(dpo.exception)
    negative = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-penalty", "-1"])
    assert negative.exit_code == 2 and not (tmp_path / "o").exists()
    no_guard = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-top-share", "0.5"])
    assert isinstance(no_guard.exception, InputError) and "needs --support-penalty" in str(no_guard.exception)
    zero = runner.invoke(app, [*base[:2], "grpo", *base[3:], "--support-penalty", "1", "--support-top-share", "0"])
    assert isinstance(zero.exception, InputError) and "support_top_share" in str(zero.exception)
    assert not (tmp_path / "o").exists()
