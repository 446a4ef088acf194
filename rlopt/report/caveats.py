"""What a number in the report can and cannot say: small samples, undefined metrics, clipped bounds.

Three rules, each giving the sentence the report prints next to the number:

- **Calibration from few rows.** A reliability diagram's bin ``b`` with ``n_b`` held-out rows and
  ``e_b = n_b * observed_b`` events has an observed rate with standard error
  ``sqrt(p (1 - p) / n_b)``; with fewer than :data:`MIN_BIN_EVENTS` events the normal approximation
  (and the eye) fails, so those bins (or, when they are most, the diagram) are said to be noisy.
  Below :data:`MIN_ROWS` rows or :data:`MIN_EVENTS` events in all, it is not drawn
  (:func:`calibration_check`).
- **Undefined metrics.** An AUC needs both classes; on a holdout without a purchase it is NaN, and
  the report says so instead of printing ``nan`` (:func:`nan_reason`).
- **Rates stay rates.** An interval of a rate (a click or purchase rate in ``[0, 1]``) can leave
  ``[0, 1]`` with a normal or doubly-robust bootstrap; the report clips it and marks each clipped
  end (:func:`clip_estimates`, :func:`bound_cell`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Fewer held-out rows than this: no calibration diagram (its bins would be a handful of rows).
MIN_ROWS = 100
#: Fewer positive events (clicks) than this over all bins: no calibration diagram.
MIN_EVENTS = 10
#: A bin with fewer events than this makes the diagram "noisy" (the binomial rule of thumb n p >= 10).
MIN_BIN_EVENTS = 10


def calibration_check(bins: Sequence[Mapping[str, float]] | None) -> tuple[bool, str]:
    """Whether to draw the calibration diagram, and the sentence that goes with it.

    Parameters
    ----------
    bins : sequence of ``{"mean_predicted", "observed", "count"}`` or None
        Equal-count bins of held-out rows; ``count * observed`` is the bin's number of events.

    Returns
    -------
    (draw, note) : (bool, str)
        ``note`` is ``""`` when the sample is large enough to say nothing.

    Examples
    --------
    >>> calibration_check([{"mean_predicted": 0.1, "observed": 0.1, "count": 27}] * 2)
    (False, 'Calibration plot not drawn: 54 held-out rows with 5 events (at least 100 rows and 10 events are needed for a reliability diagram that is not mostly noise).')
    >>> draw, note = calibration_check([{"mean_predicted": 0.05, "observed": 0.05, "count": 100}] * 10)
    >>> draw, note.split(" (")[0]
    (True, '1,000 held-out rows in 10 bins: bins are noisy')
    >>> low = [{"mean_predicted": 0.002, "observed": 0.002, "count": 3000}]
    >>> calibration_check(low + [{"mean_predicted": 0.05, "observed": 0.05, "count": 3000}] * 9)[1].split(" (")[0]
    '30,000 held-out rows in 10 bins: 1 of them with fewer than 10 events'
    >>> calibration_check([{"mean_predicted": 0.05, "observed": 0.05, "count": 1000}] * 10)
    (True, '')
    """
    if not bins:
        return False, ""
    rows = int(sum(b["count"] for b in bins))
    events = [b["count"] * b["observed"] for b in bins]
    total = int(round(sum(events)))
    if rows < MIN_ROWS or total < MIN_EVENTS:
        return False, (f"Calibration plot not drawn: {rows:,} held-out rows with {total:,} events (at least "
                       f"{MIN_ROWS} rows and {MIN_EVENTS} events are needed for a reliability diagram that is "
                       "not mostly noise).")
    sparse = [e for e in events if e < MIN_BIN_EVENTS]
    if not sparse:
        return True, ""
    why = (f"below {MIN_BIN_EVENTS} events a bin's observed rate can be far from its true rate by chance; "
           "the error bars are 95% Wilson intervals")
    if 2 * len(sparse) > len(bins):  # most bins: the diagram as a whole
        return True, (f"{rows:,} held-out rows in {len(bins)} bins: bins are noisy (the sparsest has "
                      f"{min(sparse):.0f} events; {why}).")
    return True, (f"{rows:,} held-out rows in {len(bins)} bins: {len(sparse)} of them with fewer than "
                  f"{MIN_BIN_EVENTS} events (the sparsest {min(sparse):.0f}) {'is' if len(sparse) == 1 else 'are'} noisy "
                  f"({why}).")


def nan_reason(metric: str, metrics: Mapping[str, Any]) -> str:
    """Why ``metric`` (a reward-model held-out metric such as ``purchase_auc``) is NaN.

    Reads the evaluation's own counts: ``n`` (held-out rows) and ``<target>_rate``.

    Examples
    --------
    >>> nan_reason("purchase_auc", {"n": 54, "purchase_rate": 0.0})
    'n/a: no purchases in the 54 held-out rows (an AUC needs both classes)'
    >>> nan_reason("click_auc", {"n": 54, "click_rate": 1.0})
    'n/a: every one of the 54 held-out rows is a click (one class only: an AUC needs both)'
    >>> nan_reason("click_ece", {"n": 0})
    'n/a: no held-out rows'
    """
    n = metrics.get("n")
    if n == 0:
        return "n/a: no held-out rows"
    target = metric.split("_", 1)[0]
    noun = {"click": "click", "purchase": "purchase"}.get(target, target)
    rate = metrics.get(f"{target}_rate")
    rows = f"{int(n):,} held-out rows" if isinstance(n, (int, float)) and n == n else "held-out rows"
    if rate == 0:
        return f"n/a: no {noun}s in the {rows} (an AUC needs both classes)" if "auc" in metric else \
            f"n/a: no {noun}s in the {rows}"
    if rate == 1:
        return f"n/a: every one of the {rows} is a {noun} (one class only: an AUC needs both)"
    return "n/a: not defined on this holdout"


def clip_estimates(estimates: Sequence[Mapping[str, Any]] | None,
                   bounds: Sequence[float] | None) -> tuple[list[dict[str, Any]], str]:
    """Estimates with ``estimate``, ``low``, ``high`` clipped to ``bounds``; and a note when any was.

    A clipped value keeps its raw value under ``"<key>_raw"`` so the report can mark it.

    Examples
    --------
    >>> rows, note = clip_estimates([{"estimator": "dr", "estimate": 0.01, "low": -0.004, "high": 0.02}], (0, 1))
    >>> rows[0]["low"], rows[0]["low_raw"], note.startswith("Rate intervals are clipped to [0, 1]")
    (0.0, -0.004, True)
    >>> clip_estimates([{"estimator": "dm", "estimate": 0.5, "low": 0.4, "high": 0.6}], (0, 1))[1]
    ''
    """
    if not estimates:
        return [], ""
    if not bounds:
        return [dict(e) for e in estimates], ""
    lo, hi = float(bounds[0]), float(bounds[1])
    out, clipped = [], []
    for e in estimates:
        row = dict(e)
        for key in ("estimate", "low", "high"):
            value = row.get(key)
            if value is None or value != value:
                continue
            if value < lo or value > hi:
                row[f"{key}_raw"] = value
                row[key] = min(max(value, lo), hi)
                clipped.append(f"{row.get('estimator', '?')} {key}")
        out.append(row)
    note = (f"Rate intervals are clipped to [{lo:g}, {hi:g}] (a rate cannot leave it; the bootstrap of a "
            f"doubly-robust or normal interval can): {', '.join(clipped)} marked 'clipped'.") if clipped else ""
    return out, note


def bound_cell(row: Mapping[str, Any], key: str) -> Any:
    """The table cell for ``row[key]``: the number, or ``"0 (clipped; raw -0.004)"`` when clipped.

    >>> bound_cell({"low": 0.0, "low_raw": -0.0041}, "low")
    '0 (clipped; raw -0.0041)'
    >>> bound_cell({"low": 0.01}, "low")
    0.01
    """
    if f"{key}_raw" in row:
        return f"{row[key]:.4g} (clipped; raw {row[f'{key}_raw']:.4g})"
    return row[key]
