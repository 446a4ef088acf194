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


# ---------------------------------------------------------------- the pipeline's generation stage
class _Ctx:
    """The part of a StageContext the generation helpers use."""

    seed = 0

    def __init__(self, root, generation: dict, has_reward: bool = True):
        from rlopt.pipeline.config import config_from_dict

        self.config = config_from_dict({"generation": generation, "run": {"threads": 1}})
        self.root, self.has_reward, self.lines = root, has_reward, []

    def log(self, line: str) -> None:
        self.lines.append(line)

    def has(self, stage: str) -> bool:
        return stage == "reward" and self.has_reward

    def dir(self, stage: str):
        return self.root / stage


def test_generation_stage_reranks_and_prompts_with_examples_when_configured(shop, tiny_causal_lm_dir, tmp_path):
    import shutil

    from rlopt.generation.models import resolve_generator
    from rlopt.pipeline.stages_model import _generate_with_progress, _steering

    shutil.copytree(shop / "rm", tmp_path / "reward" / "model")
    contexts = read_table(shop / "ctx.jsonl")
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    ctx = _Ctx(tmp_path, {"best_of": 3, "few_shot": 2, "num_samples": 2, "batch_size": 4})
    with_ex, scorer, steering = _steering(ctx, contexts, CATALOG, _logs())
    assert scorer is not None and steering["contexts_with_examples"] == 2
    frame = _generate_with_progress(ctx, "base", model, tok, with_ex, CATALOG, PLACEMENTS, None, scorer=scorer)
    assert len(frame) == 4 and set(frame["best_of"]) == {3} and frame["sample_idx"].tolist() == [0, 1, 0, 1]
    assert "verbatim_example" in frame.columns and all(len(e) == 2 for e in frame["examples"])

    plain_ctx = _Ctx(tmp_path, {"best_of": 3, "num_samples": 1, "few_shot": 0}, has_reward=False)
    same, none, said = _steering(plain_ctx, contexts, CATALOG, _logs())
    assert none is None and said["best_of"] == 1 and "did not finish" in said["note"] and "examples" not in same
    off = _steering(_Ctx(tmp_path, {"few_shot": 0}), contexts, CATALOG, _logs())
    assert off[1] is None and off[2] == {"best_of": 1, "rerank_metric": "reward", "few_shot": 0}
    default = _steering(_Ctx(tmp_path, {}), contexts, CATALOG, _logs())  # few_shot = 3 by default
    assert default[2]["few_shot"] == 3 and "examples" in default[0].columns


def test_resample_redraws_only_title_fallbacks(shop, tiny_causal_lm_dir, tmp_path):
    plain = runner.invoke(app, [*_args(shop, tiny_causal_lm_dir, tmp_path / "plain.jsonl"), "--num", "3",
                                "--resample", "0"])
    again = runner.invoke(app, [*_args(shop, tiny_causal_lm_dir, tmp_path / "again.jsonl"), "--num", "3",
                                "--resample", "2"])
    assert plain.exit_code == 0 and again.exit_code == 0, (plain.output, again.output)
    before, after = json.loads(plain.output), json.loads(again.output)
    assert "resample" not in before and after["resample"]["rounds"] == 2
    assert after["title_fallbacks"] <= before["title_fallbacks"]
    first, redrawn = read_table(tmp_path / "plain.jsonl"), read_table(tmp_path / "again.jsonl")
    kept = (redrawn["resample_round"] == 0).to_numpy()
    # a copy that did not fall back is the same sample with or without resampling
    assert redrawn.loc[kept, "copy_text"].tolist() == first.loc[kept, "copy_text"].tolist()


def test_generation_stage_sums_resample_counts_over_chunks(shop, tiny_causal_lm_dir, tmp_path):
    """[generation] resample: the stage's frame carries the resample counts of all its chunks."""
    from rlopt.generation.models import resolve_generator
    from rlopt.pipeline.stages_model import _generate_with_progress

    contexts = read_table(shop / "ctx.jsonl")
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    ctx = _Ctx(tmp_path, {"resample": 2, "num_samples": 3, "batch_size": 1})
    frame = _generate_with_progress(ctx, "base", model, tok, contexts, CATALOG, PLACEMENTS, None)
    counts = frame.attrs["resample"]
    first = int(counts.get("title_fallbacks_first", 0))
    assert counts.get("recovered", 0) == first - frame.attrs["title_fallbacks"]
    assert frame.attrs["title_fallbacks"] == int(frame["title_fallback"].sum())
