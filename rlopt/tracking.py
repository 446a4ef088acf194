"""Experiment tracking: rlopt's own end-of-run numbers go to the tracker TRL logs training to.

``report_to`` is the Trainer's own field (``none`` | ``tensorboard`` | ``trackio`` | ``mlflow``, or a
list): TRL logs loss, reward, KL, ... every logging step through it. What TRL cannot see —
reward-model health, OPE estimates, A/B results, the pairs mined for DPO — is logged by
:func:`log_metrics` to the same tracker at the end of a run, under the ``rlopt/`` prefix:

- ``tensorboard``: an event file in ``log_dir`` written by ``torch.utils.tensorboard.SummaryWriter``
  (needs the ``tensorboard`` package, as TRL's own TensorBoard logging does). Use the directory
  TRL wrote to (:func:`tensorboard_dir`) so both show as one run;
- ``mlflow``: ``mlflow.log_metrics`` into the active run when there is one, else into a new run
  named ``run_name``; ``MLFLOW_TRACKING_URI`` chooses where, as for TRL;
- ``trackio``: ``trackio.log`` in the run ``run_name`` of project ``project`` (resumed if it exists).

Only finite numbers are logged; nested dicts are flattened with ``/`` (``ope/dr/value``).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rlopt.errors import InputError

TRACKERS = ("none", "tensorboard", "trackio", "mlflow")
_PACKAGES = {"tensorboard": "tensorboard", "trackio": "trackio", "mlflow": "mlflow"}
PREFIX = "rlopt/"


def trackers(report_to: str | Iterable[str] | None) -> list[str]:
    """The tracker names in ``report_to`` (``"none"`` / None / ``[]`` -> ``[]``), each checked.

    Raises
    ------
    InputError
        An unknown tracker, or one whose package is not installed (naming the ``pip install``).
    """
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    names = [str(n).strip().lower() for n in names if str(n).strip().lower() not in ("", "none")]
    for name in names:
        if name not in TRACKERS:
            raise InputError(f"report_to {name!r} is not a tracker rlopt supports; use one of "
                             f"{', '.join(TRACKERS)}", key="report_to", value=name)
        if importlib.util.find_spec(_PACKAGES[name]) is None:
            raise InputError(f"report_to {name!r} needs the {_PACKAGES[name]} package: "
                             f"pip install {_PACKAGES[name]} (or set report_to to none)",
                             key="report_to", value=name)
    return names


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numbers of ``metrics`` (nested dicts flattened with ``/``); bools count as 0/1.

    >>> flatten_metrics({"ab": {"lift": 1.5, "note": "x"}, "auc": float("nan"), "n": 3})
    {'ab/lift': 1.5, 'n': 3.0}
    """
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{name}/"))
        elif isinstance(value, (bool, int, float)) or type(value).__module__ == "numpy":
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                out[name] = number
    return out


def tensorboard_dir(trainer) -> str | None:
    """The directory TRL's TensorBoard callback wrote to (None when it is not logging to TensorBoard)."""
    for callback in trainer.callback_handler.callbacks:
        if type(callback).__name__ == "TensorBoardCallback":
            return getattr(callback, "logging_dir", None)
    return None


def log_metrics(metrics: Mapping[str, Any], report_to: str | Iterable[str] | None, *,
                log_dir: str | Path | None = None, step: int = 0, run_name: str | None = None,
                project: str = "rlopt") -> dict[str, float]:
    """Log ``metrics`` (flattened, prefixed ``rlopt/``) to every tracker in ``report_to``.

    Parameters
    ----------
    metrics : mapping
        Flat or nested numbers (see :func:`flatten_metrics`); non-numbers are skipped.
    report_to : str or list of str or None
        As the Trainer's field; ``"none"`` logs nothing.
    log_dir : path, optional
        TensorBoard's event directory (required for ``tensorboard``).
    step : int
        The x-axis value (e.g. the run's last training step).
    run_name, project : str
        The mlflow / trackio run (and trackio project) to log into.

    Returns
    -------
    dict
        What was logged, by name (empty when ``report_to`` is none).
    """
    names = trackers(report_to)
    flat = {f"{PREFIX}{k}": v for k, v in flatten_metrics(metrics).items()}
    if not names or not flat:
        return {}
    if "tensorboard" in names:
        if log_dir is None:
            raise InputError("report_to tensorboard needs a log directory for rlopt's metrics", key="report_to")
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(log_dir))
        try:
            for name, value in flat.items():
                writer.add_scalar(name, value, global_step=step)
        finally:
            writer.close()
    if "mlflow" in names:
        import mlflow

        started = mlflow.active_run() is None
        if started:
            mlflow.start_run(run_name=run_name)
        try:  # mlflow's metric names allow letters, digits, _ - . / and spaces
            mlflow.log_metrics(flat, step=step)
        finally:
            if started:
                mlflow.end_run()
    if "trackio" in names:
        import trackio

        trackio.init(project=project, name=run_name, resume="allow")
        trackio.log(flat, step=step)
        trackio.finish()
    return flat


def log_trainer_run(trainer, metrics: Mapping[str, Any], step: int) -> dict[str, float]:
    """:func:`log_metrics` into the trackers and run of a finished TRL ``trainer`` (its ``report_to``,
    its TensorBoard directory, its ``run_name``)."""
    args = trainer.args
    return log_metrics(metrics, args.report_to, log_dir=tensorboard_dir(trainer), step=step,
                       run_name=getattr(args, "run_name", None))


# Stages whose summaries hold rlopt's own end-of-run numbers (the report stage only renders them).
RUN_STAGES = ("validate", "reward", "tuning", "generation", "ab", "bandit", "ope")
RUN_LOG_SUBDIR = "tracking"


def log_run(config, result) -> dict[str, float]:
    """Log a finished ``rlopt run``'s stage summaries to ``[tuning] report_to``'s trackers.

    Reward-model health (``reward/...``), the A/B comparison (``ab/...``), OPE estimates
    (``ope/...``), bandit and generation numbers: every finite number of each finished stage's
    summary (lists such as curves are left to TRL's per-step logging). TensorBoard gets them in
    ``<run>/tracking`` (``tensorboard --logdir <run>`` shows them beside TRL's tuning curves in
    ``<run>/tuning``); mlflow and trackio in a run named after the run directory.

    Parameters
    ----------
    config : rlopt.pipeline.ExperimentConfig
    result : rlopt.pipeline.RunResult
    """
    report_to = config.tuning.fields.get("report_to", "none")
    metrics = {name: result.results[name].summary for name in RUN_STAGES
               if name in result.results and result.results[name].ok}
    return log_metrics(metrics, report_to, log_dir=Path(result.run_dir) / RUN_LOG_SUBDIR,
                       run_name=Path(result.run_dir).name)
