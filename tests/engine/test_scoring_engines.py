"""``rlopt reward score --engine ray``: each actor loads the model once; scores equal the local
command's within 1e-6, rows in the same order.

Marked slow: each Ray actor is a fresh process that imports torch and loads the model, which
costs more than the default suite's budget for the engine tests on 2 shared cores
(``benchmarks/bench_engine.py`` compares the scores of both engines as well).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rlopt.engine.local import LocalEngine
from rlopt.engine.scoring import score_on_engine
from tests._cli import run_rlopt

SCORES = ["p_click", "p_purchase", "expected_revenue", "reward"]


@pytest.fixture(scope="module")
def scoring_inputs(tiny_encoder_dir, tmp_path_factory):
    """A tiny reward model (random 2-layer BERT encoder, one epoch) and 600 copy rows from synthetic logs."""
    import torch

    from reward_models import train_reward_model
    from reward_models.synthetic import make_synthetic_logs
    from reward_models.train import time_split
    from rlopt.data import write_table

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: one thread is faster on a shared 2-core machine
    try:
        synth = make_synthetic_logs(1500, n_items=20, rng=3)
        train, holdout = time_split(synth.logs, 0.25)
        model = train_reward_model(train, synth.catalog, holdout=holdout, encoder=str(tiny_encoder_dir),
                                   max_epochs=1, progress=False, seed=0)
    finally:
        torch.set_num_threads(threads)
    root = tmp_path_factory.mktemp("scoring")
    model.save_pretrained(root / "model")
    copies = synth.logs[["item_id", "segment", "placement", "copy_text"]].drop_duplicates().head(600)
    copies = copies.reset_index(drop=True)
    write_table(copies, root / "copies.jsonl")
    write_table(synth.catalog, root / "catalog.parquet")
    return root


@pytest.mark.slow  # both commands load the model again, and Ray starts its actors (a minute on 2 shared cores)
def test_score_cli_ray_equals_local(scoring_inputs, ray_local, monkeypatch, capsys, tmp_path):
    root = scoring_inputs
    tables, results = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.parquet"
        run = run_rlopt(monkeypatch, capsys, "reward", "score", "--model", root / "model", "--copies",
                        root / "copies.jsonl", "--catalog", root / "catalog.parquet", "--out", out,
                        "--precision", "fp32", "--engine", engine, "--json")
        assert run.code == 0, run.err
        results[engine] = json.loads(run.out)
        tables[engine] = pd.read_parquet(out)
    local, ray = tables["local"], tables["ray"]
    assert len(local) == 600 and list(ray.columns) == list(local.columns)
    pd.testing.assert_frame_equal(ray.drop(columns=SCORES), local.drop(columns=SCORES))
    np.testing.assert_allclose(ray[SCORES].to_numpy(), local[SCORES].to_numpy(), rtol=0, atol=1e-6)
    assert local["p_click"].std() > 0  # the scores vary: the comparison is not between constants
    assert results["ray"]["engine"] == "ray" and results["ray"]["encoder_precision"] == "fp32"
    for key in ("rows", "distinct_copies"):
        assert results["ray"][key] == results["local"][key]
    for key in ("mean_p_click", "mean_p_purchase", "mean_reward"):
        assert results["ray"][key] == pytest.approx(results["local"][key], abs=1e-6)


@pytest.mark.slow  # Ray actors import torch and load the model (about half a minute on 2 shared cores)
def test_chunks_on_two_actors_equal_one_pass(scoring_inputs, ray_engine, tmp_path):
    """Many chunks, two actors: each chunk's scores equal scoring the whole table at once."""
    from reward_models import RewardModel
    from rlopt.data import read_catalog, read_copies

    root = scoring_inputs
    cat = read_catalog(root / "catalog.parquet")
    frame = read_copies(root / "copies.jsonl", cat)
    whole = RewardModel.from_pretrained(root / "model", precision="fp32").score(frame, cat)
    for name, engine in (("local", LocalEngine()), ("ray", ray_engine)):
        done = score_on_engine(frame, cat, root / "model", engine, out=tmp_path / f"{name}.jsonl",
                               precision="fp32", chunk_rows=64, concurrency=2)
        got = pd.read_json(tmp_path / f"{name}.jsonl", lines=True)
        assert done["rows"] == len(frame) == len(got)
        assert list(got["copy_text"]) == list(frame["copy_text"])
        np.testing.assert_allclose(got[SCORES].to_numpy(), whole[SCORES].to_numpy(), rtol=0, atol=1e-6)


@pytest.mark.slow  # Ray actors import torch and load the model (about half a minute on 2 shared cores)
def test_pipeline_proxy_on_ray_scores_like_the_local_model(scoring_inputs, ray_engine):
    """``[run] engine = "ray"``: the generation stage's proxy scores on actors, equal to the local model's."""
    from rlopt.data import read_catalog, read_copies
    from rlopt.engine.scoring import RewardModelOnEngine
    from rlopt.pipeline.stages_model import proxy_model

    class Ctx:  # what proxy_model reads of a StageContext
        def has(self, stage):
            return stage == "reward"

        def dir(self, stage):
            return scoring_inputs if stage == "reward" else None

    root = scoring_inputs
    cat = read_catalog(root / "catalog.parquet")
    frame = read_copies(root / "copies.jsonl", cat).iloc[::-1]  # an index out of order stays with its rows
    local, on_ray = proxy_model(Ctx()), proxy_model(Ctx(), ray_engine)
    assert isinstance(on_ray, RewardModelOnEngine) and not isinstance(local, RewardModelOnEngine)
    on_ray.chunk_rows = 128  # several chunks, two actors
    want, got = local.score(frame, cat), on_ray.score(frame, cat)
    assert list(got.columns) == SCORES and got.index.equals(frame.index)
    np.testing.assert_allclose(got.to_numpy(), want[SCORES].to_numpy(), rtol=0, atol=1e-6)
    empty = on_ray.score(frame.iloc[:0], cat)
    assert len(empty) == 0 and list(empty.columns) == SCORES


def test_pipeline_proxy_on_the_local_engine_equals_the_model(scoring_inputs):
    """The engine stand-in scores chunk by chunk what the model scores at once (in-process engine: fast)."""
    from reward_models import RewardModel
    from rlopt.data import read_catalog, read_copies
    from rlopt.engine.scoring import RewardModelOnEngine

    root = scoring_inputs
    cat = read_catalog(root / "catalog.parquet")
    frame = read_copies(root / "copies.jsonl", cat).head(200)
    want = RewardModel.from_pretrained(root / "model").score(frame, cat)
    got = RewardModelOnEngine(root / "model", LocalEngine(), chunk_rows=64).score(frame, cat)
    assert list(got.columns) == SCORES and got.index.equals(frame.index)
    np.testing.assert_allclose(got.to_numpy(), want[SCORES].to_numpy(), rtol=0, atol=1e-6)
