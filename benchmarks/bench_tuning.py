"""Speed of the copy generator and of the tuning quick presets (real SmolLM2-135M-Instruct).

Measures, in one run on the same machine:

- generation throughput (copies/s) with batched, left-padded sampling vs one context at a time
  (the baseline), K samples per context;
- seconds per step of the DPO and GRPO ``quick`` presets (a few real steps), and the projected wall
  time of the full quick preset (setup + steps x s/step) against the 10-minute budget on 2 CPU cores,
  with the compact LM head (``rlopt.tuning.lm_head``, the default) and, as the baseline, TRL's CPU
  path that projects every position (``compact_lm_head=False``).

Writes ``benchmarks/results/tuning.json`` and prints a table. Needs a simulation directory (made here
with the default market when ``--sim`` is absent) and a reward model for GRPO (trained here, frozen
MiniLM, when ``--reward-model`` is absent).

Run: ``python -m benchmarks.bench_tuning [--threads 2] [--steps 4] [--generation-only | --tuning-only]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from rlopt.machine import cpu_flags


def _tune_timing(method, sim, rm, steps, out_root, compact=True, seed=0):
    """Run ``steps`` steps of ``method``'s quick preset; return setup and per-step seconds."""
    from rlopt.tuning.api import tune_generator
    from rlopt.tuning.config import make_config

    t = time.time()
    summary = tune_generator(method, logs=sim / "train.parquet", catalog=sim / "catalog.parquet",
                             out=out_root / f"{method}-{compact}", reward_model=rm, preset="quick",
                             max_steps=steps, seed=seed, save_steps=10_000, compact_lm_head=compact)
    wall = time.time() - t
    train_rt = float(summary["metrics"]["train_runtime"])
    preset_steps = make_config(method, "quick").max_steps
    per_step = train_rt / steps
    setup = wall - train_rt
    projected = setup + per_step * preset_steps
    # On a shared machine the process gets only part of its cores: CPU seconds / threads / wall is the
    # share it got, and scaling by it estimates the wall time on idle cores.
    share = min(1.0, summary["cpu_seconds"] / summary["torch_threads"] / max(summary["wall_seconds"], 1e-9))
    return {"compact_lm_head": summary["data"]["compact_lm_head"], "train_loss": summary["metrics"]["train_loss"],
            "steps_run": steps, "wall_s": round(wall, 1), "setup_s": round(setup, 1),
            "s_per_step": round(per_step, 2), "preset_steps": preset_steps,
            "projected_quick_preset_s": round(projected, 1), "cpu_share": round(share, 3),
            "projected_quick_preset_idle_s": round(projected * share, 1)}


def _generation(contexts, catalog, placements, segments, num: int, baseline: bool) -> dict:
    """Copies/s of rlopt's decoder and of transformers' generate (and, with ``baseline``, one at a time)."""
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies

    model, tok = resolve_generator("default")
    gen = {}
    # Baselines: one context at a time, and transformers' generate on batches (num_return_sequences:
    # each prompt encoded once per sample, every row decoded until the batch's last one is done);
    # then rlopt's decoder (prompt encoded once, finished rows dropped, first-line stop).
    variants = {"one_at_a_time": dict(batch_size=1, decoder="transformers"),
                "batched_16_transformers_generate": dict(batch_size=16, decoder="transformers"),
                "batched_16_rlopt_no_first_line_stop": dict(batch_size=16, stop_at_first_line=False),
                "batched_16_rlopt": dict(batch_size=16)}
    if not baseline:
        variants.pop("one_at_a_time")
    texts = {}
    for label, kw in variants.items():
        generate_copies(model, tok, contexts.head(2), catalog, placements, segments, num=2, seed=0, **kw)  # warm-up
        t = time.time()
        out = generate_copies(model, tok, contexts, catalog, placements, segments, num=num, seed=0, **kw)
        dt = time.time() - t
        texts[label] = out["raw_copy_text"].tolist()
        gen[label] = {"copies": len(out), "seconds": round(dt, 2), "copies_per_s": round(len(out) / dt, 2),
                      "mean_chars": round(float(out["raw_copy_text"].str.len().mean()), 1)}
    base = "one_at_a_time" if "one_at_a_time" in gen else "batched_16_transformers_generate"
    for label in list(gen):
        gen[label]["speedup_vs_" + base] = round(gen[label]["copies_per_s"] / gen[base]["copies_per_s"], 2)
    # The first-line stop must not change what is shown (rlopt's decoder draws other samples than
    # generate for the same seed, so those two are compared on speed and length only).
    gen["first_line_stop_same_copies"] = texts["batched_16_rlopt"] == texts["batched_16_rlopt_no_first_line_stop"]
    gen["device"] = str(next(model.parameters()).device)
    return gen


def _print_generation(gen: dict) -> None:
    print(f"{'measure':<44}{'value':>14}")
    for label, row in gen.items():
        if isinstance(row, dict):
            speed = next(v for k, v in row.items() if k.startswith("speedup_vs_"))
            print(f"{label:<44}{row['copies_per_s']:>8} copies/s ({speed}x)")
    print(f"{'first-line stop: same copies':<44}{gen['first_line_stop_same_copies']!s:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the 2-core budget)")
    parser.add_argument("--steps", type=int, default=4, help="tuning steps timed per method")
    parser.add_argument("--contexts", type=int, default=16, help="contexts for the generation timing")
    parser.add_argument("--num", type=int, default=4, help="samples per context in the generation timing")
    parser.add_argument("--generation-only", action="store_true",
                        help="time generation only (batched variants; no tuning, no one-at-a-time baseline); "
                             "updates the generation entry of the results file")
    parser.add_argument("--tuning-only", action="store_true",
                        help="time the tuning steps only; updates the tuning entry of the results file")
    parser.add_argument("--sim", type=Path, default=None, help="simulation dir (rlopt simulate output)")
    parser.add_argument("--reward-model", type=Path, default=None, help="reward model dir for GRPO")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from rlopt.data import read_catalog, read_placements, read_table
    from rlopt.generation.inputs import find_segments

    work = Path(tempfile.mkdtemp(prefix="bench_tuning_"))
    sim = args.sim
    if sim is None:
        from rlopt.market import DEFAULT_MARKET, Marketplace

        sim = work / "sim"
        Marketplace.from_toml(DEFAULT_MARKET).simulate(50_000, seed=0).write(sim)
    catalog = read_catalog(sim / "catalog.parquet")
    placements = read_placements(sim / "placements.json")
    segments = find_segments(sim / "catalog.parquet")
    contexts = read_table(sim / "contexts.jsonl").head(args.contexts)[["item_id", "segment", "placement"]]

    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": args.threads,
               "load_avg_1m": os.getloadavg()[0], "cpu_flags": cpu_flags()}
    from rlopt.io_utils import write_json_atomic

    result = json.loads(args.out.read_text()) if args.out.is_file() and (args.generation_only or args.tuning_only) \
        else {}
    if not args.tuning_only:
        gen = _generation(contexts, catalog, placements, segments, args.num, baseline=not args.generation_only)
        result["generation"] = {**gen, "contexts": len(contexts), "num": args.num, "machine": machine}
        _print_generation(gen)
    if not args.generation_only:
        rm = args.reward_model
        if rm is None:
            from reward_models import train_reward_model
            from rlopt.data import read_logs

            rm = work / "rm"
            logs = read_logs(sim / "train.parquet", catalog, placements)
            train_reward_model(logs, catalog, seed=0, progress=False).save_pretrained(rm)
        tune = {}
        for m in ("dpo", "grpo"):
            # baseline first, then rlopt's default, back to back on the same data and seed
            base = _tune_timing(m, sim, rm, args.steps, work, compact=False)
            row = _tune_timing(m, sim, rm, args.steps, work, compact=True)
            row["speedup_vs_trl_cpu_lm_head"] = round(base["s_per_step"] / row["s_per_step"], 2)
            tune[m], tune[f"{m}_trl_cpu_lm_head"] = row, base
        result.update(tuning_quick={**tune, "machine": machine}, budget_s=600)
        for m, r in tune.items():
            print(f"{m + ' quick: s/step':<44}{r['s_per_step']:>14}")
            print(f"{m + ' quick: projected preset s':<44}{r['projected_quick_preset_s']:>14}")
            print(f"{m + ' quick: projected on idle cores s':<44}{r['projected_quick_preset_idle_s']:>14}")
    write_json_atomic(args.out, result)
    print(json.dumps(machine))


if __name__ == "__main__":
    main()
