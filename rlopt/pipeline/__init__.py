"""The one-command loop: ``rlopt run CONFIG.toml`` runs every stage with a cache, then the report.

- :mod:`rlopt.pipeline.config` — experiment TOML -> :class:`ExperimentConfig` (strict keys).
- :mod:`rlopt.pipeline.runner` — :class:`Stage`, caching by fingerprint, resume, manifest.
- :mod:`rlopt.pipeline.cache` — fingerprints (config, inputs, rlopt's source, library versions), ``stage.json``.
- :mod:`rlopt.pipeline.rundir` — the run directory's owner marker (``.rlopt-run``) and lock: rlopt
  writes only into a new, empty or rlopt-made directory, one run at a time, and replaces only
  folders it made.
- :mod:`rlopt.pipeline.stages` — the stage list (data, validate, reward, tuning, generation, ab,
  bandit, ope, report) calling each area's public API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rlopt.pipeline.config import ExperimentConfig, config_from_dict, load_config
from rlopt.pipeline.runner import RunResult, Stage, StageResult, StageUnavailable, run_stages


def run_pipeline(config: ExperimentConfig, *, force: Iterable[str] = (),
                 log: Callable[[str], None] = print) -> RunResult:
    """Run the full pipeline for ``config`` (see :func:`rlopt.pipeline.runner.run_stages`)."""
    from rlopt.errors import InputError
    from rlopt.pipeline.stages import STAGE_NAMES, build_stages

    unknown = [s for s in force if s not in STAGE_NAMES]
    if unknown:
        raise InputError(f"unknown stage '{unknown[0]}' to force; stages: {', '.join(STAGE_NAMES)}",
                         column="force", value=unknown[0])
    from rlopt.tracking import log_run, trackers

    trackers(config.tuning.fields.get("report_to"))  # an unknown or uninstalled tracker: before any stage
    result = run_stages(config, build_stages(config), force=force, log=log)
    log_run(config, result)  # rlopt's own numbers to [tuning] report_to's tracker (none by default)
    return result


__all__ = ["ExperimentConfig", "RunResult", "Stage", "StageResult", "StageUnavailable", "config_from_dict",
           "load_config", "run_pipeline", "run_stages"]
