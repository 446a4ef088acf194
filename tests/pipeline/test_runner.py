"""The stage cache and resumption, on small fake stages (no models; milliseconds)."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from rlopt.errors import InputError
from rlopt.pipeline.config import config_from_dict
from rlopt.pipeline.runner import (
    FAULT_ENV,
    InjectedFault,
    Stage,
    StageUnavailable,
    derive_seed,
    run_stages,
)

CALLS: Counter = Counter()


def _stage_a(ctx):
    CALLS["a"] += 1
    (ctx.work_dir / "a.txt").write_text(f"impressions={ctx.config.data.impressions} seed={ctx.seed}")
    return {"n": ctx.config.data.impressions}


def _stage_b(ctx):
    CALLS["b"] += 1
    upstream = (ctx.dir("a") / "a.txt").read_text()
    (ctx.work_dir / "b.txt").write_text(f"{upstream} epochs={ctx.config.reward.max_epochs}")
    return {"epochs": ctx.config.reward.max_epochs, "n": ctx.summary("a")["n"]}


def _stage_c(ctx):
    CALLS["c"] += 1
    (ctx.work_dir / "c.txt").write_text((ctx.dir("b") / "b.txt").read_text() + f" method={ctx.config.tuning.method}")
    return {"value": float(ctx.rng().random())}


def _stage_side(ctx):
    CALLS["side"] += 1
    (ctx.work_dir / "side.txt").write_text(str(ctx.config.bandit.steps))
    return {}


def _stage_report(ctx):
    CALLS["report"] += 1
    missing = sorted(d for d in ("c", "side") if not ctx.has(d))
    (ctx.work_dir / "report.txt").write_text(json.dumps({"missing": missing}))
    return {"missing": missing}


def _stages(side_fn=_stage_side):
    return [
        Stage("a", _stage_a, sections=("data",)),
        Stage("b", _stage_b, sections=("reward",), deps=("a",)),
        Stage("c", _stage_c, sections=("tuning",), deps=("b",)),
        Stage("side", side_fn, sections=("bandit",), deps=("a",)),
        Stage("report", _stage_report, sections=("report",), optional_deps=("c", "side")),
    ]


def _config(tmp_path, **sections):
    return config_from_dict({"run": {"out_dir": str(tmp_path / "run")}, **sections}, base_dir=tmp_path)


@pytest.fixture(autouse=True)
def _reset_calls(monkeypatch):
    CALLS.clear()
    monkeypatch.delenv(FAULT_ENV, raising=False)


def _mtimes(run_dir):
    return {p.parent.name: p.stat().st_mtime_ns for p in run_dir.glob("*/stage.json")}


def test_second_run_is_fully_cached(tmp_path):
    cfg = _config(tmp_path)
    first = run_stages(cfg, _stages(), log=lambda _: None)
    assert set(first.statuses().values()) == {"ran"}
    before = _mtimes(first.run_dir)
    second = run_stages(cfg, _stages(), log=lambda _: None)
    assert set(second.statuses().values()) == {"cached"}
    assert CALLS == Counter({"a": 1, "b": 1, "c": 1, "side": 1, "report": 1})
    assert _mtimes(second.run_dir) == before
    assert second.results["c"].summary == first.results["c"].summary
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    assert manifest["stages"]["c"]["status"] == "cached"
    assert manifest["stages"]["c"]["compute_wall_s"] >= 0.0
    assert manifest["machine"]["cpus"] == os.cpu_count() and manifest["machine"]["torch_cpu_capability"]


def test_crash_mid_stage_resumes_without_redoing_finished_stages(tmp_path, monkeypatch):
    cfg = _config(tmp_path)
    monkeypatch.setenv(FAULT_ENV, "c")
    with pytest.raises(InjectedFault):
        run_stages(cfg, _stages(), log=lambda _: None)
    run_dir = tmp_path / "run"
    assert (run_dir / "b" / "stage.json").is_file()
    assert not (run_dir / "c").exists() and (run_dir / "c.tmp" / "c.txt").is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["c"]["status"] == "failed"
    finished = _mtimes(run_dir)
    monkeypatch.delenv(FAULT_ENV)
    resumed = run_stages(cfg, _stages(), log=lambda _: None)
    assert resumed.statuses() == {"a": "cached", "b": "cached", "c": "ran", "side": "ran", "report": "ran"}
    assert CALLS == Counter({"a": 1, "b": 1, "c": 2, "side": 1, "report": 1})
    assert {k: v for k, v in _mtimes(run_dir).items() if k in finished} == finished
    assert not (run_dir / "c.tmp").exists()


def test_changing_one_section_reruns_that_stage_and_downstream_only(tmp_path):
    run_stages(_config(tmp_path), _stages(), log=lambda _: None)
    CALLS.clear()
    changed = run_stages(_config(tmp_path, reward={"max_epochs": 7}), _stages(), log=lambda _: None)
    assert changed.statuses() == {"a": "cached", "b": "ran", "c": "ran", "side": "cached", "report": "ran"}
    assert "epochs=7" in (changed.run_dir / "c" / "c.txt").read_text()
    CALLS.clear()
    side = run_stages(_config(tmp_path, reward={"max_epochs": 7}, bandit={"steps": 5}), _stages(), log=lambda _: None)
    assert side.statuses() == {"a": "cached", "b": "cached", "c": "cached", "side": "ran", "report": "ran"}


def test_same_seed_same_outputs_other_seed_differs(tmp_path):
    a = run_stages(_config(tmp_path / "x"), _stages(), log=lambda _: None).results["c"].summary
    b = run_stages(_config(tmp_path / "y"), _stages(), log=lambda _: None).results["c"].summary
    c = run_stages(_config(tmp_path / "z", run={"seed": 1, "out_dir": str(tmp_path / "z")}), _stages(),
                   log=lambda _: None).results["c"].summary
    assert a == b != c
    assert derive_seed(0, "c") != derive_seed(0, "b")


def test_unavailable_stage_blocks_dependents_and_report_says_so(tmp_path):
    def unavailable(ctx):
        raise StageUnavailable("rlopt.policies is not installed")

    stages = _stages()
    stages[1] = Stage("b", unavailable, sections=("reward",), deps=("a",))
    result = run_stages(_config(tmp_path), stages, log=lambda _: None)
    assert result.statuses() == {"a": "ran", "b": "unavailable", "c": "blocked", "side": "ran", "report": "ran"}
    assert "rlopt.policies is not installed" in result.results["c"].reason
    assert result.results["report"].summary == {"missing": ["c"]}
    assert not (tmp_path / "run" / "b").exists() and not (tmp_path / "run" / "b.tmp").exists()
    # once the area lands, the next run does the missing stages and refreshes the report
    again = run_stages(_config(tmp_path), _stages(), log=lambda _: None)
    assert again.statuses() == {"a": "cached", "b": "ran", "c": "ran", "side": "cached", "report": "ran"}


def test_bad_input_in_a_stage_propagates_as_input_error(tmp_path):
    def bad(ctx):
        raise InputError("no such placement", file="logs.csv", row=3, column="placement")

    stages = _stages()
    stages[3] = Stage("side", bad, sections=("bandit",), deps=("a",))
    with pytest.raises(InputError, match="row 3"):
        run_stages(_config(tmp_path), stages, log=lambda _: None)


def test_force_redoes_a_stage_and_its_downstream(tmp_path):
    run_stages(_config(tmp_path), _stages(), log=lambda _: None)
    result = run_stages(_config(tmp_path), _stages(), force=["b"], log=lambda _: None)
    assert result.statuses() == {"a": "cached", "b": "ran", "c": "ran", "side": "cached", "report": "ran"}


def test_stage_order_is_checked(tmp_path):
    stages = _stages()
    with pytest.raises(ValueError, match="does not run before it"):
        run_stages(_config(tmp_path), [stages[1], stages[0]], log=lambda _: None)
