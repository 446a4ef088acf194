"""Post-hoc calibration (Platt, temperature or isotonic, fitted on a calibration split) and ECE.

The click head predicts, for a logged row in slot ``s``,

    p_click = sigmoid(z_click / T_click) * exp(b_s)        (b_s = slot log-ratio, 0 at position 0)
    p_cvr   = sigmoid(z_cvr / T_cvr)                        P(purchase | click)

Temperature scaling fits ``T_click`` by minimizing the click log-loss and ``T_cvr`` by minimizing
the ESMM log-loss of ``p_click * p_cvr`` against ``converted`` over all impressions (Guo et al.,
"On Calibration of Modern Neural Networks", 2017). ``platt`` also fits a shift,
``sigmoid(a z + c)``, which fixes a wrong base rate that a temperature alone cannot. Isotonic regression (sklearn) maps the
probability monotonically instead; its step function is stored as two arrays (no pickle).

``auto`` (:func:`select_calibrator`) chooses among ``none, temperature, platt, isotonic`` by
K-fold cross-validated ESMM log-loss on the calibration split (each candidate is fitted on K-1
folds and scored on the held-out fold; ties go to the simpler one), then refits the choice on the
whole split. Cross-validation keeps isotonic's in-sample advantage out of the comparison.

A calibration must not turn the model into a constant. When the raw scores carry no signal on the
calibration split, the log-loss-optimal Platt slope is ~0 and every copy would get the base rate:
:func:`collapse_reason` rejects a fit whose click slope is below ``MIN_SLOPE`` or whose calibrated
click probabilities (first slot) vary by less than ``MIN_RELATIVE_SPREAD`` of their mean, and the
next-best candidate (in the end ``none``) is used; the report records what was rejected and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_expit

EPS = 1e-6
METHODS = ("platt", "temperature", "isotonic", "none")
CHOICES = ("auto", *METHODS)  # what training accepts
AUTO_CANDIDATES = ("none", "temperature", "platt", "isotonic")  # simplest first
MIN_SLOPE = 0.05  # smallest accepted click scale of temperature / Platt
MIN_RELATIVE_SPREAD = 0.01  # smallest accepted std / mean of calibrated first-slot p_click


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins of predicted probability: mean prediction, observed rate and count per bin.

    ``y`` (n,) may be 0/1 labels or true probabilities (then ``observed`` is their mean).

    >>> bins = calibration_bins(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), n_bins=2)
    >>> [(round(b["mean_predicted"], 2), b["observed"], b["count"]) for b in bins]
    [(0.15, 0.0, 2), (0.8, 1.0, 2)]
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    return [{"mean_predicted": float(p[idx].mean()), "observed": float(y[idx].mean()), "count": int(len(idx))}
            for idx in np.array_split(order, min(n_bins, len(order))) if len(idx)]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 15) -> float:
    """Equal-mass-bin ECE of predictions ``p`` (n,) against binary labels ``y`` (n,):
    ``sum_b (n_b / n) |observed_b - mean_predicted_b|`` over :func:`calibration_bins`.

    >>> round(expected_calibration_error(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5]), 2), 3)
    0.0
    """
    if len(y) == 0:
        return float("nan")
    return float(sum(b["count"] / len(y) * abs(b["observed"] - b["mean_predicted"])
                     for b in calibration_bins(y, p, n_bins)))


def click_prob(z_click: np.ndarray, slot_log_ratio: np.ndarray, scale: float = 1.0,
               shift: float = 0.0) -> np.ndarray:
    """``sigmoid(scale * z + shift) * exp(b)``, kept inside (0, 1)."""
    logp = np.minimum(log_expit(scale * z_click + shift) + slot_log_ratio, np.log1p(-EPS))
    return np.exp(logp)


def _bce(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log1p(-p))))


def _fit_affine(loss, with_shift: bool) -> list[float]:
    """Minimize ``loss(scale, shift)``; temperature scaling keeps ``shift = 0``."""
    if with_shift:
        res = minimize(lambda v: loss(float(np.exp(v[0])), float(v[1])), x0=np.zeros(2), method="Nelder-Mead",
                       options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 400})
        return [float(np.exp(res.x[0])), float(res.x[1])]
    res = minimize_scalar(lambda v: loss(float(np.exp(v)), 0.0), bounds=(-3.0, 3.0), method="bounded")
    return [float(np.exp(res.x)), 0.0]


def fit_platt(z: np.ndarray, y: np.ndarray) -> list[float]:
    """``[scale, shift]`` of ``p = sigmoid(scale * z + shift)`` with the lowest log-loss on labels ``y``
    (Platt scaling of one head's logits ``z``, (n,) each; ``scale > 0``, so the ranking is kept).

    >>> rng = np.random.default_rng(0); z = rng.normal(-2, 1, 4000)
    >>> y = (rng.random(4000) < expit(0.5 * z - 1)).astype(float)
    >>> [round(v, 1) for v in fit_platt(z, y)]
    [0.5, -0.9]
    """
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    return _fit_affine(lambda a, b: _bce(y, click_prob(z, 0.0, a, b)), True)


def _bce_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


@dataclass
class Calibrator:
    """Maps raw head outputs to calibrated probabilities; JSON round-trips via ``to_dict``.

    ``click`` and ``cvr`` hold ``[scale, shift]`` of the affine map on each logit (temperature:
    ``scale = 1/T, shift = 0``; Platt: both fitted). ``iso_*`` hold isotonic step functions.
    """

    method: str = "platt"
    click: list[float] = field(default_factory=lambda: [1.0, 0.0])
    cvr: list[float] = field(default_factory=lambda: [1.0, 0.0])
    iso_click: dict[str, list[float]] = field(default_factory=dict)
    iso_cvr: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, got {self.method!r}")

    def fit(self, z_click, slot_b, z_cvr, clicked, converted) -> Calibrator:
        """Fit on holdout rows: raw logits (n,), slot log-ratios (n,) and outcomes (n,)."""
        clicked = np.asarray(clicked, dtype=np.float64)
        converted = np.asarray(converted, dtype=np.float64)
        if self.method in ("temperature", "platt"):
            shift = self.method == "platt"
            self.click = _fit_affine(lambda a, b: _bce(clicked, click_prob(z_click, slot_b, a, b)), shift)
            pc = click_prob(z_click, slot_b, *self.click)
            self.cvr = _fit_affine(lambda a, b: _bce(converted, pc * expit(a * z_cvr + b)), shift)
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            pc = click_prob(z_click, slot_b)
            iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(pc, clicked)
            self.iso_click = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
            mask = clicked > 0
            if mask.sum() >= 2:
                iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip")
                iso.fit(expit(z_cvr[mask]), converted[mask])
                self.iso_cvr = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        return self

    def transform(self, z_click, slot_b, z_cvr) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated ``(p_click, p_cvr)``; pass ``slot_b = 0`` to score without slot bias."""
        slot_b = np.broadcast_to(np.asarray(slot_b, dtype=np.float64), np.shape(z_click))
        if self.method in ("temperature", "platt"):
            return click_prob(z_click, slot_b, *self.click), expit(self.cvr[0] * z_cvr + self.cvr[1])
        p_click, p_cvr = click_prob(z_click, slot_b), expit(z_cvr)
        if self.method == "isotonic":
            if self.iso_click:
                p_click = np.interp(p_click, self.iso_click["x"], self.iso_click["y"])
            if self.iso_cvr:
                p_cvr = np.interp(p_cvr, self.iso_cvr["x"], self.iso_cvr["y"])
        return p_click, p_cvr

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(**data)


def esmm_row_loss(clicked, converted, p_click, p_cvr) -> np.ndarray:
    """Per-row ``BCE(clicked, p_click) + BCE(converted, p_click * p_cvr)`` (the training loss)."""
    clicked = np.asarray(clicked, dtype=np.float64)
    converted = np.asarray(converted, dtype=np.float64)
    return _bce_rows(clicked, p_click) + _bce_rows(converted, p_click * p_cvr)


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold of each of ``n`` rows, shape (n,), values ``0 .. min(folds, n // 2) - 1`` (at least 2 folds)."""
    folds = max(2, min(folds, n // 2))
    return np.random.default_rng(seed).permutation(n) % folds


def collapse_reason(cal: Calibrator, z_click: np.ndarray, z_cvr: np.ndarray) -> str | None:
    """Why ``cal`` flattens the raw click scores ``z_click`` (n,) to a near constant, or None.

    >>> z = np.linspace(-3, 0, 50)
    >>> collapse_reason(Calibrator("platt", click=[1e-15, -3.1]), z, z) is not None
    True
    >>> collapse_reason(Calibrator("platt", click=[0.8, -0.2]), z, z) is None
    True
    """
    z_click = np.asarray(z_click, np.float64)
    if cal.method in ("temperature", "platt") and cal.click[0] < MIN_SLOPE:
        return f"{cal.method} click slope {cal.click[0]:.3g} < {MIN_SLOPE} (the raw scores carry ~no signal here)"
    raw, _ = Calibrator("none").transform(z_click, 0.0, z_cvr)
    p_click, _ = cal.transform(z_click, 0.0, z_cvr)
    spread = float(np.std(p_click) / max(float(np.mean(p_click)), EPS))
    raw_spread = float(np.std(raw) / max(float(np.mean(raw)), EPS))
    if spread < MIN_RELATIVE_SPREAD and raw_spread >= MIN_RELATIVE_SPREAD:
        return (f"{cal.method} makes p_click nearly constant (std/mean {spread:.2g} < {MIN_RELATIVE_SPREAD}, "
                f"uncalibrated {raw_spread:.2g})")
    return None


def select_calibrator(z_click, slot_b, z_cvr, clicked, converted, *, candidates=AUTO_CANDIDATES,
                      folds: int = 5, seed: int = 0, return_oof: bool = False):
    """Choose and fit a calibrator by ``folds``-fold cross-validated ESMM log-loss.

    ``candidates`` are ordered simplest first (the first of equal losses wins). Returns the chosen
    calibrator, refitted on all rows, and a report ``{"method", "cv_logloss": {method: loss},
    "folds", "n", "rejected": [{"method", "reason"}]}``; ``rejected`` lists better-scoring fits
    refused by :func:`collapse_reason`. With ``return_oof`` a third value holds the chosen
    method's out-of-fold ``(p_click, p_cvr)``, (n,) each.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(-1, 1, 4000); b = np.zeros(4000); zv = rng.normal(0, 1, 4000)
    >>> c = (rng.random(4000) < expit(z)).astype(int); v = c * (rng.random(4000) < expit(zv))
    >>> cal, report = select_calibrator(3 * z, b, zv, c, v)   # over-confident click logits
    >>> cal.method in ("temperature", "platt"), round(cal.click[0], 1)
    (True, 0.3)
    >>> report["cv_logloss"]["none"] > report["cv_logloss"][cal.method]
    True
    """
    z_click, z_cvr = np.asarray(z_click, np.float64), np.asarray(z_cvr, np.float64)
    slot_b = np.broadcast_to(np.asarray(slot_b, np.float64), z_click.shape)
    clicked, converted = np.asarray(clicked, np.float64), np.asarray(converted, np.float64)
    n = len(z_click)
    fold = fold_ids(n, folds, seed)
    folds = int(fold.max()) + 1
    losses = {m: np.empty(n) for m in candidates}
    oof_click = {m: np.empty(n) for m in candidates}
    oof_cvr = {m: np.empty(n) for m in candidates}
    for k in range(folds):
        fit, test = fold != k, fold == k
        for method in candidates:
            cal = Calibrator(method)
            if method != "none":
                cal.fit(z_click[fit], slot_b[fit], z_cvr[fit], clicked[fit], converted[fit])
            p_click, p_cvr = cal.transform(z_click[test], slot_b[test], z_cvr[test])
            oof_click[method][test], oof_cvr[method][test] = p_click, p_cvr
            losses[method][test] = esmm_row_loss(clicked[test], converted[test], p_click, p_cvr)
    mean = {m: float(v.mean()) if np.isfinite(v).all() else float("inf") for m, v in losses.items()}
    rejected = []
    for chosen in sorted(candidates, key=mean.__getitem__):  # stable: the first of equal values wins
        cal = Calibrator(chosen)
        if chosen != "none":
            cal.fit(z_click, slot_b, z_cvr, clicked, converted)
        reason = collapse_reason(cal, z_click, z_cvr)
        if reason is None:
            break
        rejected.append({"method": chosen, "reason": reason})
    else:  # every candidate collapsed: the uncalibrated scores
        cal, chosen = Calibrator("none"), "none"
        oof_click["none"], oof_cvr["none"] = cal.transform(z_click, slot_b, z_cvr)
    report = {"method": chosen, "cv_logloss": mean, "folds": folds, "n": int(n), "rejected": rejected}
    if return_oof:
        return cal, report, (oof_click[chosen], oof_cvr[chosen])
    return cal, report
