"""End-to-end OPE of one policy spec on one log file: what ``rlopt ope`` runs.

Contract logs use the logged pool of each ``(item_id, placement)`` as its candidates and a
cross-fitted reward model: logistic regression on context, hashed copy words and slot
(``q_model="text"``) or the smoothed empirical CTR of each copy (``"ctr"``); OBD logs use the 80 items and the cross-fitted
logistic :class:`~rlopt.ope.regression.RegressionModel` on user and item features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlopt.errors import InputError
from rlopt.ope.config import ESTIMATORS, FORMATS, OPEConfig, check_estimators
from rlopt.ope.contract import contract_feedback, copy_text_features, empirical_ctr
from rlopt.ope.meta import OffPolicyEvaluation
from rlopt.ope.specs import greedy_dist, parse_spec, reward_model_scores
from rlopt.seeding import as_rng

__all__ = ["ESTIMATORS", "OPEConfig", "check_estimators", "contract_inputs", "make_estimators", "run_ope"]



def make_estimators(names: tuple[str, ...] | list[str] = ESTIMATORS, lambda_: float = 100.0) -> list:
    """Estimator instances by ``estimator_name``; ``lambda_`` for switch-DR and DR-shrinkage."""
    from rlopt import ope

    factories = {
        "ipw": ope.InverseProbabilityWeighting,
        "snipw": ope.SelfNormalizedInverseProbabilityWeighting,
        "dm": ope.DirectMethod,
        "dr": ope.DoublyRobust,
        "sndr": ope.SelfNormalizedDoublyRobust,
        "switch-dr": lambda: ope.SwitchDoublyRobust(lambda_=lambda_),
        "dr-os": lambda: ope.DoublyRobustWithShrinkage(lambda_=lambda_),
    }
    return [factories[n]() for n in dict.fromkeys(check_estimators(names))]


def _obd_inputs(cfg: OPEConfig, logs: Path, catalog, rng: np.random.Generator, notes: list[str], rows_rng=None):
    from rlopt.data.obd import load_obd
    from rlopt.ope.obd_policies import bts_action_dist, uniform_action_dist
    from rlopt.ope.regression import RegressionModel

    spec = parse_spec(cfg.policy)
    fb = load_obd(logs)
    n, k, slots = fb.n_rounds, fb.n_actions, fb.len_list
    if spec.name in ("uniform", "random"):
        dist = uniform_action_dist(n, k, slots)
    elif spec.name == "bts":
        target = load_obd(spec.arg, user_categories=fb.user_categories)
        if target.n_actions != k or target.len_list != slots:
            raise InputError(f"the BTS log at {spec.arg} has {target.n_actions} items x {target.len_list} slots, "
                             f"the evaluated log {k} x {slots}", file=str(spec.arg))
        opts = {o: spec.options[o] for o in ("method", "n_sim", "prior_strength") if o in spec.options}
        dist = bts_action_dist(target, n, rng=rng, **opts)
        notes.append(f"BTS action_dist from {target.source} ({opts.get('method', 'posterior')}); "
                         f"its on-policy CTR is {target.on_policy_value():.6g}")
    elif spec.name == "logged-best":
        ctr = empirical_ctr(fb.position, fb.action, fb.reward, k, n_folds=cfg.n_folds, rng=rng)
        one = greedy_dist(ctr, np.ones((n, k), dtype=bool), spec.epsilon)
        dist = np.repeat(one[:, :, None], slots, axis=2)
    else:
        raise InputError(f"policy spec {spec.name!r} is not available for OBD logs; use uniform, bts:PATH or "
                         "logged-best", rule="--policy SPEC")
    q = RegressionModel(n_actions=k, len_list=slots).fit_predict(
        fb.context, fb.action, fb.reward, fb.position, n_folds=cfg.n_folds, rng=rng)
    feedback = {"reward": fb.reward, "action": fb.action, "position": fb.position, "pscore": fb.pscore}
    return feedback, dist, q, {"n_rounds": n, "n_actions": k, "len_list": slots}


def contract_inputs(fb, policy: str, *, catalog=None, n_folds: int = 5, q_model: str = "text",
                    epsilon_default: float = 0.0, rng=None):
    """``(action_dist, estimated_rewards_by_reg_model)`` for ``policy`` on a :class:`ContractFeedback`.

    Both of shape (n_rounds, n_actions, len_list); the policy does not depend on the slot.
    """
    rng = as_rng(rng)
    spec = parse_spec(policy)
    k, slots = fb.n_actions, fb.len_list
    ctr = empirical_ctr(fb.group, fb.action, fb.reward, k, n_folds=n_folds, rng=rng)
    eps = spec.options.get("epsilon", epsilon_default)
    if spec.name in ("uniform", "random"):
        one = fb.valid / fb.valid.sum(axis=1, keepdims=True)
    elif spec.name == "logged-best":
        one = greedy_dist(ctr, fb.valid, eps)
    elif spec.name == "reward-model":
        one = greedy_dist(reward_model_scores(spec.arg, fb, catalog), fb.valid, eps)
    else:
        raise InputError(f"policy spec {spec.name!r} is for OBD logs (--format obd)", rule="--policy SPEC")
    dist = np.repeat(one[:, :, None], slots, axis=2)
    if q_model == "ctr":
        q = np.repeat(ctr[:, :, None], slots, axis=2)
    else:
        from rlopt.ope.regression import RegressionModel

        q = RegressionModel(n_actions=k, len_list=slots, action_context=copy_text_features(fb)).fit_predict(
            fb.context, fb.action, fb.reward, fb.position, n_folds=n_folds, rng=rng)
    return dist, q


def _contract_inputs(cfg: OPEConfig, logs: Path, catalog, rng: np.random.Generator, notes: list[str],
                     rows_rng: np.random.Generator | None = None):
    from rlopt.data import read_catalog, read_logs

    catalog_path = catalog or Path(logs).parent / "catalog.parquet"
    if not Path(catalog_path).exists():
        raise InputError("contract logs are validated against a catalog: pass --catalog F (no catalog.parquet "
                         f"next to {logs})", file=str(catalog_path))
    catalog = read_catalog(catalog_path)
    frame = read_logs(logs, catalog)
    if cfg.max_eval_rows and len(frame) > cfg.max_eval_rows:
        subset = np.sort(as_rng(rows_rng).choice(len(frame), cfg.max_eval_rows, replace=False))
        frame = frame.iloc[subset].reset_index(drop=True)
        notes.append(f"evaluated on a random {cfg.max_eval_rows:,} of the log's rows (max_eval_rows)")
    fb = contract_feedback(frame, reward=cfg.reward)
    dist, q = contract_inputs(fb, cfg.policy, catalog=catalog, n_folds=cfg.n_folds, q_model=cfg.q_model, rng=rng)
    feedback = {"reward": fb.reward, "action": fb.action, "position": fb.position, "pscore": fb.pscore}
    return feedback, dist, q, {"n_rounds": fb.n_rounds, "n_actions": fb.n_actions, "len_list": fb.len_list,
                               "n_pools": len(fb.pool_copies)}


def run_ope(cfg: OPEConfig, logs: str | Path, *, catalog: str | Path | None = None, format: str = "contract",
            seed: int = 0) -> dict[str, Any]:
    """Estimate ``cfg.policy``'s value on ``logs`` with every requested estimator.

    Parameters
    ----------
    cfg : OPEConfig
    logs : path
        Contract impression log, or an OBD log folder with ``format="obd"``.
    catalog : path, optional
        Contract logs' catalog (default: ``catalog.parquet`` next to ``logs``).
    format : {"contract", "obd"}
    seed : int
        Seeds the folds, Monte-Carlo and the bootstrap.

    Returns
    -------
    dict
        ``logs, format, policy, reward, n_rounds, n_actions, len_list, on_policy_value,
        confidence_level, estimates`` (list of ``estimator, estimate, low, high,
        relative_to_logged``) and ``notes``.
    """
    if format not in FORMATS:
        raise InputError(f"`--format` must be one of {', '.join(FORMATS)}, got {format!r}", key="format")
    if not Path(logs).exists():
        raise InputError("log file not found", file=str(logs))
    estimators = make_estimators(cfg.estimators, cfg.lambda_)
    rng = as_rng(seed)
    model_rng, boot_rng, rows_rng = rng.spawn(3)  # the first two as before max_eval_rows existed
    build = _obd_inputs if format == "obd" else _contract_inputs
    notes: list[str] = []
    feedback, dist, q, shape = build(cfg, Path(logs), catalog, model_rng, notes, rows_rng)
    ope = OffPolicyEvaluation(feedback, estimators, fallback_to_dm=cfg.fallback_dm)
    table = ope.summarize_off_policy_estimates(dist, q, alpha=cfg.alpha, n_bootstrap_samples=cfg.n_bootstrap_samples,
                                               rng=boot_rng, method=cfg.interval)
    estimates = [
        {"estimator": name, "estimate": row.estimate, "low": row.low, "high": row.high,
         "relative_to_logged": row.relative_estimate}
        for name, row in table.iterrows()
    ]
    return {
        "logs": str(logs), "format": format, "policy": cfg.policy,
        "reward": "click" if format == "obd" else cfg.reward, **shape,
        "on_policy_value": ope.on_policy_value, "confidence_level": 1 - cfg.alpha, "interval": cfg.interval,
        "estimates": estimates, "notes": notes + ope.notes,
    }
