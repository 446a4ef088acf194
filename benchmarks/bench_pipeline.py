"""Cost of the pipeline's cache: a cold run vs a fully cached rerun vs a one-stage change.

Run: ``python -m benchmarks.bench_pipeline [--quickstart-manifest runs/quickstart/manifest.json ...]
[--quickstart-only]``.
Writes ``benchmarks/results/pipeline.json`` and prints a table.

Measurements, on a tiny experiment (2-layer random Llama and BERT with the real tokenizers, an
8-item market, small budgets) so the benchmark takes a few minutes:

1. **cold**: every stage runs (the baseline);
2. **cached**: the same config again; every stage is skipped by fingerprint. ``ratio`` = cached /
   cold is the cache's overhead (hashing inputs, reading ``stage.json``);
3. **bandit changed**: ``[bandit] steps`` changed, so only ``bandit`` and ``report`` rerun;
4. **file digest**: sha256 throughput of the external-input fingerprint (MB/s) on a 64 MB file,
   against a plain read of the same file (the baseline).

With ``--quickstart-manifest`` (repeatable), the per-stage wall times of real quickstart runs are
copied into ``quickstarts`` with the machine each manifest recorded (:func:`rlopt.machine.describe`:
the CPU and the kernels torch dispatched to) -- what the docs' time budget for ``make run`` rests
on. ``--quickstart-only`` records them without rerunning the tiny measurements (the rest of the
JSON is kept); an entry replaces an earlier one of the same run (its ``started`` time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from rlopt.io_utils import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


def machine_label(m: dict[str, Any] | None) -> str:
    """``AMD EPYC, AVX512-BF16; torch kernels AVX2`` (the kernels only where recorded)."""
    if not m:
        return "machine not recorded"
    kernels = m.get("torch_cpu_capability")
    return f"{m.get('cpu', '?')}, {m.get('cpus', '?')} cores" + (f"; torch kernels {kernels}" if kernels else "")


def tiny_config(root: Path, bandit_steps: int) -> Path:
    """Write an 8-item market and a tiny experiment config under ``root``."""
    from rlopt.testing import build_tiny_causal_lm, build_tiny_encoder, write_tiny_experiment

    llm = build_tiny_causal_lm(root / "tiny-llm")
    enc = build_tiny_encoder(root / "tiny-enc")
    return write_tiny_experiment(root / "bench.toml", llm, enc, bandit_steps=bandit_steps)


def timed_run(cfg: Path) -> tuple[float, dict[str, str]]:
    from rlopt.pipeline import load_config, run_pipeline

    t = time.perf_counter()
    result = run_pipeline(load_config(cfg), log=lambda _: None)
    return time.perf_counter() - t, result.statuses()


def digest_speed(root: Path, mb: int = 64) -> dict[str, float]:
    from rlopt.pipeline.cache import _DIGEST_CACHE, file_digest

    path = root / "blob.bin"
    path.write_bytes(os.urandom(mb << 20))
    t = time.perf_counter()
    with open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass
    read_s = time.perf_counter() - t
    _DIGEST_CACHE.clear()
    t = time.perf_counter()
    file_digest(path)
    hash_s = time.perf_counter() - t
    return {"mb": mb, "read_mb_s": mb / read_s, "sha256_mb_s": mb / hash_s, "ratio": hash_s / read_s}


def quickstart_entry(manifest_path: Path) -> dict[str, Any]:
    """One quickstart run from its ``manifest.json``: when, on what, in how long, per stage."""
    qs = json.loads(manifest_path.read_text())
    return {"config": qs.get("config"), "rlopt_version": qs.get("rlopt_version"), "started": qs.get("started"),
            "finished": qs.get("finished"), "machine": qs.get("machine"), "total_wall_s": qs.get("total_wall_s"),
            "stages": {k: v["compute_wall_s"] for k, v in qs["stages"].items() if "compute_wall_s" in v}}


def merge_quickstarts(earlier: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``earlier`` with ``new`` added, a run measured again (same ``started``) replaced; oldest first."""
    runs = {r.get("started") or r.get("finished"): r for r in [*earlier, *new]}
    return sorted(runs.values(), key=lambda r: str(r.get("finished") or ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quickstart-manifest", type=Path, action="append", default=[],
                        help="manifest.json of a quickstart run (repeatable)")
    parser.add_argument("--quickstart-only", action="store_true",
                        help="only record the quickstart manifests (keep the rest of the JSON)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    earlier = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    quickstarts = merge_quickstarts(earlier.get("quickstarts", []),
                                    [quickstart_entry(p) for p in args.quickstart_manifest])
    if args.quickstart_only:
        write_json_atomic(RESULTS, {**earlier, "quickstarts": quickstarts})
        for q in quickstarts:
            print(f"quickstart {q.get('finished')}: {q['total_wall_s']:.1f} s  {machine_label(q.get('machine'))}")
        print(f"wrote {RESULTS}")
        return
    with tempfile.TemporaryDirectory(prefix="rlopt-bench-pipeline-") as tmp:
        root = Path(tmp)
        cfg = tiny_config(root, bandit_steps=600)
        cold, cold_status = timed_run(cfg)
        cached, cached_status = timed_run(cfg)
        cfg = tiny_config(root, bandit_steps=400)
        changed, changed_status = timed_run(cfg)
        manifest = json.loads((root / "run" / "manifest.json").read_text())
        digest = digest_speed(root)
    cold_stages = {k: v["compute_wall_s"] for k, v in manifest["stages"].items()}
    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_1m": os.getloadavg()[0]},
        "tiny": {
            "cold_s": cold, "cached_s": cached, "cached_ratio": cached / cold,
            "bandit_changed_s": changed, "bandit_changed_ratio": changed / cold,
            "statuses": {"cold": cold_status, "cached": cached_status, "bandit_changed": changed_status},
            "stage_compute_s": cold_stages,
        },
        "file_digest": digest,
        "quickstarts": quickstarts,
    }
    write_json_atomic(RESULTS, results)
    print(f"{'measurement':<34}{'seconds':>10}{'ratio vs baseline':>20}")
    print(f"{'tiny run, cold (baseline)':<34}{cold:>10.1f}{1.0:>20.2f}")
    print(f"{'tiny run, all cached':<34}{cached:>10.1f}{cached / cold:>20.3f}")
    print(f"{'tiny run, [bandit] changed':<34}{changed:>10.1f}{changed / cold:>20.3f}")
    print(f"{'sha256 of 64 MB input (MB/s)':<34}{digest['sha256_mb_s']:>10.0f}{digest['ratio']:>20.2f}  (vs plain read)")
    for name, s in cold_stages.items():
        print(f"  stage compute {name:<19}{s:>10.1f}")
    for q in quickstarts:
        print(f"quickstart {q.get('finished')}: {q['total_wall_s']:.1f} s  {machine_label(q.get('machine'))}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
