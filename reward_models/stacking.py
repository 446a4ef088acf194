"""Which model scores: the encoder model, the hashed n-gram baseline, or a logistic blend of both.

Training fits both models on the earlier part of the logs; on the latest slice (the calibration
slice, never trained on by either) three candidates are compared by K-fold cross-validated ESMM
log-loss, per row ``BCE(clicked, p_click) + BCE(converted, p_purchase)``:

- ``baseline``: the baseline's probabilities as they are or recalibrated per head by Platt scaling,
  ``p = sigmoid(s * logit(p_baseline) + t)`` fitted on the other folds, whichever has the lower
  out-of-fold loss (as the encoder's calibration is chosen: both candidates may adapt to the
  slice's level, or they would not compete like for like); a head with fewer than ``MIN_CLASS``
  positives in a fold's other rows, or a click fit that flattens the scores
  (:func:`reward_models.calibration.collapse_reason`), stays as it is;
- ``encoder``: the encoder model's calibrated probabilities (out-of-fold calibration);
- ``blend``: per head, ``p = sigmoid(a * logit(p_encoder_raw) + b * logit(p_baseline) + c)`` with
  ``(a, b, c)`` an L2-regularized logistic regression fitted on the other folds
  (``p_encoder_raw`` is the uncalibrated encoder output: the blend calibrates it itself); with
  fewer than ``MIN_CLASS`` purchases in a fold the blend keeps the baseline's purchase head.

The baseline's recalibration refitted on the whole slice is saved with it
(``HashedNgramBaseline.recalibration``), so a saved baseline scores as it was evaluated; the blend's
weights are rewritten for that recalibrated input (the same predictions).

The choice follows the one-standard-error rule (Hastie, Tibshirani & Friedman, ESL 7.10): with
``l_c`` the per-row out-of-fold loss of candidate ``c`` and ``best`` the lowest mean loss, the saved
scorer is the first of ``baseline, encoder, blend`` (simplest first) with

    mean(l_c - l_best) <= SE_RULE * std(l_c - l_best) / sqrt(n)        (paired, row by row)

so a more complex scorer is kept only when it beats every simpler one by more than the noise of the
slice; a win inside the noise on a few thousand rows does not carry out of sample. So the saved model
is the baseline, or something that beat the baseline clearly out of sample on the latest logs. The blend's purchase probability is capped at its click probability
(``p_purchase <= p_click``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from reward_models.calibration import EPS, Calibrator, _bce_rows, collapse_reason, fit_platt, fold_ids

CANDIDATES = ("baseline", "encoder", "blend")  # simplest first
BLEND_C = 1.0  # inverse L2 strength of the blend weights
SE_RULE = 1.0  # standard errors a more complex scorer must win by (0: plain lowest loss)
MIN_CLASS = 3  # fewest positives (and negatives) a training fold needs to fit the blend of a head


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def esmm_rows(clicked, converted, p_click, p_purchase) -> np.ndarray:
    """Per-row ``BCE(clicked, p_click) + BCE(converted, p_purchase)``, shape (n,)."""
    return (_bce_rows(np.asarray(clicked, np.float64), p_click)
            + _bce_rows(np.asarray(converted, np.float64), p_purchase))


@dataclass
class Combiner:
    """The chosen scorer and, for ``blend``, ``[a, b, c]`` per head (JSON round-trips via ``to_dict``)."""

    choice: str = "encoder"
    click: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])
    purchase: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])

    def __post_init__(self) -> None:
        if self.choice not in CANDIDATES:
            raise ValueError(f"combiner choice must be one of {CANDIDATES}, got {self.choice!r}")

    @property
    def needs_encoder(self) -> bool:
        return self.choice != "baseline"

    @property
    def needs_baseline(self) -> bool:
        return self.choice != "encoder"

    def blend(self, encoder_raw: tuple[np.ndarray, np.ndarray],
              baseline: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Blended ``(p_click, p_purchase)`` from raw encoder and baseline probabilities, (n,) each."""
        out = []
        for w, enc, base in zip((self.click, self.purchase), encoder_raw, baseline, strict=True):
            out.append(expit(w[0] * logit(enc) + w[1] * logit(base) + w[2]))
        return out[0], np.minimum(out[1], out[0])

    def for_recalibrated_baseline(self, recalibration: dict[str, list[float]]) -> Combiner:
        """The same blend taking the baseline after ``recalibration`` ({head: [scale, shift]} on its
        logit): ``b * z = (b / scale) * (scale * z + shift) - b * shift / scale``.

        >>> comb = Combiner("blend", [0.5, 2.0, 0.1], [0.0, 1.0, 0.0])
        >>> comb.for_recalibrated_baseline({"click": [0.5, -1.0], "purchase": [1.0, 0.0]}).click
        [0.5, 4.0, 4.1]
        """
        if self.choice != "blend":
            return self
        heads = []
        for w, head in zip((self.click, self.purchase), ("click", "purchase"), strict=True):
            scale, shift = recalibration.get(head, [1.0, 0.0])
            heads.append([w[0], w[1] / scale, w[2] - w[1] * shift / scale])
        return Combiner("blend", *heads)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Combiner:
        return cls(**data)


def _platt_heads(baseline, clicked, converted, rows) -> dict[str, list[float]]:
    """Per-head Platt ``[scale, shift]`` on the baseline's logits, fitted on ``rows``; a head with fewer
    than ``MIN_CLASS`` positives (or negatives) there is left out (kept as it is)."""
    out = {}
    for head, p, y in zip(("click", "purchase"), baseline, (clicked, converted), strict=True):
        positives = int(y[rows].sum())
        if min(positives, int(rows.sum()) - positives) >= MIN_CLASS:
            out[head] = fit_platt(logit(p[rows]), y[rows])
    return out


def _recalibrate_out_of_fold(baseline, clicked, converted, fold):
    """``(recalibration, oof, cv)``: the baseline as it is or Platt-recalibrated, whichever has the lower
    out-of-fold ESMM log-loss on the slice (``cv``: ``{"none", "platt"}`` losses; ties keep it as it
    is), as :func:`reward_models.calibration.select_calibrator` chooses the encoder's calibration;
    ``recalibration`` is refitted on all rows (``{}``: none; a string: why Platt was refused)."""
    raw = recalibrate(baseline, {})
    recalibration = _platt_heads(baseline, clicked, converted, np.ones(len(clicked), bool))
    if "click" in recalibration:
        z = logit(baseline[0])
        reason = collapse_reason(Calibrator("platt", click=recalibration["click"]), z, z)
        if reason is not None:
            return f"baseline not recalibrated: {reason}", raw, None
    if not recalibration:
        return {}, raw, None
    platt = [p.copy() for p in raw]
    for k in range(int(fold.max()) + 1):
        test = fold == k
        fitted = {h: w for h, w in _platt_heads(baseline, clicked, converted, ~test).items() if h in recalibration}
        for j, p in enumerate(recalibrate(tuple(p[test] for p in baseline), fitted)):
            platt[j][test] = p
    cv = {"none": float(esmm_rows(clicked, converted, *raw).mean()),
          "platt": float(esmm_rows(clicked, converted, *platt).mean())}
    if cv["platt"] < cv["none"]:
        return recalibration, tuple(platt), cv
    return {}, raw, cv


def recalibrate(baseline: tuple[np.ndarray, np.ndarray],
                recalibration: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """``(p_click, p_purchase)`` after ``recalibration`` ({head: [scale, shift]}), ``p_purchase <= p_click``."""
    out = []
    for p, head in zip(baseline, ("click", "purchase"), strict=True):
        scale, shift = recalibration.get(head, [1.0, 0.0])
        out.append(expit(scale * logit(p) + shift))
    return out[0], np.minimum(out[1], out[0])


def _fit_head(x: np.ndarray, y: np.ndarray, seed: int) -> list[float] | None:
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_CLASS:
        return None
    lr = LogisticRegression(C=BLEND_C, max_iter=1000, random_state=seed).fit(x, y)
    return [float(lr.coef_[0][0]), float(lr.coef_[0][1]), float(lr.intercept_[0])]


def _fit_blend(enc_raw, base, clicked, converted, rows, seed) -> Combiner | None:
    """Blend weights fitted on ``rows``; too few purchases keep the baseline's purchase head as is."""
    weights = []
    for head, (enc, b, y) in enumerate(zip(enc_raw, base, (clicked, converted), strict=True)):
        w = _fit_head(np.column_stack([logit(enc[rows]), logit(b[rows])]), y[rows], seed)
        if w is None:
            if head == 0:
                return None
            w = [0.0, 1.0, 0.0]
        weights.append(w)
    return Combiner("blend", *weights)


def one_se_choice(rows: dict[str, np.ndarray], se_rule: float = SE_RULE) -> tuple[str, dict[str, list[float]]]:
    """The first candidate (dict order = simplest first) whose mean per-row loss is within
    ``se_rule`` paired standard errors of the lowest and not above a simpler one's; also ``{candidate: [mean excess, its SE]}``.

    >>> rng = np.random.default_rng(0); base = rng.random(400)
    >>> one_se_choice({"simple": base + 0.001 + rng.normal(0, 0.1, 400), "complex": base})[0]  # inside the noise
    'simple'
    >>> one_se_choice({"simple": base + 0.001 + rng.normal(0, 1e-4, 400), "complex": base})[0]
    'complex'
    """
    means = {c: float(v.mean()) for c, v in rows.items()}
    best = min(means, key=means.__getitem__)
    excess = {}
    for c, v in rows.items():
        d = v - rows[best]
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        excess[c] = [float(d.mean()), se]
    names = list(rows)  # a candidate must also not lose to a simpler one on the mean (the best never does)
    choice = next(c for i, c in enumerate(names) if excess[c][0] <= se_rule * excess[c][1]
                  and all(means[c] <= means[e] for e in names[:i]))
    return choice, excess


def select_combiner(encoder_oof: tuple[np.ndarray, np.ndarray], encoder_raw: tuple[np.ndarray, np.ndarray],
                    baseline: tuple[np.ndarray, np.ndarray], clicked, converted, *, folds: int = 5,
                    seed: int = 0, se_rule: float = SE_RULE) -> tuple[Combiner, dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Choose among ``baseline, encoder, blend`` by cross-validated ESMM log-loss on one slice.

    Parameters
    ----------
    encoder_oof : (p_click, p_purchase), (n,) each
        The encoder model's out-of-fold calibrated probabilities on the slice.
    encoder_raw : (p_click, p_purchase), (n,) each
        Its uncalibrated probabilities (the blend's input).
    baseline : (p_click, p_purchase), (n,) each
        The baseline's probabilities (fitted on earlier rows, not recalibrated).
    clicked, converted : (n,)
        Outcomes.

    Returns
    -------
    combiner, report, oof
        The choice (a blend refitted on all rows), ``{"choice", "cv_logloss": {candidate: loss},
        "excess": {candidate: [mean loss above the lowest, its paired SE]}, "se_rule", "folds", "n",
        "note", "baseline_recalibration": {head: [scale, shift]} refitted on all rows (what the saved
        baseline applies; {} = none), "baseline_calibration_cv": {"none", "platt"} out-of-fold losses
        of the baseline (None when Platt was not tried), "blend": the refitted blend's dict, for the recalibrated
        baseline, or None}`` and each candidate's out-of-fold ``(p_click, p_purchase)``.

    >>> rng = np.random.default_rng(0); n = 3000
    >>> truth = expit(rng.normal(-2.5, 0.8, n)); c = (rng.random(n) < truth).astype(float)
    >>> v = c * (rng.random(n) < 0.3)
    >>> noise = np.full(n, c.mean())                       # an encoder with no signal
    >>> comb, report, _ = select_combiner((noise, noise * 0.3), (noise, noise * 0.3), (truth, truth * 0.3), c, v)
    >>> comb.choice != "encoder", report["cv_logloss"]["baseline"] < report["cv_logloss"]["encoder"]
    (True, True)
    """
    clicked, converted = np.asarray(clicked, np.float64), np.asarray(converted, np.float64)
    baseline = tuple(np.asarray(p, np.float64) for p in baseline)
    n = len(clicked)
    fold = fold_ids(n, folds, seed)
    note = None
    # The baseline's Platt recalibration: out of fold for the comparison, on all rows for the saved model.
    recalibration, base_oof, base_cv = _recalibrate_out_of_fold(baseline, clicked, converted, fold)
    if isinstance(recalibration, str):
        recalibration, note = {}, recalibration
    oof = {"baseline": base_oof,
           "encoder": (encoder_oof[0], np.minimum(encoder_oof[1], encoder_oof[0]))}
    blend_click, blend_purchase = np.empty(n), np.empty(n)
    for k in range(int(fold.max()) + 1):
        comb = _fit_blend(encoder_raw, baseline, clicked, converted, fold != k, seed)
        if comb is None:
            note = "; ".join(filter(None, [note, f"blend not fitted: a fold has fewer than {MIN_CLASS} clicks"]))
            break
        test = fold == k
        blend_click[test], blend_purchase[test] = comb.blend(
            tuple(p[test] for p in encoder_raw), tuple(p[test] for p in baseline))
    else:
        oof["blend"] = (blend_click, blend_purchase)
    rows = {name: esmm_rows(clicked, converted, *p) for name, p in oof.items()}  # order = CANDIDATES
    losses = {name: float(r.mean()) for name, r in rows.items()}
    choice, excess = one_se_choice(rows, se_rule)
    blend = _fit_blend(encoder_raw, baseline, clicked, converted, np.ones(n, bool), seed) if "blend" in oof else None
    if blend is not None:  # the saved baseline carries the recalibration: the blend takes it as input
        blend = blend.for_recalibrated_baseline(recalibration)
    combiner = blend if choice == "blend" else Combiner(choice)
    report = {"choice": choice, "cv_logloss": losses, "excess": excess, "se_rule": se_rule, "folds": int(fold.max()) + 1, "n": int(n), "note": note,
              "baseline_recalibration": recalibration, "baseline_calibration_cv": base_cv, "blend": None if blend is None else blend.to_dict()}
    return combiner, report, oof
