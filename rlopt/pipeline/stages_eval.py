"""Stages ``ab``, ``bandit`` and ``ope``: the evaluations that say, with error bars, what works.

- ``ab``: ``rlopt.ab.simulate_ab`` with arms ``copies:base.jsonl`` vs ``copies:tuned.jsonl``.
- ``bandit``: each configured policy learns online in the placement environment (``envs``);
  cumulative expected regret per step.
- ``ope``: a policy learned from the training logs is evaluated on the held-out logs by the
  ``rlopt.ope`` estimators (settings: :class:`rlopt.ope.config.OPEConfig`, the ``[ope]`` table);
  the oracle gives its true value on the same shoppers (:meth:`rlopt.market.oracle.Oracle.policy_value`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from envs.runner import run_policy
from rlopt.ab.simulate import simulate_ab
from rlopt.data import read_table
from rlopt.io_utils import write_json_atomic
from rlopt.market import Marketplace
from rlopt.market.oracle import Oracle
from rlopt.ope.contract import contract_feedback
from rlopt.ope.evaluate import contract_inputs, make_estimators
from rlopt.ope.meta import OffPolicyEvaluation
from rlopt.pipeline.config import ope_policy_spec, uses_run_reward_model
from rlopt.pipeline.runner import StageContext, StageUnavailable
from rlopt.pipeline.stages_data import market_path

RATIO_METRICS = ("ctr", "purchase_rate", "revenue_per_impression")


def _sim_market(ctx: StageContext, what: str):
    path = ctx.dir("data") / "market.toml"
    if not path.is_file():
        raise StageUnavailable(f"{what} needs the simulator's ground truth; external logs have none")
    return Marketplace.from_toml(path)


def ab_metrics(result) -> dict[str, dict[str, float]]:
    """Tuned-vs-base rows of an ``ABResult`` as ``{metric: {control, treatment, diff, ci_low,
    ci_high, pvalue, relative_lift, true_control, true_treatment}}`` (the verdict's input)."""
    rows = [r for r in result.rows() if r["metric"] in RATIO_METRICS]
    control = {r["metric"]: r for r in rows if r["lift"] is None}
    out = {}
    for r in rows:
        if r["lift"] is None:
            continue
        c = control[r["metric"]]
        out[r["metric"]] = {"control": float(c["estimate"]), "treatment": float(r["estimate"]),
                            "diff": float(r["lift"]), "ci_low": float(r["ci"][0]), "ci_high": float(r["ci"][1]),
                            "pvalue": float(r["pvalue"]), "relative_lift": float(r["relative"]),
                            "true_control": float(c["true"]), "true_treatment": float(r["true"])}
    return out


def stage_ab(ctx: StageContext) -> dict[str, Any]:
    """Simulated A/B test: base generator (control) vs tuned generator (treatment)."""
    market = _sim_market(ctx, "the simulated A/B test")
    cfg, gen = ctx.config.ab, ctx.dir("generation")
    arms = {"base": f"copies:{gen / 'base.jsonl'}", "tuned": f"copies:{gen / 'tuned.jsonl'}"}
    ctx.log(f"[ab] {cfg.impressions:,} impressions, base vs tuned")
    with warnings.catch_warnings():  # its warnings are also in result.warnings, which the report shows
        warnings.simplefilter("ignore", UserWarning)
        result = simulate_ab(market, arms, cfg.impressions, seed=ctx.seed, alpha=cfg.alpha)
    full = result.to_dict()
    write_json_atomic(ctx.work_dir / "ab_result.json", full)
    return {"primary_metric": cfg.primary_metric, "alpha": cfg.alpha, "metrics": ab_metrics(result),
            "n": {a["name"]: a["impressions"] for a in full["arms"]},
            "users": {a["name"]: a["users"] for a in full["arms"]},
            "srm_pvalue": full["srm"]["pvalue"], "mde": full["mde"], "warnings": full["warnings"]}


def bandit_inputs(config) -> list[str]:
    return [str(market_path(config.data.market))]


def stage_bandit(ctx: StageContext) -> dict[str, Any]:
    """Each policy learns online for ``steps`` shoppers (``envs.runner.run_policy``), all with the
    same seed (common random numbers). Writes ``curves.csv``."""
    cfg = ctx.config.bandit
    market = str(market_path(ctx.config.data.market))
    curves, final, rows = {}, [], []
    for spec in cfg.policies:
        run = run_policy(cfg.env_id, spec, cfg.steps, seed=ctx.seed, batch_size=cfg.batch_size,
                                max_points=200, market=market, reward=cfg.reward, n_shoppers=cfg.n_shoppers,
                                table_seed=ctx.seed)
        s = run.summary()
        steps, regret = run.curve_steps.tolist(), run.curve_regret.tolist()
        curves[spec] = {"step": steps, "regret": regret}
        final.append({"policy": spec, "cumulative_regret": s["cumulative_regret"],
                      "regret_per_1k_steps": 1000 * s["regret_per_step"], "mean_reward": s["mean_reward"],
                      "steps_per_second": s["steps_per_second"]})
        rows += [{"policy": spec, "step": a, "cum_regret": b} for a, b in zip(steps, regret, strict=True)]
        ctx.log(f"[bandit] {spec}: cumulative regret {s['cumulative_regret']:.1f} over {run.steps:,} steps")
    pd.DataFrame(rows).to_csv(ctx.work_dir / "curves.csv", index=False)
    return {"env_id": cfg.env_id, "reward": cfg.reward, "steps": cfg.steps, "final": final, "curves": curves}


def stage_ope(ctx: StageContext) -> dict[str, Any]:
    """Off-policy value (click rate) of a policy learned from the logs (default: greedy on this
    run's reward model), estimated on the held-out logs by each estimator, next to the oracle's
    true value of that policy on the same shoppers."""
    market = _sim_market(ctx, "OPE against the truth")
    cfg, src = ctx.config.ope, ctx.dir("validate")
    if uses_run_reward_model(cfg.policy) and not ctx.has("reward"):
        raise StageUnavailable("policy 'reward-model' needs this run's reward model, which did not finish")
    if cfg.reward != "clicked":
        raise StageUnavailable(f"[ope] reward = {cfg.reward!r}: the simulator's truth here is the click rate; "
                               "use `rlopt ope --reward` on the logs for other rewards")
    catalog = read_table(src / "catalog.parquet")
    hold = read_table(src / "holdout.parquet")
    if cfg.max_eval_rows and len(hold) > cfg.max_eval_rows:
        hold = hold.iloc[np.sort(ctx.rng().choice(len(hold), cfg.max_eval_rows, replace=False))]
    hold = hold.reset_index(drop=True)
    pools = {key: list(market.copy_pool(*key)) for key in set(zip(hold["item_id"], hold["placement"], strict=True))}
    fb = contract_feedback(hold, reward=cfg.reward, pools=pools)
    spec = ope_policy_spec(cfg.policy, ctx.dir("reward") / "model")
    model_rng, boot_rng = np.random.default_rng(ctx.seed).spawn(2)
    dist, q = contract_inputs(fb, spec, catalog=catalog, n_folds=cfg.n_folds, q_model=cfg.q_model, rng=model_rng)
    oracle = Oracle(market)
    p_true = oracle.candidate_click_probs(fb)  # (n, k): every candidate, every logged shopper
    truth = oracle.policy_value(fb, dist, p_true)
    logged_truth = float(np.mean(p_true[np.arange(fb.n_rounds), fb.action]))
    feedback = {"reward": fb.reward, "action": fb.action, "position": fb.position, "pscore": fb.pscore}
    ope = OffPolicyEvaluation(feedback, make_estimators(cfg.estimators, cfg.lambda_), fallback_to_dm=cfg.fallback_dm)
    table = ope.summarize_off_policy_estimates(dist, q, ground_truth=truth, alpha=cfg.alpha,
                                               n_bootstrap_samples=cfg.n_bootstrap_samples, rng=boot_rng,
                                               method=cfg.interval)
    table.reset_index().to_csv(ctx.work_dir / "estimates.csv", index=False)
    estimates = [{"estimator": str(name), "estimate": float(r["estimate"]), "low": float(r["low"]),
                  "high": float(r["high"]), "covers_truth": bool(r["covers"])} for name, r in table.iterrows()]
    return {"policy": cfg.policy, "reward": "click", "truth": truth, "logging_value": ope.on_policy_value,
            "logging_truth": logged_truth, "n_eval": fb.n_rounds, "n_actions": fb.n_actions,
            "confidence_level": 1 - cfg.alpha, "estimates": estimates, "notes": list(ope.notes)}
