"""Training curves from a Trainer's ``log_history``: one CSV (every logged number) and one PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.io_utils import atomic_path

# Panels, in order: the first matching key of each group is plotted.
_PANELS = (
    ("loss", ("loss",)),
    ("reward", ("reward", "rewards/chosen", "rewards/margins")),
    ("KL", ("kl", "objective/kl")),
    ("accuracy / clip", ("rewards/accuracies", "clip_ratio/region_mean", "clip_ratio")),
)


def history_frame(history: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows of ``log_history`` that are per-step training logs (have ``step``, not the final summary).

    Columns are ``step``, ``epoch``, then the rest sorted by name: the order the Trainer logged
    keys in is lost when it reloads a checkpoint's ``trainer_state.json`` (saved with sorted
    keys), and a resumed run must write the same ``curves.csv`` as an uninterrupted one.
    """
    rows = [h for h in history if "step" in h and "train_runtime" not in h]
    frame = pd.DataFrame(rows)
    first = [c for c in ("step", "epoch") if c in frame.columns]
    return frame[first + sorted(c for c in frame.columns if c not in first)]


def write_curves(history: list[dict[str, Any]], out_dir: str | Path) -> dict[str, str]:
    """Write ``curves.csv`` and ``curves.png`` under ``out_dir``; return their paths.

    The PNG has up to four panels (loss, reward, KL, accuracy/clip ratio) with whatever keys the
    trainer logged; missing panels are skipped.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    frame = history_frame(history)
    paths = {"csv": str(out / "curves.csv"), "png": str(out / "curves.png")}
    with atomic_path(paths["csv"]) as tmp:
        frame.to_csv(tmp, index=False)
    panels = []
    for title, keys in _PANELS:
        key = next((k for k in keys if k in frame.columns and frame[k].notna().any()), None)
        if key is not None:
            panels.append((title, key))
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4 * max(1, len(panels)), 3), squeeze=False)
    for ax, (title, key) in zip(axes[0], panels, strict=False):
        sub = frame[["step", key]].dropna()
        ax.plot(sub["step"], sub[key], marker=".", linewidth=1)
        ax.set_title(f"{title} ({key})", fontsize=9)
        ax.set_xlabel("step")
    fig.tight_layout()
    with atomic_path(paths["png"]) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return paths
