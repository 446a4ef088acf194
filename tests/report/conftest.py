"""A complete report-data dict with made-up but well-formed numbers (renderer tests only)."""

from __future__ import annotations

import pytest


def _metric(control, diff, half, p):
    return {"control": control, "treatment": control + diff, "diff": diff, "ci_low": diff - half,
            "ci_high": diff + half, "pvalue": p, "relative_lift": diff / control}


@pytest.fixture
def report_data():
    steps = list(range(0, 50, 5))
    return {
        "title": "Test report <&>",
        "run_name": "unit",
        "config": "experiments/test.toml",
        "seed": 0,
        "generated": "2026-01-01T00:00:00Z",
        "stages": [{"name": "data", "status": "ran", "wall_s": 1.5, "reason": ""},
                   {"name": "ope", "status": "unavailable", "wall_s": 0.0, "reason": "rlopt.ope missing"}],
        "data": {"rows": {"train impressions": 8000, "quarantined rows": 0}},
        "reward": {"metrics": {"auc_click": 0.71, "ece_click": 0.004},
                   "calibration": [{"mean_predicted": p / 100, "observed": p / 100 + 0.002, "count": 100 + p}
                                   for p in range(1, 10)]},
        "tuning": {"method": "dpo", "facts": {"steps": 50},
                   "curves": {"step": steps, "loss": [0.69 - 0.01 * i for i in range(10)],
                              "rewards/margins": [0.02 * i for i in range(10)]}},
        "overopt": {"rows": [{"generator": "base", "proxy_reward": 0.10, "true_reward": 0.020},
                             {"generator": "tuned", "proxy_reward": 0.14, "true_reward": 0.023}]},
        "ab": {"primary_metric": "purchase_rate", "n": {"base": 5000, "tuned": 5000},
               "metrics": {"purchase_rate": _metric(0.02, 0.003, 0.001, 1e-4), "ctr": _metric(0.08, 0.004, 0.003, 0.01)}},
        "bandit": {"final": [{"policy": "random", "regret": 120.0}, {"policy": "linucb", "regret": 30.0}],
                   "curves": {"random": {"step": steps, "regret": [2.4 * s for s in steps]},
                              "linucb": {"step": steps, "regret": [0.6 * s for s in steps]}}},
        "ope": {"unavailable": "rlopt.ope is not installed"},
        "samples": {"rows": [{"segment": "bargain", "placement": "push", "item": "Kettle",
                              "base": "Buy a kettle", "tuned": "Kettle | 20% off today <b>"}]},
        "verdict": {"decision": "ship", "reason": "significant lift on purchase_rate"},
    }
