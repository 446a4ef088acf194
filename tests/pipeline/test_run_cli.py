"""`rlopt run` end to end in a subprocess (CleanRL-style smoke run) on tiny models and a small
market: a crash mid-run resumes without redoing finished stages, a config change reruns only the
affected stages, and the report renders in headless Chromium. Plus bad-config exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlopt.pipeline.runner import FAULT_ENV
from rlopt.report.browser import find_chromium, render_check
from rlopt.testing import write_tiny_experiment
from rlopt.tuning.export import PICKLE_SUFFIXES
from tests._cli import run_rlopt

RLOPT = [sys.executable, "-c", "from rlopt.cli import main; main()"]


def _rlopt(*args, env=None, check=True):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    proc = subprocess.run([*RLOPT, *args], capture_output=True, text=True, env=full_env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def _write_config(path: Path, llm: Path, enc: Path, bandit_steps: int = 600) -> Path:
    return write_tiny_experiment(path, llm, enc, bandit_steps=bandit_steps, market_name="small_market.toml",
                                 name="tiny", title="tiny run")


def _markers(run: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in run.glob("*/stage.json")}


def test_crash_resume_config_change_and_report(tmp_path, tiny_causal_lm_dir, tiny_encoder_dir):
    cfg = _write_config(tmp_path / "tiny.toml", tiny_causal_lm_dir, tiny_encoder_dir)
    run = tmp_path / "run"

    crashed = _rlopt("run", str(cfg), env={FAULT_ENV: "generation"}, check=False)
    assert crashed.returncode == 1, crashed.stderr[-2000:]
    assert "fault injected into stage 'generation'" in crashed.stderr
    done = _markers(run)
    assert set(done) == {"data", "validate", "reward", "tuning"}
    assert json.loads((run / "manifest.json").read_text())["stages"]["generation"]["status"] == "failed"

    resumed = json.loads(_rlopt("run", str(cfg), "--json").stdout)
    stages = {k: v["status"] for k, v in resumed["stages"].items()}
    assert stages == {"data": "cached", "validate": "cached", "reward": "cached", "tuning": "cached",
                      "generation": "ran", "ab": "ran", "bandit": "ran", "ope": "ran", "report": "ran"}
    assert {k: v for k, v in _markers(run).items() if k in done} == done  # finished stages untouched
    assert resumed["verdict"].startswith("Verdict: ") and resumed["verdict"].endswith(".")
    report = Path(resumed["report"])
    md = (report.parent / "report.md").read_text()
    for heading in ("Reward model", "Generator tuning", "True vs proxy", "Simulated A/B", "Placement bandit",
                    "Off-policy", "Sample copy", "Verdict"):
        assert f"## {heading}" in md
    assert "Not available" not in md
    assert "<DataFrame>" not in md and "&lt;DataFrame&gt;" not in md  # the run's own frames are not named as inputs
    assert "| data: honesty_pairs |" in md  # the tuning data's counts are
    sections = [h for h in re.findall(r"^## .*$", md, flags=re.M) if h not in ("## Stages", "## Verdict")]
    assert len(sections) == 9 and all(" — data: simulated market small_market.toml; " in h for h in sections), sections
    assert md.index("| behind the verdict — data: simulated market small_market.toml |") < md.index("\n## ")
    # no pickle anywhere in a finished run (TRL's checkpoints and training_args.bin do not survive it)
    assert [p for p in run.rglob("*") if p.suffix in PICKLE_SUFFIXES] == []

    before = _markers(run)
    _write_config(cfg, tiny_causal_lm_dir, tiny_encoder_dir, bandit_steps=400)
    proc = _rlopt("run", str(cfg), "--json")
    changed = json.loads(proc.stdout)
    # the console: one line per stage (progress is transient, library chatter hidden), all of it in log.txt
    lines = proc.stderr.splitlines()
    assert len(lines) == len(changed["stages"]), proc.stderr
    assert all(re.fullmatch(r"\[\w+\] (done in [\d.]+s|cached \(fingerprint \w+\))", ln) for ln in lines), lines
    assert "[bandit] running" in (run / "log.txt").read_text() and "[bandit] running" not in proc.stderr
    reran = sorted(k for k, v in changed["stages"].items() if v["status"] == "ran")
    assert reran == ["bandit", "report"]
    after = _markers(run)
    assert {k: after[k] for k in before if k not in reran} == {k: before[k] for k in before if k not in reran}

    if find_chromium() is None:
        pytest.skip("chromium is not installed (run scripts/setup-browser.sh); report not rendered")
    rendered = render_check(report)
    assert rendered["broken"] == [] and rendered["console"] == []
    assert rendered["images"] >= 6
    assert "Verdict:" in rendered["dom"]


@pytest.mark.parametrize(
    ("toml", "pattern"),
    [
        ("[tuning]\nmethd = 'dpo'\n", r"unknown key 'methd' in section 'tuning'; did you mean method\? valid keys: method, preset"),
        ("[bandit]\npolicies = ['linucbb']\n", r"key 'bandit.policies': unknown policy 'linucbb'"),
        ("[ope]\nestimators = ['ipw', 'dr2']\n", r"key 'ope.estimators': unknown estimator"),
        ("[generation]\ntemperature = 0.0\n", r"key 'generation.temperature': must be >= 0.01"),
        ("[tunning]\n", r"unknown section 'tunning'; did you mean tuning\? valid sections: run, data"),
        ("[data]\nlogs = 'missing.csv'\ncatalog = 'cat.csv'\n", r"does not exist: .*missing\.csv"),
        ("[ab]\nimpressions = 'many'\n", r"key 'ab.impressions': expected int, got str"),
        ("[tuning]\nmethod = 'ppo'\n", r"must be one of dpo, grpo, rloo"),
        ("[run\n", r"not valid TOML"),
    ],
)
def test_bad_config_exits_2_naming_the_problem(tmp_path, monkeypatch, capsys, toml, pattern):
    # in-process (the console script's entry point): a subprocess per case cost an interpreter start and
    # rlopt's imports each; test_missing_config_file_exits_2 checks the exit code of a real process
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_rlopt(monkeypatch, capsys, "run", cfg)
    assert code == 2, err
    assert re.search(pattern, " ".join(err.split())), err
    assert "Traceback" not in err


def test_missing_config_file_exits_2(tmp_path):
    proc = _rlopt("run", str(tmp_path / "nope.toml"), check=False)
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_help_has_an_example():
    out = _rlopt("run", "--help").stdout
    assert "rlopt run experiments/quickstart.toml" in out and "--json" in out and "--force" in out
