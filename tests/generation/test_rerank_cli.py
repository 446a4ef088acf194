"""`rlopt generate --best-of N --reward-model DIR --few-shot K --logs F`: one reranked copy per context,
examples from the logs in the prompt, a verbatim flag; missing inputs are one-paragraph errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from rlopt.cli import app
from rlopt.data import read_table, write_jsonl, write_placements, write_table
from rlopt.errors import InputError
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, make_logs

runner = CliRunner()


def _logs():
    spec = []
    for item in ("i1", "i2"):
        for seg in ("bargain", "premium"):
            for place in ("push", "home_banner"):
                spec += [(item, seg, place, f"Loved {item} for {seg}", 60, 12, 2),
                         (item, seg, place, f"Plain {item} copy", 60, 3, 0)]
    return make_logs(spec)


@pytest.fixture(scope="module")
def shop(tmp_path_factory, tiny_encoder_dir):
    from reward_models import train_reward_model

    root = tmp_path_factory.mktemp("shop")
    logs = _logs()
    write_table(CATALOG, root / "catalog.jsonl")
    write_table(logs, root / "logs.jsonl")
    write_placements(PLACEMENTS, root / "placements.json")
    write_jsonl(pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "home_banner"},
                              {"item_id": "i2", "segment": "premium", "placement": "push"}]), root / "ctx.jsonl")
    train_reward_model(logs, CATALOG, encoder=str(tiny_encoder_dir), max_epochs=2, progress=False,
                       seed=0).save_pretrained(root / "rm")
    return root


def _args(shop, tiny_causal_lm_dir, out):
    return ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts", str(shop / "ctx.jsonl"),
            "--catalog", str(shop / "catalog.jsonl"), "--placements", str(shop / "placements.json"),
            "--out", str(out), "--json"]


def test_best_of_with_few_shot_writes_one_reranked_copy_per_context(shop, tiny_causal_lm_dir, tmp_path):
    extra = ["--best-of", "3", "--num", "1", "--reward-model", str(shop / "rm"), "--few-shot", "2",
             "--logs", str(shop / "logs.jsonl")]
    result = runner.invoke(app, [*_args(shop, tiny_causal_lm_dir, tmp_path / "copies.jsonl"), *extra])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["best_of"]["n"] == 3 and summary["best_of"]["groups"] == 2
    assert summary["few_shot"]["contexts_with_examples"] == 2 and 0.0 <= summary["few_shot"]["verbatim_rate"] <= 1.0
    copies = read_table(tmp_path / "copies.jsonl")
    assert len(copies) == 2 and set(copies["best_of"]) == {3}
    assert {"rerank_score", "rerank_eligible", "verbatim_example", "examples"} <= set(copies.columns)
    assert all(ex[0].startswith("Loved") for ex in copies["examples"])  # the higher-CTR logged copy first
    again = runner.invoke(app, [*_args(shop, tiny_causal_lm_dir, tmp_path / "again.jsonl"), *extra])
    assert again.exit_code == 0, again.output
    assert read_table(tmp_path / "again.jsonl")["copy_text"].tolist() == copies["copy_text"].tolist()


@pytest.mark.parametrize("extra, column", [(["--best-of", "2"], "--reward-model"),
                                           (["--few-shot", "2"], "--logs"),
                                           (["--rerank-metric", "clicks"], "--rerank-metric")])
def test_missing_inputs_are_named(shop, tiny_causal_lm_dir, tmp_path, extra, column):
    result = runner.invoke(app, [*_args(shop, tiny_causal_lm_dir, tmp_path / "c.jsonl"), *extra])
    assert isinstance(result.exception, InputError) and result.exception.column == column
    assert not (tmp_path / "c.jsonl").exists()
