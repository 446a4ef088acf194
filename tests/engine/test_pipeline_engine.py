"""``[run] engine``: the pipeline's validate stage splits external logs out of core (a folder of shards,
or any logs on Ray) into the same tables as the in-memory path, and the generation stage's chunks give
the same copies on Ray actors as in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlopt.data import read_table, write_table
from rlopt.pipeline.config import config_from_dict
from rlopt.pipeline.runner import run_stages
from rlopt.pipeline.stages import build_stages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _validate(tmp_path: Path, name: str, logs: Path, **run) -> Path:
    cfg = config_from_dict({"run": {"out_dir": str(tmp_path / name), **run},
                            "data": {"logs": str(logs), "catalog": str(EXAMPLES / "catalog.csv"),
                                     "placements": str(EXAMPLES / "placements.toml"), "holdout_fraction": 0.25}})
    result = run_stages(cfg, build_stages(cfg)[:2], log=lambda line: None)
    assert all(s == "ran" for s in result.statuses().values()), result.statuses()
    return tmp_path / name / "validate"


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    logs = read_table(EXAMPLES / "logs.csv", decode_json=False)
    root = tmp_path_factory.mktemp("pipeline-shards") / "logs"
    root.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(logs)), 3)):
        write_table(logs.iloc[rows], root / f"part-{k}.parquet")
    return root


def _tables(stage_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: read_table(stage_dir / file) for name, file in
            (("train", "train.parquet"), ("holdout", "holdout.parquet"), ("contexts", "contexts.jsonl"))}


def test_validate_stage_streams_shards_like_the_in_memory_split(shards, tmp_path):
    memory = _validate(tmp_path, "memory", EXAMPLES / "logs.csv")
    streamed = _validate(tmp_path, "streamed", shards)
    for name, frame in _tables(memory).items():
        pd.testing.assert_frame_equal(_tables(streamed)[name], frame, obj=name)


def test_validate_stage_on_ray_equals_local(shards, ray_local, tmp_path):
    local = _validate(tmp_path, "local", shards)
    on_ray = _validate(tmp_path, "ray", shards, engine="ray")
    for name, frame in _tables(local).items():
        pd.testing.assert_frame_equal(_tables(on_ray)[name], frame, obj=name)


def test_generation_chunks_on_ray_equal_local(tiny_causal_lm_dir, ray_engine, tmp_path):
    from rlopt.engine.generation import GeneratorSpec
    from rlopt.generation.models import resolve_generator
    from rlopt.pipeline.stages_model import _generate_with_progress
    from tests.engine.test_generation_engines import CONTEXTS
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS

    class Ctx:
        seed = 5

        def __init__(self):
            self.config = config_from_dict({"generation": {"num_samples": 2, "batch_size": 2},
                                            "run": {"threads": 1}})
            self.lines = []

        def log(self, line):
            self.lines.append(line)

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    ctx = Ctx()
    local = _generate_with_progress(ctx, "base", model, tok, CONTEXTS, CATALOG, PLACEMENTS, None)
    on_ray = _generate_with_progress(ctx, "base", None, None, CONTEXTS, CATALOG, PLACEMENTS, None, engine=ray_engine,
                                     spec=GeneratorSpec(str(tiny_causal_lm_dir), device="cpu"))
    pd.testing.assert_frame_equal(on_ray, local)
    assert on_ray.attrs == local.attrs and len(local) == 2 * len(CONTEXTS)
    assert ctx.lines[-1].startswith("[generation] base: 7/7 contexts")


def test_unreachable_ray_address_in_the_config_names_the_key(tmp_path):
    import socket

    from rlopt.engine import engine_for_run
    from rlopt.errors import InputError

    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(InputError) as info:
        engine_for_run("ray", address, "exp.toml")
    err = info.value
    assert err.key == "run.ray_address" and err.file == "exp.toml" and err.value == address
    assert f"cannot reach a Ray cluster at {address}" in str(err) and "run.engine = 'local'" in str(err)
    assert "--engine" not in str(err)
