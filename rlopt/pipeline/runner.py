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

Safety and failures:

- The run directory is claimed first (:mod:`rlopt.pipeline.rundir`): rlopt refuses a non-empty
  directory it did not make and a directory another run holds (one ``flock`` per run directory,
  released when the process ends, however it ends), and removes a stage folder only when it
  carries rlopt's own marker.
- Before a stage starts, the manifest records it as ``running`` (with the pid); a run killed
  outright (``kill -9``) leaves exactly that, and the next run redoes the stage. Environment
  failures are recorded as ``failed`` with a reason a person can act on: disk full names the path
  and the free space, ``MemoryError`` says so, Ctrl-C / ``SIGTERM`` read "interrupted".
- Writing the manifest is best-effort: if it fails (the disk is full), the failure is said on
  stderr and the stage's own error is the one raised.
- A resumable stage (tuning) keeps a crashed attempt's ``<stage>.tmp/`` when the fingerprint
  matches and the stage is not forced; ``--force`` always starts from an empty ``.tmp``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import rlopt
from rlopt.io_utils import write_json_atomic
from rlopt.machine import describe
from rlopt.pipeline.cache import (
    canonical_json,
    code_version,
    commit_stage,
    file_digest,
    fingerprint,
    fresh_tmp_dir,
    library_versions,
    read_marker,
    source_digest,
)
from rlopt.pipeline.config import ExperimentConfig
from rlopt.pipeline.rundir import ATTEMPT_MARKER, claim_run_dir, remove_owned_dir
from rlopt.pipeline.runlog import run_log
from rlopt.seeding import seed_everything

FAULT_ENV = "RLOPT_INJECT_FAULT"
"""Set to a stage name to crash that stage after its outputs are written but before it is
committed (the resume tests use it; it simulates a kill mid-stage)."""

OK_STATUSES = ("ran", "cached")
ATTEMPT = ATTEMPT_MARKER  # in <stage>.tmp/: the fingerprint the attempt was started with
RUN_DIR_OPTION = "--out / [run] out_dir"


class StageUnavailable(RuntimeError):
    """The stage cannot run here (its area is not installed, or the data has no ground truth)."""


class InjectedFault(RuntimeError):
    """Raised by the runner when :data:`FAULT_ENV` names the running stage."""


class Terminated(KeyboardInterrupt):
    """``SIGTERM`` arrived during a run (raised so the manifest records it, like Ctrl-C)."""


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
    status: str  # ran | cached | unavailable | blocked | failed (| running, in the manifest only)
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
        "source": source_digest(),
        "versions": library_versions(),
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
    with claim_run_dir(config.run.out_dir, RUN_DIR_OPTION) as run_dir, _sigterm_as_interrupt():
        return _run_all(config, stages, run_dir, set(force), log)


def _run_all(config: ExperimentConfig, stages: Sequence[Stage], run_dir: Path, force: set[str],
             log: Callable[[str], None]) -> RunResult:
    with run_log(run_dir, log) as log_both:  # <run>/log.txt gets every line and library record in full
        return _run_all_logged(config, stages, run_dir, force, log_both)


def _run_all_logged(config: ExperimentConfig, stages: Sequence[Stage], run_dir: Path, force: set[str],
                    log: Callable[[str], None]) -> RunResult:
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
        "machine": describe(),  # timings are readable only next to the CPU and the kernels torch ran
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "stage_order": [s.name for s in stages],
        "pid": os.getpid(),
        "stages": {},
    }
    results: dict[str, StageResult] = {}
    t_run = time.perf_counter()
    for stage in stages:
        if any(dep in force for dep in (*stage.deps, *stage.optional_deps)):
            force.add(stage.name)
        # "running" until the stage ends: what a run killed outright (kill -9) leaves behind.
        manifest["stages"][stage.name] = {"status": "running", "pid": os.getpid(),
                                          "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_manifest(run_dir, manifest)
        try:
            result = _run_one(stage, config, run_dir, results, stage.name in force, log)
        except (Exception, KeyboardInterrupt) as err:  # outside the stage function: claiming or committing
            manifest["stages"][stage.name] = {"status": "failed", "reason": failure_reason(err)}
            write_manifest(run_dir, manifest)
            raise
        results[stage.name] = result
        manifest["stages"][stage.name] = result.to_dict()
        manifest["total_wall_s"] = round(time.perf_counter() - t_run, 3)
        write_manifest(run_dir, manifest)
        if result.status == "failed":
            raise result.summary.pop("_exception")
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_manifest(run_dir, manifest)
    return RunResult(run_dir=run_dir, results=results, manifest=manifest)


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> bool:
    """Write ``<run>/manifest.json`` atomically, best-effort: a failure (disk full) is said on
    stderr and returns False instead of raising, so it never hides the error being recorded."""
    try:
        write_json_atomic(run_dir / "manifest.json", manifest)
    except OSError as err:
        print(f"warning: could not write {run_dir / 'manifest.json'} ({failure_reason(err)}); the stage "
              "statuses above are not recorded on disk", file=sys.stderr)
        return False
    return True


def failure_reason(err: BaseException) -> str:
    """One line for the manifest: why a stage failed, in words a person can act on.

    Disk full and other ``OSError`` are described by the CLI's :func:`rlopt.cli._common.describe_failure`
    (path and free space), so the manifest and the terminal say the same thing.
    """
    if isinstance(err, Terminated):
        return "interrupted: the process received SIGTERM; rerun to resume"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (Ctrl-C); rerun to resume"
    if isinstance(err, MemoryError):
        return ("out of memory (MemoryError); lower the batch sizes or [run] threads, or free memory, then "
                "rerun to resume")
    if isinstance(err, OSError):
        from rlopt.cli._common import describe_failure

        return describe_failure(err)[0]
    return f"{type(err).__name__}: {err}"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn ``SIGTERM`` into :class:`Terminated` while the run lasts, so the manifest records it.

    Only the main thread can install signal handlers; elsewhere the default action stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_one(
    stage: Stage,
    config: ExperimentConfig,
    run_dir: Path,
    done: dict[str, StageResult],
    forced: bool,
    log: Callable[[str], None],
) -> StageResult:
    detail = getattr(log, "detail", log)
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
    if stage.resumable and not forced and attempt is not None and attempt.get("fingerprint") == fp:
        log(f"[{stage.name}] resuming a crashed attempt in {tmp.name}/")
    else:
        detail(f"[{stage.name}] running")
        tmp = fresh_tmp_dir(run_dir, stage.name, {"fingerprint": fp, "pid": os.getpid()})
    seed = derive_seed(config.run.seed, stage.name)
    seed_everything(seed)
    # The stage's own lines are details (the log file, and the live status line while it runs);
    # the runner's outcome line below stays on the console (rlopt.pipeline.runlog.RunLog).
    ctx = StageContext(stage.name, config, tmp, run_dir, seed, upstream, detail)
    live_line = getattr(log, "stage", None)
    t0 = time.perf_counter()
    try:
        with live_line(stage.name) if live_line else contextlib.nullcontext():
            summary = stage.fn(ctx) or {}
        if os.environ.get(FAULT_ENV) == stage.name:
            raise InjectedFault(f"fault injected into stage '{stage.name}' by ${FAULT_ENV}")
    except StageUnavailable as err:
        remove_owned_dir(tmp)
        log(f"[{stage.name}] not available: {err}")
        return StageResult(stage.name, "unavailable", reason=str(err), wall_s=time.perf_counter() - t0)
    except (Exception, KeyboardInterrupt) as err:  # KeyboardInterrupt too: Ctrl-C and SIGTERM are recorded
        wall = time.perf_counter() - t0
        reason = failure_reason(err)
        log(f"[{stage.name}] failed after {wall:.1f}s: {reason}")
        return StageResult(stage.name, "failed", summary={"_exception": err}, wall_s=wall, reason=reason)
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
    final = commit_stage(run_dir, stage.name, tmp, marker)
    log(f"[{stage.name}] done in {wall:.1f}s")
    return StageResult(stage.name, "ran", final, summary, fp, wall_s=wall, compute_wall_s=wall)
