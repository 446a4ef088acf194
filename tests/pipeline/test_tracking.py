"""rlopt's own end-of-run numbers (reward health, A/B, OPE) go to the tracker named by [tuning] report_to."""

from __future__ import annotations

import pytest

from rlopt.errors import InputError
from rlopt.pipeline import RunResult, StageResult, config_from_dict
from rlopt.tracking import RUN_LOG_SUBDIR, log_metrics, log_run


def _result(run_dir):
    results = {
        "reward": StageResult("reward", "ran", summary={"health": {"auc": 0.71, "ece": 0.02}, "rows": 1200}),
        "ab": StageResult("ab", "cached", summary={"metrics": {"lift": 1.8, "p_value": 0.003}, "primary_metric": "ctr"}),
        "ope": StageResult("ope", "ran", summary={"estimates": {"dr": {"value": 0.031}}, "curve": [1, 2, 3]}),
        "bandit": StageResult("bandit", "failed", summary={"final": {"reward": 9.0}}),
    }
    return RunResult(run_dir=run_dir, results=results, manifest={})


def test_run_metrics_land_in_a_tensorboard_event_file(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged = log_run(config_from_dict({"tuning": {"report_to": "tensorboard"}}), _result(tmp_path))
    assert logged == {"rlopt/reward/health/auc": 0.71, "rlopt/reward/health/ece": 0.02, "rlopt/reward/rows": 1200.0,
                      "rlopt/ab/metrics/lift": 1.8, "rlopt/ab/metrics/p_value": 0.003,
                      "rlopt/ope/estimates/dr/value": 0.031}  # the failed stage and non-numbers left out
    events = EventAccumulator(str(tmp_path / RUN_LOG_SUBDIR))
    events.Reload()
    assert set(events.Tags()["scalars"]) == set(logged)
    assert events.Scalars("rlopt/ab/metrics/lift")[0].value == pytest.approx(1.8)


def test_report_to_none_logs_nothing_and_writes_nothing(tmp_path):
    assert log_run(config_from_dict({}), _result(tmp_path)) == {}
    assert not (tmp_path / RUN_LOG_SUBDIR).exists()


def test_tensorboard_needs_a_directory():
    with pytest.raises(InputError, match="needs a log directory"):
        log_metrics({"a": 1.0}, "tensorboard")
