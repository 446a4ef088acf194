"""The reward model's model card: ``README.md`` next to ``model.safetensors`` and ``reward_config.json``.

A reader who finds a reward-model directory learns from it, without rlopt's docs: what the model
is (ESMM heads over which encoder, which scorer won, calibration, reward weights), what data it saw
(file names, rows, the logs' own date range), how it did on held-out rows (metrics and the health
status with its reasons), what it is for and not for, and how to load it (Python and CLI).

Everything comes from ``reward_config.json`` (:meth:`reward_models.RewardModel.save_pretrained`)
and the data summary the caller passes (:func:`data_summary`), so the same seed and the same inputs
give the same bytes: no time of writing, no absolute path of the model directory; the only dates
are the logs' own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import rlopt
from rlopt.io_utils import write_text_atomic

if TYPE_CHECKING:
    from reward_models.model import RewardModel

CARD_NAME = "README.md"
TRAIN_COMMAND = "`rlopt reward train`"
#: Held-out metrics shown in the card, in order (``valid`` / ``holdout`` blocks of ``metrics``).
METRICS = ("n", "click_auc", "click_logloss", "click_ece", "click_rate", "click_mean_pred",
           "purchase_auc", "purchase_logloss", "purchase_ece", "purchase_rate", "purchase_mean_pred")
_SCORERS = {"encoder": "the encoder model (MLP heads over the text embeddings), calibrated",
            "baseline": "the baseline (logistic regression on hashed word 1-2 grams + one-hot context)",
            "blend": "a per-head logistic blend of the encoder model and the baseline"}


def data_summary(files: Sequence[tuple[str, str | Path, pd.DataFrame | None]]) -> list[dict[str, Any]]:
    """One row per input file: ``{"role", "file", "rows", "first", "last"}``.

    Parameters
    ----------
    files : sequence of (role, path, frame)
        ``role`` e.g. ``"training logs"``; ``path`` as the user gave it (kept as given: a relative
        path stays relative); ``frame`` the rows read (after quarantine), None if not read.
        ``first`` / ``last`` are the ``timestamp`` column's min / max (UTC, ISO 8601; integers are
        epoch milliseconds, the contract's form), when it has one.

    Examples
    --------
    >>> logs = pd.DataFrame({"timestamp": pd.to_datetime(["2026-03-02", "2026-03-01"], utc=True)})
    >>> data_summary([("training logs", "shop/logs.csv", logs)])[0]
    {'role': 'training logs', 'file': 'shop/logs.csv', 'rows': 2, 'first': '2026-03-01T00:00:00Z', 'last': '2026-03-02T00:00:00Z'}
    >>> data_summary([("holdout", "h.csv", pd.DataFrame({"timestamp": [1767571201399]}))])[0]["first"]
    '2026-01-05T00:00:01Z'
    """
    rows = []
    for role, path, frame in files:
        row: dict[str, Any] = {"role": role, "file": str(path), "rows": None if frame is None else int(len(frame))}
        if frame is not None and "timestamp" in frame and len(frame):
            col = frame["timestamp"]
            # the contract's int64 is epoch milliseconds (read_logs' form); anything else is parsed
            unit = "ms" if pd.api.types.is_integer_dtype(col) else None
            ts = pd.to_datetime(col, utc=True, errors="coerce", unit=unit).dropna()
            if len(ts):
                row["first"], row["last"] = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (ts.min(), ts.max()))
        rows.append(row)
    return rows


def _num(value: Any, fmt: str = ".4g") -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return format(value, fmt) if isinstance(value, float) else str(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731 - one-line escaper
    return ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(map(cell, r)) + " |" for r in rows)]


def _metrics_rows(metrics: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    blocks = [(name, metrics[key]) for key, name in (("valid", "validation (early-stopping slice)"),
                                                      ("holdout", "holdout (--holdout logs)"))
              if isinstance(metrics.get(key), Mapping)]
    head = ["metric", *(name for name, _ in blocks)]
    rows = [[m, *(_num(b.get(m)) for _, b in blocks)] for m in METRICS if any(m in b for _, b in blocks)]
    return head, rows


def model_card(config: Mapping[str, Any], data: Sequence[Mapping[str, Any]] = (), *, rlopt_version: str = "",
               trained_by: str = TRAIN_COMMAND) -> str:
    """The card's Markdown for a saved model's ``reward_config.json`` contents and its data summary.

    Parameters
    ----------
    config : mapping
        ``reward_config.json`` as saved (``encoder``, ``mode``, ``metrics``, ``health``, ...).
    data : sequence of mapping
        :func:`data_summary` rows.
    rlopt_version : str
        Recorded when given.
    trained_by : str
        What trained it, in Markdown (``rlopt reward train``, the reward stage of ``rlopt run``).
    """
    metrics = config.get("metrics") or {}
    health = config.get("health") or {}
    scorer = metrics.get("scorer") or (config.get("combiner") or {}).get("choice", "encoder")
    weights = config.get("weights") or {}
    lines = [
        "---", "library_name: rlopt", "tags:", "- reward-model", "- click-through-rate", "- marketing-copy",
        "- rlopt", "---", "",
        "# Reward model: P(click) and P(purchase) of marketing copy", "",
        f"Trained by {trained_by} (package `reward_models`"
        + (f", rlopt {rlopt_version}" if rlopt_version else "") + "). It predicts, for a piece of copy shown "
        "to a shopper of a segment in a placement, the probability of a click in the placement's first slot "
        "and of a purchase, and combines them into one reward.", "",
        "## Model", "",
        f"- **Type:** two heads, P(click) and P(purchase | click), trained ESMM-style over all impressions with a "
        f"slot bias that is dropped at scoring; mode `{config.get('mode', 'frozen')}`, MLP width "
        f"{config.get('hidden', '?')}.",
        f"- **Encoder:** `{config.get('encoder', '?')}` (max length {config.get('max_length', '?')} tokens, "
        f"precision `{config.get('encoder_precision', config.get('precision', 'fp32'))}`).",
        f"- **Scores with:** {_SCORERS.get(scorer, scorer)} (chosen by cross-validated log-loss on the latest "
        "training slice).",
        f"- **Calibration:** {metrics.get('calibration_method', config.get('calibration_method', '?'))}.",
        "- **Reward:** " + " + ".join(f"{w:g} x {k}" for k, w in weights.items() if w)
        + " (`click` = P(click), `purchase` = P(purchase), `revenue` = expected revenue / median price).",
        f"- **Seed:** {config.get('seed', '?')}; format version {config.get('format_version', '?')}.", "",
        "## Data", "",
    ]
    if data:
        lines += _table(["role", "file", "rows", "first timestamp", "last timestamp"],
                        [[d["role"], d["file"], _num(d.get("rows")), d.get("first", ""), d.get("last", "")]
                         for d in data])
        lines.append("")
    lines += [f"Training rows split by time: {_num(metrics.get('n_train'))} oldest fit the model, "
              f"{_num(metrics.get('n_valid'))} next drive early stopping, {_num(metrics.get('n_calib'))} latest "
              f"only calibrate. Best epoch {_num(metrics.get('best_epoch'))} of {_num(metrics.get('epochs_run'))}.", "",
              "## Held-out metrics", ""]
    head, rows = _metrics_rows(metrics)
    if rows:
        lines += [*_table(head, rows), ""]
    if health:
        auc = (f"click AUC {_num(health.get('auc'), '.3f')} (95% DeLong interval {_num(health.get('auc_low'), '.3f')}"
               f"-{_num(health.get('auc_high'), '.3f')}), baseline {_num(health.get('baseline_auc'), '.3f')}")
        lines += [f"**Health: {health.get('status', '?')}** — {auc}, on {health.get('rows', 'held-out rows')}; "
                  f"calibration slope {_num(health.get('calibration_slope'), '.3g')}."]
        for reason in health.get("reasons") or []:
            lines.append(f"- {reason}")
        for warning in health.get("warnings") or []:
            lines.append(f"- warning: {warning}")
        lines.append("")
    lines += [
        "## Intended use", "",
        "- Rank and score candidate copy for the shop, catalog and placements whose logs trained it; the "
        "reward for tuning a copy generator (`rlopt tune`, TRL `reward_funcs`); the direct-method model of "
        "off-policy evaluation.",
        "- Not a measurement: a predicted lift is a hypothesis to confirm with an A/B test. Not for other shops, "
        "catalogs or placements than those in the data (unknown ones fall back to an 'unknown' embedding).",
        "- With health `weak` or `no_signal`, do not tune a generator on it: its ranking is not better than "
        "chance or than the baseline on held-out rows (see the reasons above).", "",
        "## How to load", "",
        "```python",
        "from reward_models import RewardModel, RewardFunction",
        "",
        'model = RewardModel.from_pretrained("path/to/this/directory")',
        "scores = model.score(copies, catalog)  # p_click, p_purchase, expected_revenue, reward",
        'reward = RewardFunction("path/to/this/directory", catalog)  # a TRL reward function',
        "```", "",
        "```bash",
        "rlopt reward score --model path/to/this/directory --copies copies.jsonl --catalog catalog.csv --out scored.jsonl",
        "rlopt reward eval --model path/to/this/directory --logs holdout.csv --catalog catalog.csv",
        "```", "",
        "## Files", "",
        "- `model.safetensors`: the heads, the slot bias, the baseline's weights (and the encoder's after "
        "`lora` / `full` training).",
        "- `reward_config.json`: encoder spec, vocabularies, scalers, calibration, reward weights, metrics, "
        "health, seed.",
        "- No pickle: nothing in this directory runs code when loaded.", "",
    ]
    return "\n".join(lines)


def write_model_card(model_dir: str | Path, data: Sequence[Mapping[str, Any]] = (), *, rlopt_version: str = "",
                     trained_by: str = TRAIN_COMMAND) -> Path:
    """Write ``<model_dir>/README.md`` (atomically) from the saved ``reward_config.json``; return its path."""
    root = Path(model_dir)
    config = json.loads((root / "reward_config.json").read_text(encoding="utf-8"))
    path = root / CARD_NAME
    write_text_atomic(path, model_card(config, data, rlopt_version=rlopt_version, trained_by=trained_by))
    return path


def save_with_card(model: RewardModel, out_dir: str | Path, data: Sequence[Mapping[str, Any]] = (), *,
                   trained_by: str = TRAIN_COMMAND) -> Path:
    """Save ``model`` (:meth:`~reward_models.RewardModel.save_pretrained`) and write its card beside it, with
    rlopt's version: how every trainer in rlopt writes a reward-model directory. Returns ``out_dir``.

    ``data`` are :func:`data_summary` rows; ``trained_by`` as in :func:`model_card`.
    """
    out = model.save_pretrained(out_dir)
    write_model_card(out, data, rlopt_version=rlopt.__version__, trained_by=trained_by)
    return out
