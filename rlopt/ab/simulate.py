"""Simulated A/B tests: two or more arms on the simulated marketplace, users randomized.

One run:

1. **Pre-period.** ``pre_impressions`` impressions under the logging policy give each user a
   pre-period covariate (clicks, revenue) for CUPED, and the baseline CTR that scales the mSPRT prior.
2. **Assignment.** Each user goes to an arm by ``hash(seed, user_id)`` against the planned split, so
   a user always sees the same arm and the split is reproducible.
3. **Exposure.** ``market.sample_impressions`` draws the traffic; every arm chooses copy for *all*
   impressions (so the oracle gives each arm's counterfactual truth on the same traffic), and each
   impression shows the copy of its user's arm. ``oracle.respond`` samples clicks and purchases.
4. **Analysis** per user, each arm against the first (control): delta method on CTR, purchase rate and
   revenue per impression; CUPED on clicks and revenue per user; impression-level z-tests and Welch
   for reference; SRM on users per arm; mSPRT on CTR at ``looks`` interim looks; MDE at this traffic.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rlopt.ab.analysis import RATIO_COLUMNS, compare, holm, mde_summary, per_user, sequential_ratio, truth
from rlopt.ab.arms import Arm, make_chooser
from rlopt.ab.outcome import ABResult, ArmSummary, Comparison
from rlopt.ab.stat_tests import srm_check
from rlopt.errors import InputError

__all__ = ["ABPowerWarning", "ABSRMWarning", "assign_users", "simulate_ab"]

_CTX = ["item_id", "segment", "placement", "position"]


class ABPowerWarning(UserWarning):
    """The traffic is too small to detect effects of a plausible size (see ``ABResult.mde``)."""


class ABSRMWarning(UserWarning):
    """Users per arm do not match the planned split: the assignment or logging is broken."""


def assign_users(user_ids, split, seed: int) -> np.ndarray:
    """Arm index per user: ``blake2b(seed, user_id)`` as a uniform number in [0, 1) vs the split.

    Parameters
    ----------
    user_ids : array_like of str, shape (n,)
    split : array_like of float, shape (k,)
        Traffic weights per arm (normalized here).
    seed : int
        Salt: another seed reshuffles users; the same seed always gives the same assignment.

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> assign_users(["alice", "bob", "carol", "dave", "alice"], [0.5, 0.5], seed=1).tolist()
    [0, 1, 1, 1, 0]
    """
    users = pd.Series(np.asarray(user_ids, dtype=object)).astype(str)
    uniq, inverse = np.unique(users.to_numpy(), return_inverse=True)
    salt = str(int(seed)).encode()
    u = np.array([int.from_bytes(hashlib.blake2b(salt + b"\x1f" + s.encode(), digest_size=8).digest(), "big")
                  for s in uniq], dtype=np.float64) / 2.0**64
    edges = np.cumsum(np.asarray(split, dtype=float) / np.sum(split))[:-1]
    return np.searchsorted(edges, u, side="right")[inverse]


def _simulate_iv(arms, n_impressions, split, pre_impressions, looks, alpha, traffic, primary_metric):
    if isinstance(arms, Mapping):
        parsed = {str(name): Arm.parse(spec) for name, spec in arms.items()}
    else:
        parsed = {chr(ord("A") + i): Arm.parse(spec) for i, spec in enumerate(arms)}
    if len(parsed) < 2:
        raise InputError(f"an A/B test needs at least 2 arms; got {len(parsed)}.", column="arms", rule=">= 2 arms")
    if int(n_impressions) != n_impressions or n_impressions < 2:
        raise InputError(f"n_impressions must be an integer >= 2; got {n_impressions!r}.",
                         column="impressions", rule="impressions >= 2")
    split = np.full(len(parsed), 1.0 / len(parsed)) if split is None else np.asarray(split, dtype=float)
    if split.shape != (len(parsed),) or np.any(~np.isfinite(split)) or np.any(split <= 0):
        raise InputError(f"split needs {len(parsed)} positive weights (one per arm); got {split.tolist()}.",
                         column="split", rule="one positive weight per arm")
    pre = int(n_impressions) // 2 if pre_impressions is None else int(pre_impressions)
    if primary_metric not in RATIO_COLUMNS:
        raise InputError(f"primary_metric must be one of {', '.join(RATIO_COLUMNS)}; got {primary_metric!r}.",
                         column="primary_metric")
    if traffic not in ("all", "covered"):
        raise InputError(f"traffic must be 'all' or 'covered'; got {traffic!r}.", column="traffic")
    if pre < 0 or int(looks) < 1 or not 0 < alpha < 1:
        raise InputError("pre_impressions must be >= 0, looks >= 1 and alpha in (0, 1).", column="pre_impressions")
    return parsed, int(n_impressions), tuple(float(w) for w in split / split.sum()), pre, int(looks), float(alpha)


def _with_copy(imps: pd.DataFrame, texts: np.ndarray) -> pd.DataFrame:
    out = imps.copy()
    out["copy_text"] = texts
    return out


def _pre_period(market, oracle, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-user pre-period clicks and revenue under the logging policy, and the pre-period ratio metrics."""
    if n == 0:
        return (pd.DataFrame(columns=["pre_clicks", "pre_revenue"], dtype=float),
                dict.fromkeys(RATIO_COLUMNS, math.nan))
    imps = market.sample_impressions(n, rng)
    texts = make_chooser(Arm.parse("logging"), market, oracle)(imps, rng)
    out = oracle.respond(_with_copy(imps, texts), rng)
    per_user = out.groupby("user_id").agg(pre_clicks=("clicked", "sum"), pre_revenue=("revenue", "sum"))
    return per_user.astype(float), {m: float(out[col].mean()) for m, col in RATIO_COLUMNS.items()}


def _draw_traffic(market, n: int, rng: np.random.Generator, covers) -> pd.DataFrame:
    """``n`` impressions in arrival order; with ``covers`` (a mask function) only covered ones.

    Uncovered impressions are dropped and more are drawn (timestamps shifted to keep increasing),
    i.e. the experiment targets the traffic every arm can serve.
    """
    if covers is None:
        imps = market.sample_impressions(n, rng).reset_index(drop=True)
        return imps.assign(_arrival=np.arange(len(imps)))
    parts, have, drawn, last_ts = [], 0, 0, None
    while have < n:
        rate = have / drawn if drawn else 1.0
        m = n if not drawn else int(math.ceil((n - have) / max(rate, 1e-3) * 1.2)) + 16
        if drawn + m > 50 * n:
            raise InputError(f"the copies cover only {rate:.2%} of the market's traffic ({have} of {drawn} sampled "
                             "impressions); generate copies for more (item, placement) pairs.",
                             column="copies", rule="traffic='covered' needs >= 2% coverage")
        imps = market.sample_impressions(m, rng)
        drawn += m
        if last_ts is not None:
            imps["timestamp"] = imps["timestamp"] - imps["timestamp"].min() + last_ts + 1
        last_ts = int(imps["timestamp"].max())
        keep = imps[covers(imps)]
        parts.append(keep)
        have += len(keep)
    imps = pd.concat(parts).iloc[:n].reset_index(drop=True)
    return imps.assign(_arrival=np.arange(len(imps)))


def simulate_ab(market, arms, n_impressions: int, seed: int = 0, *, split=None, oracle=None,
                pre_impressions: int | None = None, alpha: float = 0.05, looks: int = 20,
                tau_relative: float = 0.1, mde_warn_relative: float = 0.25, traffic: str = "all",
                primary_metric: str = "ctr") -> ABResult:
    """Run a simulated A/B(/n) test of ``arms`` on ``market`` with users as the randomization unit.

    Parameters
    ----------
    market : rlopt.market.Marketplace
        The simulator (``sample_impressions``, ``logging_policy``, ``copy_pool``, ``pool_size``).
    arms : dict of str to (Arm or str), or list of specs
        Arm name -> spec (see :mod:`rlopt.ab.arms`); the first arm is the control. A list gets
        the names ``A, B, C, ...``.
    n_impressions : int
        Experiment impressions across all arms.
    seed : int
        Seeds the traffic, the copy choices, the responses and the user hash.
    split : sequence of float, optional
        Planned traffic weights per arm (equal by default).
    oracle : rlopt.market.oracle.Oracle, optional
        Ground truth for responses and the per-arm true values (built from ``market`` if omitted).
    pre_impressions : int, optional
        Pre-period impressions under the logging policy (default ``n_impressions // 2``).
    alpha : float
        Significance level of verdicts, intervals (``1 - alpha``) and the sequential test.
    looks : int
        Interim looks of the mSPRT.
    tau_relative : float
        mSPRT mixing-prior sd as a fraction of the metric's pre-period value (the size of relative
        lifts it is tuned for).
    mde_warn_relative : float
        Warn (:class:`ABPowerWarning`) when the relative MDE of ``primary_metric`` at this traffic
        exceeds it.
    traffic : {"all", "covered"}
        ``"all"``: every impression the market draws (a ``copies:`` arm must cover all of them).
        ``"covered"``: only impressions whose context every ``copies:`` arm covers (more are drawn
        to reach ``n_impressions``); the result then speaks for that traffic only.
    primary_metric : {"ctr", "purchase_rate", "revenue_per_impression"}
        The decision metric: the mSPRT monitors it and the MDE warning is about it.

    Returns
    -------
    ABResult
    """
    parsed, n, split, n_pre, looks, alpha = _simulate_iv(arms, n_impressions, split, pre_impressions, looks, alpha,
                                                           traffic, primary_metric)
    if oracle is None:
        from rlopt.market.oracle import Oracle  # evaluation code may use the oracle

        oracle = Oracle(market)
    names = list(parsed)
    # Independent streams: 0 pre-period, 1 traffic, 2 unused (kept so seeds keep their meaning), 3+k arm k.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3 + len(names))]
    pre, baseline = _pre_period(market, oracle, n_pre, streams[0])

    choosers = {name: make_chooser(arm, market, oracle) for name, arm in parsed.items() if not arm.learns_online}
    copies = [c for c in choosers.values() if hasattr(c, "covers")]
    covers = (lambda imps: np.logical_and.reduce([c.covers(imps) for c in copies])) \
        if traffic == "covered" and copies else None
    imps = _draw_traffic(market, n, streams[1], covers)
    assigned = assign_users(imps["user_id"], split, seed)
    parts, truths = [], {}
    for k, name in enumerate(names):
        arm, mine = parsed[name], assigned == k
        if arm.learns_online:  # learns from its own traffic as it goes; truth on that traffic
            from rlopt.ab.policy_arm import run_policy_arm

            out = run_policy_arm(arm, market, oracle, imps[mine], streams[3 + k])
            truths[name] = truth(out)
            parts.append(out.assign(arm=name))
            continue
        # Every impression gets this arm's copy and a response: the oracle's probabilities over all of
        # them are the arm's counterfactual truth, the responses of the arm's own users are its data.
        out = oracle.respond(_with_copy(imps, choosers[name](imps, streams[3 + k])), streams[3 + k])
        truths[name] = truth(out)
        parts.append(out[mine].assign(arm=name))
    df = pd.concat(parts)

    users = {name: per_user(df[df["arm"] == name], pre) for name in names}
    for name, u in users.items():
        if len(u) < 2:
            raise InputError(f"arm {name!r} got {len(u)} user(s); raise n_impressions or its split weight.",
                             column="impressions", rule=">= 2 users per arm")
    summaries = tuple(
        ArmSummary(name=name, spec=parsed[name].spec, label=parsed[name].label, users=len(users[name]),
                   impressions=int(users[name]["impressions"].sum()), clicks=int(users[name]["clicks"].sum()),
                   conversions=int(users[name]["conversions"].sum()), revenue=float(users[name]["revenue"].sum()),
                   true=truths[name])
        for name in names)
    base = baseline[primary_metric]
    tau = tau_relative * base if np.isfinite(base) and base > 0 else math.nan
    tested = {name: compare(users[names[0]], users[name]) for name in names[1:]}
    adjusted = holm({name: primary for name, (primary, _) in tested.items()})
    comps, mdes = [], []
    for name, (primary, secondary) in tested.items():
        seq = sequential_ratio(df, names[0], name, looks, tau, alpha, primary_metric)
        true_lift = {m: truths[name][m] - truths[names[0]][m] for m in truths[name]}
        comps.append(Comparison(names[0], name, primary, secondary, seq, true_lift, adjusted[name]))
        mdes.append(mde_summary(primary, secondary["ctr_ztest"], alpha, primary_metric))
    # Report the weakest comparison (an undefined MDE, e.g. no clicks at all, counts as the weakest).
    mde = max(mdes, key=lambda m: math.inf if math.isnan(m["relative"]) else m["relative"])

    srm = srm_check([s.users for s in summaries], split)
    notes = []
    if not mde["relative"] <= mde_warn_relative:
        label = "CTR" if primary_metric == "ctr" else primary_metric
        notes.append(f"traffic too small: the minimum detectable {label} effect at {n} impressions is "
                     f"{mde['relative']:.1%} relative ({mde['absolute']:.4g} absolute, 80% power, alpha={alpha}); "
                     f"smaller real differences will likely read as 'not significant'.")
        warnings.warn(notes[-1], ABPowerWarning, stacklevel=2)
    if srm.mismatch:
        notes.append(f"sample-ratio mismatch: users per arm {srm.observed} vs planned split {split} "
                     f"(p = {srm.pvalue:.2g}); do not trust this run's comparisons.")
        warnings.warn(notes[-1], ABSRMWarning, stacklevel=2)
    return ABResult(arms=summaries, comparisons=tuple(comps), srm=srm, mde=mde, n_impressions=n,
                    pre_impressions=n_pre, seed=int(seed), split=split, alpha=alpha, warnings=tuple(notes),
                    traffic=traffic, primary_metric=primary_metric)
