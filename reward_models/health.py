"""Is the trained reward model usable? Held-out AUC with its interval, score spread, calibration slope.

After training, on held-out logged rows (the ``--holdout`` logs, else the out-of-fold predictions on
the latest training slice):

- click AUC with a DeLong 95% interval (DeLong, DeLong & Clarke-Pearson, Biometrics 1988): the
  variance of the AUC is ``V10 / n_pos + V01 / n_neg`` from the placement values of each positive
  and negative, so no resampling (and no seed) is needed;
- the hashed n-gram baseline's AUC on the same rows;
- the spread of the scores: std of ``p_click`` across distinct (item, copy) pairs, and the mean
  within-item std (what an RL generator feeds on: a constant reward teaches nothing);
- the calibration slope: ``s`` in ``logit P(click) = s * logit(p) + c`` fitted on the rows (1 =
  calibrated, ~0 = no signal, < 1 over-confident).

``status``: ``no_signal`` when the within-item spread collapsed or the AUC interval reaches 0.5 with
AUC < ``NO_SIGNAL_AUC``; ``weak`` when the interval reaches 0.5, the model's AUC is below the
baseline's, or the slope is outside ``SLOPE_RANGE``; else ``ok``. The report says what would help.

:func:`traffic_power` turns the logs' traffic into the minimum detectable CTR lift of an A/B test
and the sample size to confirm a predicted lift (``rlopt.ab.power``). :func:`require_usable` is the
gate ``rlopt tune --method grpo|rloo`` and ``rlopt run`` call before online RL.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression

from rlopt.errors import InputError
from rlopt.io_utils import json_ready

NO_SIGNAL_AUC = 0.55  # below this, an interval reaching 0.5 means "no signal"
SLOPE_RANGE = (0.5, 2.0)  # calibration slopes outside are flagged
MIN_RELATIVE_SPREAD = 1e-3  # within-item std / mean p_click below this: the scores are a constant
BASELINE_MARGIN = 0.01  # model AUC this far below the baseline's is flagged
Z95 = float(stats.norm.isf(0.025))


def delong_auc(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """AUC of scores ``p`` (n,) for labels ``y`` (n,) and its DeLong standard error (nan if one class).

    Ties count one half. ``V10[i]`` = share of negatives scored below positive ``i``; ``V01[j]`` =
    share of positives scored above negative ``j``; ``var = var(V10) / n_pos + var(V01) / n_neg``.

    >>> auc, se = delong_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> auc
    0.75
    """
    y = np.asarray(y) > 0
    p = np.asarray(p, np.float64)
    pos, neg = p[y], p[~y]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan, math.nan
    ranks_all = stats.rankdata(p)
    ranks_pos, ranks_neg = stats.rankdata(pos), stats.rankdata(neg)
    v10 = (ranks_all[y] - ranks_pos) / len(neg)
    v01 = 1.0 - (ranks_all[~y] - ranks_neg) / len(pos)
    auc = float(v10.mean())
    var = (np.var(v10, ddof=1) if len(pos) > 1 else 0.0) / len(pos) + \
          (np.var(v01, ddof=1) if len(neg) > 1 else 0.0) / len(neg)
    return auc, float(math.sqrt(max(var, 0.0)))


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Slope ``s`` of ``logit P(y=1) = s * logit(p) + c`` (near-unpenalized logistic fit)."""
    y = np.asarray(y, np.float64)
    if y.min() == y.max():
        return math.nan
    q = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    x = (np.log(q) - np.log1p(-q)).reshape(-1, 1)
    if np.ptp(x) < 1e-12:
        return 0.0
    return float(LogisticRegression(C=1e6, max_iter=1000).fit(x, y).coef_[0][0])


def score_spread(scores: pd.DataFrame) -> dict[str, float]:
    """Spread of ``scores`` (columns ``item_id, copy_text, p_click``) across distinct copies.

    Returns ``score_std`` (std over distinct (item, copy) means), ``score_std_within_item`` (mean
    over items with >= 2 copies of the std across that item's copies), ``copies_per_item``.
    """
    per_copy = scores.groupby(["item_id", "copy_text"], sort=False)["p_click"].mean()
    within = per_copy.groupby(level=0).agg(["std", "size"])
    multi = within[within["size"] >= 2]
    return {"score_std": float(per_copy.std(ddof=0)) if len(per_copy) > 1 else 0.0,
            "score_std_within_item": float(multi["std"].mean()) if len(multi) else math.nan,
            "score_mean": float(per_copy.mean()),
            "copies_per_item": float(within["size"].mean())}


def traffic_power(base_ctr: float, impressions: int, predicted_lift: float | None = None, *,
                  power: float = 0.8, alpha: float = 0.05) -> dict[str, Any]:
    """What the logs' traffic can confirm: the MDE of a 50/50 A/B over ``impressions`` and the sample
    size per arm to confirm ``predicted_lift`` (relative CTR lift), two-sided.

    >>> out = traffic_power(0.05, 62436, 0.10)
    >>> round(out["min_detectable_lift"], 2), out["ab_sample_size_per_arm"]
    (0.1, 31218)
    """
    from rlopt.ab.power import mde_proportions, sample_size_proportions

    out: dict[str, Any] = {"base_ctr": float(base_ctr), "impressions": int(impressions),
                           "impressions_per_arm": int(impressions // 2), "power": power, "alpha": alpha,
                           "min_detectable_lift": math.nan, "predicted_lift": predicted_lift,
                           "ab_sample_size_per_arm": None}
    if not 0.0 < base_ctr < 1.0 or impressions < 4:
        return out
    mde = mde_proportions(base_ctr, impressions // 2, power=power, alpha=alpha)
    out["min_detectable_lift"] = float(mde / base_ctr) if math.isfinite(mde) else math.nan
    if predicted_lift is not None and predicted_lift > 0 and base_ctr * (1 + predicted_lift) < 1:
        out["ab_sample_size_per_arm"] = int(sample_size_proportions(base_ctr, predicted_lift, relative=True,
                                                                    power=power, alpha=alpha))
    return out


def assess(clicked: np.ndarray, p_click: np.ndarray, p_click_baseline: np.ndarray | None,
           scores: pd.DataFrame, *, rows: str, encoder_auc: float | None = None) -> dict[str, Any]:
    """The health report of a model from its held-out predictions.

    Parameters
    ----------
    clicked, p_click : (n,)
        Held-out outcomes and the saved model's predictions on those rows.
    p_click_baseline : (n,) or None
        The baseline's predictions on the same rows.
    scores : DataFrame
        ``item_id, copy_text, p_click`` of distinct copies scored in context (see :func:`score_spread`).
    rows : str
        Which rows were used (shown in the report).
    encoder_auc : float, optional
        The encoder model's own AUC on the same rows (reported, not judged).
    """
    clicked = np.asarray(clicked)
    auc, se = delong_auc(clicked, p_click)
    low, high = auc - Z95 * se, auc + Z95 * se
    base_auc = delong_auc(clicked, p_click_baseline)[0] if p_click_baseline is not None else math.nan
    slope = calibration_slope(clicked, p_click)
    spread = score_spread(scores)
    reasons: list[str] = []
    status = "ok"

    def flag(level: str, why: str) -> None:
        nonlocal status
        reasons.append(why)
        if level == "no_signal" or status == "ok":
            status = level

    if spread["copies_per_item"] <= 1:
        flag("no_signal", "every item has a single logged copy, so the logs cannot say which copy of an item works "
                          "better (the model learns item and context effects only)")
    rel = spread["score_std_within_item"] / max(spread["score_mean"], 1e-12)
    if math.isfinite(rel) and rel < MIN_RELATIVE_SPREAD:
        flag("no_signal", f"every copy of an item gets nearly the same score (within-item std/mean {rel:.2g})")
    if not math.isfinite(auc):
        flag("no_signal", "the held-out rows have only one outcome, so the click AUC is undefined")
    elif low <= 0.5:
        flag("no_signal" if auc < NO_SIGNAL_AUC else "weak",
             f"click AUC {auc:.3f} [{low:.3f}, {high:.3f}] is not clearly above 0.5 ({int(clicked.sum())} "
             f"held-out clicks in {len(clicked)} rows)")
    if math.isfinite(base_auc) and math.isfinite(auc) and auc < base_auc - BASELINE_MARGIN:
        flag("weak", f"click AUC {auc:.3f} is below the hashed n-gram baseline's {base_auc:.3f}")
    if math.isfinite(slope) and not SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]:
        flag("weak", f"calibration slope {slope:.2f} is outside [{SLOPE_RANGE[0]}, {SLOPE_RANGE[1]}] "
                     "(scores too flat or too spread for the held-out outcomes)")
    if status != "ok":
        reasons.append(f"what would help: more impressions (held-out rows had {int(clicked.sum())} clicks) and "
                       f"more copy variety per item (now {spread['copies_per_item']:.1f} distinct copies per item)")
    return {"status": status, "rows": rows, "n": int(len(clicked)), "clicks": int(clicked.sum()),
            "auc": auc, "auc_low": low, "auc_high": high, "baseline_auc": base_auc, "encoder_auc": encoder_auc,
            **spread, "calibration_slope": slope, "reasons": reasons}


def predicted_best_copy_lift(model, rows: pd.DataFrame, logs: pd.DataFrame, catalog: pd.DataFrame,
                             max_rows: int = 1000, seed: int = 0) -> float:
    """Model-predicted relative CTR lift of showing each item's best-scoring logged copy instead of
    the logged one: ``sum_r max_c p(c, ctx_r) / sum_r p(copy_r, ctx_r) - 1`` over up to ``max_rows``
    sampled ``rows`` (first slot, the row's segment and placement; ``c`` ranges over the item's
    distinct copies in ``logs``).
    """
    if len(rows) > max_rows:
        rows = rows.sample(max_rows, random_state=seed)
    ctx_cols = [c for c in ("item_id", "segment", "placement") if c in rows]
    rows = rows[[*ctx_cols, "copy_text"]].reset_index(drop=True).rename_axis("row").reset_index()
    copies = logs[["item_id", "copy_text"]].drop_duplicates()
    options = rows.drop(columns="copy_text").merge(copies, on="item_id")
    logged = model.score(rows.drop(columns="row"), catalog)["p_click"].to_numpy()
    best = options.assign(p=model.score(options.drop(columns="row"), catalog)["p_click"].to_numpy())
    best = best.groupby("row")["p"].max().reindex(rows["row"]).fillna(0.0).to_numpy()
    return float(np.maximum(best, logged).sum() / max(logged.sum(), 1e-12) - 1.0)


def data_warnings(logs: pd.DataFrame) -> list[str]:
    """What the training logs lack that limits what any reward model learns from them (not fatal)."""
    out = []
    copies = logs.groupby("item_id")["copy_text"].nunique()
    if (copies <= 1).all():
        out.append("every item has one logged copy: copies of an item cannot be compared; log several copies "
                   "per item (an A/B or a randomized copy choice)")
    elif (copies <= 1).mean() > 0.5:
        out.append(f"{(copies <= 1).mean():.0%} of the items have one logged copy: nothing is learned about "
                   "their copy")
    if "propensity" not in logs or logs["propensity"].isna().all():
        out.append("no propensity column: the logging policy's choices are learned as they are (no IPW "
                   "correction, --ipw-clip unavailable) and rlopt ope cannot weigh these logs")
    if "segment" not in logs or logs["segment"].astype(str).nunique() <= 1:
        out.append("one segment in the logs: the model cannot learn copy that suits one kind of shopper")
    return out


def model_health(model, logs: pd.DataFrame, eval_rows: pd.DataFrame, catalog: pd.DataFrame,
                 p_click: np.ndarray, p_click_baseline: np.ndarray | None, *, rows: str,
                 encoder_auc: float | None = None, seed: int = 0) -> dict[str, Any]:
    """:func:`assess` on ``eval_rows`` plus :func:`traffic_power` for the training ``logs``; JSON-ready."""
    ctx_cols = [c for c in ("item_id", "copy_text", "segment", "placement") if c in eval_rows]
    distinct = eval_rows[ctx_cols].drop_duplicates().reset_index(drop=True)
    scores = distinct.assign(p_click=model.score(distinct, catalog)["p_click"].to_numpy())
    health = assess(eval_rows["clicked"].to_numpy(), p_click, p_click_baseline, scores, rows=rows,
                    encoder_auc=encoder_auc)
    lift = predicted_best_copy_lift(model, eval_rows, logs, catalog, seed=seed)
    health["traffic"] = traffic_power(float(logs["clicked"].mean()), len(logs), lift)
    health["min_detectable_lift"] = health["traffic"]["min_detectable_lift"]
    health["scorer"] = model.combiner.choice
    health["warnings"] = data_warnings(logs)
    health["calibration"] = {"method": model.calibrator.method,
                             "rejected": model.config.get("metrics", {}).get("calibration_rejected", [])}
    return json_ready(health)  # strict JSON: NaN / inf -> None


def read_health(model_dir: str | Path) -> dict[str, Any] | None:
    """The ``health`` block saved in a reward model directory (None for models saved without one)."""
    from reward_models.model import CONFIG_NAME

    path = Path(model_dir) / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputError(f"the reward model directory has no {CONFIG_NAME}", file=str(path)) from err
    except json.JSONDecodeError as err:
        raise InputError(f"{CONFIG_NAME} is not valid JSON: {err}", file=str(path)) from err
    return config.get("health")


def describe(health: dict[str, Any]) -> str:
    """One line: status, AUC [low, high] vs the baseline, spread, slope and the reasons."""
    def num(key: str, fmt: str = ".3f") -> str:
        value = health.get(key)
        return "n/a" if value is None else format(value, fmt)

    return (f"reward model health {health['status']}: held-out click AUC {num('auc')} "
            f"[{num('auc_low')}, {num('auc_high')}] (baseline {num('baseline_auc')}), score std "
            f"{num('score_std', '.4f')}, calibration slope {num('calibration_slope', '.2f')}; "
            + "; ".join(health.get("reasons", [])))


def require_usable(model_dir: str | Path, allow_weak: bool = False, echo: bool = False) -> dict[str, Any] | None:
    """Refuse online RL against a reward model whose health is ``no_signal`` (exit 2).

    ``weak`` (or ``no_signal`` with ``allow_weak``) only warns: a ``UserWarning``, or with ``echo``
    a line on stderr (the CLI hides library warnings without ``-v``). A model saved before the
    health check existed passes (None is returned).
    """
    health = read_health(model_dir)
    if health is None or health.get("status") == "ok":
        return health
    if health.get("status") == "no_signal" and not allow_weak:
        raise InputError(
            f"{describe(health)}. Online RL (GRPO/RLOO) against it would train on noise; pass "
            "--allow-weak-reward-model (or [reward] allow_weak = true) to run anyway",
            file=str(model_dir), rule="the reward model's health must not be no_signal for online RL")
    if echo:
        print(f"warning: {describe(health)}", file=sys.stderr)
    else:
        warnings.warn(describe(health), UserWarning, stacklevel=2)
    return health
