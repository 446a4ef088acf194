"""Stages ``ab``, ``bandit`` and ``ope``: the evaluations that say, with error bars, what works.

- ``ab``: ``rlopt.ab.simulate_ab`` with arms ``copies:base.jsonl`` vs ``copies:tuned.jsonl``.
- ``bandit``: each configured policy learns online in the placement environment (``envs``);
  cumulative expected regret per step. With the user's logs (``[data] logs``) there is no
  environment: each policy is replayed over the logs instead (rejection-sampling replay,
  :mod:`envs.replay`, kept rounds weighted by ``1/propensity``), or the stage says why not.
- ``ope``: a policy learned from the training logs is evaluated on the held-out logs by the
  ``rlopt.ope`` estimators (settings: :class:`rlopt.ope.config.OPEConfig`, the ``[ope]`` table),
  with intervals; on simulated data the oracle adds its true value on the same shoppers
  (:meth:`rlopt.market.oracle.Oracle.policy_value`).

Every summary carries ``data_source`` (:func:`rlopt.pipeline.config.data_source`): the report
says which data each stage used.
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
from rlopt.pipeline.config import data_source, ope_policy_spec, uses_run_reward_model
from rlopt.pipeline.runner import StageContext, StageUnavailable
from rlopt.pipeline.stages_data import market_path

RATIO_METRICS = ("ctr", "purchase_rate", "revenue_per_impression")


def _sim_market(ctx: StageContext, what: str):
    market = _market_or_none(ctx)
    if market is None:
        raise StageUnavailable(f"{what} needs the simulator's ground truth; external logs have none")
    return market


def _market_or_none(ctx: StageContext):
    """The simulated market (``data/market.toml``), or None for the user's logs."""
    path = ctx.dir("data") / "market.toml"
    return Marketplace.from_toml(path) if path.is_file() else None


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
    return {"data_source": data_source(ctx.config), "primary_metric": cfg.primary_metric, "alpha": cfg.alpha, "metrics": ab_metrics(result),
            "n": {a["name"]: a["impressions"] for a in full["arms"]},
            "users": {a["name"]: a["users"] for a in full["arms"]},
            "srm_pvalue": full["srm"]["pvalue"], "mde": full["mde"], "warnings": full["warnings"]}


def bandit_inputs(config) -> list[str]:
    """The market file the simulated bandits run on (none with the user's logs: replay reads them via 'validate')."""
    return [] if config.data.logs else [str(market_path(config.data.market))]


def stage_bandit(ctx: StageContext) -> dict[str, Any]:
    """Each policy learns online for ``steps`` shoppers (``envs.runner.run_policy``), all with the
    same seed (common random numbers). Writes ``curves.csv``. With the user's logs: replay
    (:func:`stage_bandit_replay`), never the packaged simulated market."""
    if ctx.config.data.logs:
        return stage_bandit_replay(ctx)
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
    return {"data_source": data_source(ctx.config), "env_id": cfg.env_id, "reward": cfg.reward, "steps": cfg.steps,
            "final": final, "curves": curves}


def stage_bandit_replay(ctx: StageContext) -> dict[str, Any]:
    """Rejection-sampling replay of each ``[bandit] policies`` spec over the user's validated logs
    (train then held-out, in time order), kept rounds weighted by ``1/propensity``
    (self-normalized, :func:`envs.replay.replay_evaluate` with ``weighting="ipw"``).

    The replay value of policy ``pi`` is ``V = sum_t w_t 1[pi(x_t)=a_t] r_t / sum_t w_t 1[pi(x_t)=a_t]``
    with ``w_t = 1/propensity_t``; an action is a copy's index in its (item, placement) pool.
    Unavailable (with the reason) when the logs carry no propensities: replay on a non-uniform
    log without them is biased towards what the shop's own policy liked.
    """
    from envs.replay import ReplayData, replay_evaluate
    from rlopt.data import read_placements
    from rlopt.policies import make_policy

    cfg = ctx.config.bandit
    if not ctx.has("validate"):
        raise StageUnavailable("replaying bandits on your logs needs the validated logs (stage 'validate' did not "
                               "finish)")
    src = ctx.dir("validate")
    logs = pd.concat([read_table(src / "train.parquet"), read_table(src / "holdout.parquet")], ignore_index=True)
    if "propensity" not in logs or logs["propensity"].isna().any():
        missing = "no 'propensity' column" if "propensity" not in logs else \
            f"{int(logs['propensity'].isna().sum())} rows without a propensity"
        raise StageUnavailable(f"your logs have {missing}: replaying bandit policies on them would be biased towards "
                               "the shop's own choices. Log the probability with which each copy was chosen "
                               "(column 'propensity') to evaluate bandits on your logs")
    if "copy_id" not in logs:  # the pool index comes from copy_id: one id per distinct text when not logged
        logs = logs.assign(copy_id=pd.factorize(logs["copy_text"].astype(str))[0].astype(str))
    if "timestamp" in logs:
        logs = logs.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if cfg.steps < len(logs):  # [bandit] steps caps the rounds replayed (the earliest ones)
        logs = logs.iloc[:cfg.steps].reset_index(drop=True)
    data = ReplayData.from_logs(logs, read_table(src / "catalog.parquet"), read_placements(src / "placements.json"),
                                reward=cfg.reward, source="your logs")
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(cfg.policies))
    final, curves, rows = [], {}, []
    for spec, seed in zip(cfg.policies, seeds, strict=True):
        res = replay_evaluate(make_policy(spec, data.n_actions, data.dim, rng=np.random.default_rng(seed)), data,
                              batch_size=cfg.batch_size, weighting="ipw")
        d = res.to_dict()
        final.append({"policy": spec, "replay_value": d["value"], "stderr": d["stderr"],
                      "kept_rounds": d["n_matched"], "match_rate": d["match_rate"]})
        step = np.arange(1, res.curve.size + 1)
        keep = np.unique(np.linspace(0, max(res.curve.size - 1, 0), min(200, res.curve.size)).astype(int))
        curves[spec] = {"step": step[keep].tolist(), "value": res.curve[keep].tolist()}
        rows += [{"policy": spec, "kept_round": int(step[i]), "running_value": float(res.curve[i])} for i in keep]
        ctx.log(f"[bandit] replay {spec}: {cfg.reward} rate {d['value']:.4g} (se {d['stderr']:.2g}) over "
                f"{d['n_matched']:,} kept of {data.n_rounds:,} logged rounds")
    pd.DataFrame(rows).to_csv(ctx.work_dir / "curves.csv", index=False)
    return {"data_source": data_source(ctx.config), "mode": "replay", "reward": cfg.reward, "steps": data.n_rounds,
            "n_actions": data.n_actions, "logging_value": float(data.reward.mean()), "final": final,
            "curves": curves}


def stage_ope(ctx: StageContext) -> dict[str, Any]:
    """Off-policy value of a policy learned from the logs (default: greedy on this run's reward
    model over the copies logged for each item x placement), estimated on the held-out logs by each
    estimator with intervals. On simulated data the oracle's true value of that policy on the same
    shoppers comes next to it (click reward only); on the user's logs there is no truth, and any
    ``[ope] reward`` column works."""
    market = _market_or_none(ctx)
    cfg, src = ctx.config.ope, ctx.dir("validate")
    if uses_run_reward_model(cfg.policy) and not ctx.has("reward"):
        raise StageUnavailable("policy 'reward-model' needs this run's reward model, which did not finish")
    if market is None:
        return _ope_on_logs(ctx)
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
    return {"data_source": data_source(ctx.config), "policy": cfg.policy, "reward": "click", "truth": truth, "logging_value": ope.on_policy_value,
            "logging_truth": logged_truth, "n_eval": fb.n_rounds, "n_actions": fb.n_actions,
            "confidence_level": 1 - cfg.alpha, "estimates": estimates, "notes": list(ope.notes)}


def _ope_on_logs(ctx: StageContext) -> dict[str, Any]:
    """OPE on the user's held-out logs: the candidates of a row are the copies logged for its
    item x placement (:func:`rlopt.ope.contract.contract_feedback` without pools), no truth."""
    cfg, src = ctx.config.ope, ctx.dir("validate")
    catalog = read_table(src / "catalog.parquet")
    hold = read_table(src / "holdout.parquet")
    notes = []
    if cfg.max_eval_rows and len(hold) > cfg.max_eval_rows:
        hold = hold.iloc[np.sort(ctx.rng().choice(len(hold), cfg.max_eval_rows, replace=False))]
        notes.append(f"evaluated on a random {cfg.max_eval_rows:,} of the held-out rows (max_eval_rows)")
    fb = contract_feedback(hold.reset_index(drop=True), reward=cfg.reward)
    spec = ope_policy_spec(cfg.policy, ctx.dir("reward") / "model")
    model_rng, boot_rng = np.random.default_rng(ctx.seed).spawn(2)
    dist, q = contract_inputs(fb, spec, catalog=catalog, n_folds=cfg.n_folds, q_model=cfg.q_model, rng=model_rng)
    feedback = {"reward": fb.reward, "action": fb.action, "position": fb.position, "pscore": fb.pscore}
    ope = OffPolicyEvaluation(feedback, make_estimators(cfg.estimators, cfg.lambda_), fallback_to_dm=cfg.fallback_dm)
    table = ope.summarize_off_policy_estimates(dist, q, alpha=cfg.alpha, n_bootstrap_samples=cfg.n_bootstrap_samples,
                                               rng=boot_rng, method=cfg.interval)
    table.reset_index().to_csv(ctx.work_dir / "estimates.csv", index=False)
    estimates = [{"estimator": str(name), "estimate": float(r["estimate"]), "low": float(r["low"]),
                  "high": float(r["high"]), "relative_to_logged": float(r["relative_estimate"])}
                 for name, r in table.iterrows()]
    ctx.log(f"[ope] {cfg.policy} on your held-out logs: " + ", ".join(
        f"{e['estimator']} {e['estimate']:.4g} [{e['low']:.4g}, {e['high']:.4g}]" for e in estimates[:3]))
    return {"data_source": data_source(ctx.config), "policy": cfg.policy, "reward": cfg.reward, "truth": None,
            "logging_value": ope.on_policy_value, "logging_truth": None, "n_eval": fb.n_rounds,
            "n_actions": fb.n_actions, "confidence_level": 1 - cfg.alpha, "estimates": estimates,
            "notes": notes + list(ope.notes)}
