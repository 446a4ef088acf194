"""What the generation stage's defaults do on the packaged market: few-shot examples and the claim check.

Run: ``python -m benchmarks.bench_generation_defaults [--config experiments/quickstart.toml]``
(about 20 minutes on 2 cores). Writes ``benchmarks/results/generation_defaults.json``.

One run directory, variants of ``[generation]`` run one after another with ``rlopt run --set``, so
the reward model and the tuned generator are trained once and shared (the stage cache reruns only
generation and what depends on it):

======================= ============== =============== ============
variant                 ``few_shot``   ``claim_check`` ``resample``
======================= ============== =============== ============
``baseline``            0              false           0
``few_shot``            3              false           0
``claim_check``         0              true            0
``few_shot+claims``     3              true            0
``few_shot+claims+r1``  3              true            1
======================= ============== =============== ============

Per variant, for the base and the tuned generator: true CTR and purchases per impression (the
market's oracle), the ratios tuned / base and tuned / mean logged copy with 95% paired-bootstrap
intervals, the report's copy checks (flagged, unbacked claims and which, defects, the most common
template), the share of shown copies that are the item's title (nothing usable came out) and the
generation stage's wall time. ``ratios`` divide each variant's tuned values by the baseline's, from
the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_label

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "generation_defaults.json"
VARIANTS = {"baseline": (0, False, 0), "few_shot": (3, False, 0), "claim_check": (0, True, 0),
            "few_shot+claims": (3, True, 0), "few_shot+claims+r1": (3, True, 1)}


def run_variant(config: Path, out: Path, few_shot: int, claim_check: bool, resample: int, seed: int) -> dict[str, Any]:
    """``rlopt run config --out out`` with the three keys set; the generation stage's numbers."""
    from rlopt.pipeline import load_config, run_pipeline

    cfg = load_config(config, overrides=[f"generation.few_shot={few_shot}",
                                         f"generation.claim_check={str(claim_check).lower()}",
                                         f"generation.resample={resample}", f"run.seed={seed}"], out_dir=out)
    start = time.perf_counter()
    result = run_pipeline(cfg, log=lambda _: None)
    wall = time.perf_counter() - start
    stage = result.results["generation"]
    gen = stage.summary if stage.ok else {}
    ev, truth = gen.get("evaluation", {}), gen.get("logged_truth", {})

    def per_generator(name: str) -> dict[str, Any]:
        e, checks = ev.get(name, {}), gen.get("copy_checks", {}).get(name, {})
        shown = pd.read_json(out / "generation" / f"{name}.jsonl", lines=True, dtype=False)
        return {"true_ctr": (e.get("ctr") or {}).get("mean"), "true_ctr_ci": e.get("ctr"),
                "true_purchase_rate": (e.get("purchase_rate") or {}).get("mean"),
                "title_shown": float(shown["title_fallback"].mean()) if "title_fallback" in shown else None,
                "checks": checks, "quality_actions": gen.get("quality", {}).get(name, {})}

    return {"few_shot": few_shot, "claim_check": claim_check, "resample": resample, "statuses": result.statuses(),
            "base": per_generator("base"), "tuned": per_generator("tuned"),
            "tuned / base": gen.get("paired_ctr_ratio"),
            "tuned / mean_logged": truth.get("ratios", {}).get("tuned / mean_logged"),
            "tuned / best_logged": truth.get("ratios", {}).get("tuned / best_logged"),
            "purchases tuned / mean_logged": gen.get("logged_truth_purchase", {}).get("ratios", {})
            .get("tuned / mean_logged"),
            "verbatim_rate": gen.get("steering", {}).get("verbatim_rate"),
            "generation_wall_s": round(stage.compute_wall_s or stage.wall_s, 1), "run_wall_s": round(wall, 1)}


def ratios_to_baseline(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each variant's tuned true CTR and purchases over the baseline's (same run, same tuned model)."""
    base = variants.get("baseline", {}).get("tuned", {})

    def ratio(v: Any, b: Any) -> float | None:
        return None if v is None or not b else float(v) / float(b)

    return {name: {"tuned_ctr": ratio(v["tuned"].get("true_ctr"), base.get("true_ctr")),
                   "tuned_purchase_rate": ratio(v["tuned"].get("true_purchase_rate"), base.get("true_purchase_rate")),
                   "generation_wall": ratio(v.get("generation_wall_s"), variants["baseline"].get("generation_wall_s"))}
            for name, v in variants.items() if name != "baseline" and "baseline" in variants}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "experiments" / "quickstart.toml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--work", type=Path, default=None, help="Run directory (default: a temporary one).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rlopt-gen-defaults-") as tmp:
        work = args.work or Path(tmp) / "run"
        variants = {}
        for name in ["baseline", *[v for v in args.variants if v != "baseline"]]:
            few_shot, claim_check, resample = VARIANTS[name]
            print(f"[{name}] few_shot={few_shot} claim_check={claim_check} resample={resample}", flush=True)
            variants[name] = run_variant(args.config, work, few_shot, claim_check, resample, args.seed)
            t = variants[name]["tuned"]
            print(f"[{name}] tuned true CTR {t['true_ctr']}, unbacked {t['checks'].get('unbacked_claim')}, "
                  f"generation {variants[name]['generation_wall_s']} s", flush=True)
    result = {"config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
              "seed": args.seed, "machine": cpu_label(), "cpu_count": os.cpu_count(),
              "variants": variants, "ratios": ratios_to_baseline(variants)}
    write_json_atomic(args.out, result)
    print(json.dumps(result["ratios"], indent=2))


if __name__ == "__main__":
    main()
