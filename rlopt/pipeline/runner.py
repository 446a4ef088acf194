"""Run a list of stages with caching, resumption and a run manifest.

Each :class:`Stage` is a function ``fn(ctx) -> summary`` that writes its outputs into
``ctx.work_dir`` and returns a small JSON-able summary (metrics the report and downstream stages
read). The runner, for each stage in order:

1. computes the fingerprint (config sections + external input digests + code version + upstream
   fingerprints + run seed);
2. skips the stage ("cached") if ``<run>/<stage>/stage.json`` holds that fingerprint;
3. otherwise seeds everything with the stage's own seed (run seed + stage name), runs it in
   ``<run>/<stage>.tmp/``, renames the directory and writes ``stage.json`` last;
4. records status and wall time in ``<run>/manifest.json`` (rewritten after every stage).

A stage whose area is not installed raises :class:`StageUnavailable`; it is recorded with the
reason, stages that need it are "blocked", and stages that only *optionally* use it (the report)
run and say "not available". Any other exception is recorded as "failed" and re-raised: the next
run resumes from that stage, skipping the finished ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import rlopt
from rlopt.io_utils import write_json_atomic
from rlopt.pipeline.cache import (
    canonical_json,
    code_version,
    commit_stage,
    file_digest,
    fingerprint,
    fresh_tmp_dir,
    read_marker,
)
from rlopt.pipeline.config import ExperimentConfig
from rlopt.seeding import seed_everything

FAULT_ENV = "RLOPT_INJECT_FAULT"
"""Set to a stage name to crash that stage after its outputs are written but before it is
committed (the resume tests use it; it simulates a kill mid-stage)."""

OK_STATUSES = ("ran", "cached")
ATTEMPT = ".attempt.json"  # in <stage>.tmp/: the fingerprint the attempt was started with


class StageUnavailable(RuntimeError):
    """The stage cannot run here (its area is not installed, or the data has no ground truth)."""


class InjectedFault(RuntimeError):
    """Raised by the runner when :data:`FAULT_ENV` names the running stage."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes
    ----------
    name : str
        Directory name under the run directory and key in the manifest.
    fn : callable
        ``fn(ctx: StageContext) -> dict`` (JSON-able summary); writes files under ``ctx.work_dir``.
    sections : tuple of str
        Config sections (or ``"section.key"``) that the stage reads; they enter the fingerprint.
    deps : tuple of str
        Upstream stages it needs; if one did not finish, this stage is "blocked".
    optional_deps : tuple of str
        Upstream stages it uses when they finished and reports as missing otherwise.
    inputs : callable, optional
        ``inputs(config) -> list of paths`` of external files whose bytes enter the fingerprint.
    version : int
        Bump to invalidate caches when a library the stage calls changes behaviour.
    resumable : bool
        Keep a crashed attempt's ``<stage>.tmp/`` (same fingerprint) so the stage function can
        pick up its own checkpoints (tuning does); otherwise every attempt starts empty.
    """

    name: str
    fn: Callable[[StageContext], dict[str, Any]]
    sections: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    optional_deps: tuple[str, ...] = ()
    inputs: Callable[[ExperimentConfig], list[str]] | None = None
    version: int = 1
    resumable: bool = False


@dataclass
class StageResult:
    """What happened to a stage in this run: status, output directory, summary, timings."""

    name: str
    status: str  # ran | cached | unavailable | blocked | failed
    dir: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    wall_s: float = 0.0
    compute_wall_s: float = 0.0  # wall time of the run that produced the outputs
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dir": str(self.dir) if self.dir else None,
            "fingerprint": self.fingerprint,
            "wall_s": round(self.wall_s, 3),
            "compute_wall_s": round(self.compute_wall_s, 3),
            "reason": self.reason,
        }


@dataclass
class StageContext:
    """What a stage function sees: its config, its work directory, its seed and its upstream."""

    name: str
    config: ExperimentConfig
    work_dir: Path
    run_dir: Path
    seed: int
    upstream: dict[str, StageResult]
    log: Callable[[str], None] = print

    def dir(self, stage: str) -> Path:
        """Output directory of a finished upstream stage."""
        return self.upstream[stage].dir  # type: ignore[return-value]

    def summary(self, stage: str) -> dict[str, Any]:
        """Summary of a finished upstream stage ({} if it is not available)."""
        result = self.upstream.get(stage)
        return result.summary if result is not None and result.ok else {}

    def has(self, stage: str) -> bool:
        result = self.upstream.get(stage)
        return result is not None and result.ok

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


@dataclass
class RunResult:
    """The outcome of :func:`run_stages`: per-stage results and the manifest written to disk."""

    run_dir: Path
    results: dict[str, StageResult]
    manifest: dict[str, Any]

    def statuses(self) -> dict[str, str]:
        return {name: r.status for name, r in self.results.items()}


def derive_seed(run_seed: int, stage: str) -> int:
    """A stage's seed: the first 4 bytes of ``sha256(f"{run_seed}/{stage}")`` as an int.

    >>> derive_seed(0, "reward") == derive_seed(0, "reward") != derive_seed(1, "reward")
    True
    """
    return int.from_bytes(hashlib.sha256(f"{run_seed}/{stage}".encode()).digest()[:4], "little")


def _section_values(config: ExperimentConfig, sections: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in sections:
        section, _, key = spec.partition(".")
        values = config.section(section)
        out[spec] = values[key] if key else values
    return out


def _stage_fingerprint(stage: Stage, config: ExperimentConfig, upstream: dict[str, StageResult]) -> str:
    inputs = stage.inputs(config) if stage.inputs else []
    payload = {
        "stage": stage.name,
        "code": code_version(stage.fn, stage.version),
        "rlopt": rlopt.__version__,
        "seed": config.run.seed,
        "config": _section_values(config, stage.sections),
        "inputs": {str(p): file_digest(p) for p in inputs},
        "upstream": {
            dep: (upstream[dep].fingerprint if upstream[dep].ok else f"missing:{upstream[dep].status}")
            for dep in (*stage.deps, *stage.optional_deps)
        },
    }
    return fingerprint(payload)


def _check_order(stages: Sequence[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        for dep in (*stage.deps, *stage.optional_deps):
            if dep not in seen:
                raise ValueError(f"stage {stage.name!r} depends on {dep!r}, which does not run before it")
        if stage.name in seen:
            raise ValueError(f"stage {stage.name!r} appears twice")
        seen.add(stage.name)


def run_stages(
    config: ExperimentConfig,
    stages: Sequence[Stage],
    *,
    force: Iterable[str] = (),
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run ``stages`` in order under ``config.run.out_dir``, reusing finished stages.

    Parameters
    ----------
    config : ExperimentConfig
    stages : sequence of Stage
        In dependency order (checked).
    force : iterable of str
        Stage names to redo even if cached; stages downstream of a forced stage are redone too.
    log : callable
        Receives one progress line per stage.
    """
    _check_order(stages)
    force = set(force)
    run_dir = Path(config.run.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.run.seed)
    if config.run.threads:
        import torch

        torch.set_num_threads(config.run.threads)
    write_json_atomic(run_dir / "config.json", {"source": config.source, **config.to_dict()})
    manifest: dict[str, Any] = {
        "name": config.run.name,
        "config": config.source,
        "seed": config.run.seed,
        "rlopt_version": rlopt.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "stage_order": [s.name for s in stages],
        "stages": {},
    }
    results: dict[str, StageResult] = {}
    t_run = time.perf_counter()
    for stage in stages:
        if any(dep in force for dep in (*stage.deps, *stage.optional_deps)):
            force.add(stage.name)
        result = _run_one(stage, config, run_dir, results, stage.name in force, log)
        results[stage.name] = result
        manifest["stages"][stage.name] = result.to_dict()
        manifest["total_wall_s"] = round(time.perf_counter() - t_run, 3)
        write_json_atomic(run_dir / "manifest.json", manifest)
        if result.status == "failed":
            raise result.summary.pop("_exception")
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_json_atomic(run_dir / "manifest.json", manifest)
    return RunResult(run_dir=run_dir, results=results, manifest=manifest)


def _run_one(
    stage: Stage,
    config: ExperimentConfig,
    run_dir: Path,
    done: dict[str, StageResult],
    forced: bool,
    log: Callable[[str], None],
) -> StageResult:
    blocked = [d for d in stage.deps if not done[d].ok]
    if blocked:
        dep = done[blocked[0]]
        reason = f"needs stage '{dep.name}', which is {dep.status}" + (f" ({dep.reason})" if dep.reason else "")
        log(f"[{stage.name}] blocked: {reason}")
        return StageResult(stage.name, "blocked", reason=reason)
    upstream = {d: done[d] for d in (*stage.deps, *stage.optional_deps)}
    fp = _stage_fingerprint(stage, config, upstream)
    final = run_dir / stage.name
    marker = read_marker(final)
    if marker is not None and marker.get("fingerprint") == fp and not forced:
        log(f"[{stage.name}] cached (fingerprint {fp[:12]})")
        return StageResult(stage.name, "cached", final, marker.get("summary", {}), fp,
                           compute_wall_s=marker.get("wall_s", 0.0))
    tmp = run_dir / f"{stage.name}.tmp"
    attempt = read_marker(tmp, ATTEMPT)
    if stage.resumable and attempt is not None and attempt.get("fingerprint") == fp:
        log(f"[{stage.name}] resuming a crashed attempt in {tmp.name}/")
    else:
        log(f"[{stage.name}] running")
        tmp = fresh_tmp_dir(run_dir, stage.name)
        write_json_atomic(tmp / ATTEMPT, {"fingerprint": fp})
    seed = derive_seed(config.run.seed, stage.name)
    seed_everything(seed)
    ctx = StageContext(stage.name, config, tmp, run_dir, seed, upstream, log)
    t0 = time.perf_counter()
    try:
        summary = stage.fn(ctx) or {}
        if os.environ.get(FAULT_ENV) == stage.name:
            raise InjectedFault(f"fault injected into stage '{stage.name}' by ${FAULT_ENV}")
    except StageUnavailable as err:
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"[{stage.name}] not available: {err}")
        return StageResult(stage.name, "unavailable", reason=str(err), wall_s=time.perf_counter() - t0)
    except Exception as err:
        wall = time.perf_counter() - t0
        log(f"[{stage.name}] failed after {wall:.1f}s: {type(err).__name__}: {err}")
        return StageResult(stage.name, "failed", summary={"_exception": err}, wall_s=wall,
                           reason=f"{type(err).__name__}: {err}")
    wall = time.perf_counter() - t0
    summary = json.loads(canonical_json(summary))  # what a cached rerun will read back
    marker = {
        "stage": stage.name,
        "fingerprint": fp,
        "seed": seed,
        "wall_s": round(wall, 3),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "upstream": {d: r.fingerprint for d, r in upstream.items()},
        "summary": summary,
    }
    (tmp / ATTEMPT).unlink(missing_ok=True)
    final = commit_stage(run_dir, stage.name, tmp, marker)
    log(f"[{stage.name}] done in {wall:.1f}s")
    return StageResult(stage.name, "ran", final, summary, fp, wall_s=wall, compute_wall_s=wall)
