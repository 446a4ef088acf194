"""Throughput on a busy machine: generation, DPO and GRPO steps, reward scoring, idle and next to
competing processes, with torch's default threads (the baseline) and with rlopt's thread policy
(:mod:`rlopt.threads`: threads from the free cores, rlopt's OpenMP wait settings, rlopt.threads.OPENMP_ENV).

For every scenario (idle, or ``N`` competitors: pure-Python busy loops, or torch matmul loops with 2
threads each, as another ML job would run) the benchmark starts the competitors, runs each workload
in a fresh worker process per variant (so the OpenMP wait policy takes effect from the start), and
stops the competitors by PID. Each figure is a throughput; its ratio to the same variant's idle
throughput is the slowdown the issue asks about, and ``auto / default`` the gain of the policy.

The workloads use the real default models (SmolLM2-135M-Instruct, MiniLM) on a small simulated
market; sizes are flags. Workers also record what they produced (hash of the copies, of the adapter,
of the scores) so the table shows whether the thread choice changed any output.

Run: ``python -m benchmarks.bench_contention [--scenarios idle torch:2 python:2] [--workloads generate dpo score]``
Writes ``benchmarks/results/contention.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlopt.machine import cpu_flags, cpu_label

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ("generate", "dpo", "grpo", "score")
VARIANTS = ("default", "auto")  # the two the summary compares; "threads:N" rows are explorations

COMPETITORS = {
    "python": "while True:\n    pass\n",
    "torch": ("import torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\n"
              "while True:\n    a = torch.tanh(a @ a) \n"),
}


def _start_competitors(kind: str, n: int, own_session: bool = False) -> list[subprocess.Popen]:
    """``n`` competitor processes of ``kind``; returned so the caller stops them by PID.

    ``own_session`` starts each in a new session, as another user's job or another terminal runs:
    with the kernel's autogroup scheduling (on by default in most Linux distributions) CPU time is
    then shared per session, not per thread, and a process's thread count no longer buys it a
    larger share of the machine.
    """
    return [subprocess.Popen([sys.executable, "-c", COMPETITORS[kind]], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=own_session) for _ in range(n)]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------------------------------------------------------------- worker side (one workload, one variant)

def _digest(values) -> str:
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:16]


def _worker(args: argparse.Namespace) -> dict:
    """Run one workload under one variant in this (fresh) process; return throughput and a digest."""
    import torch

    from rlopt.threads import choose_threads

    fixed = _variant_settings(args.variant).get("threads")
    if args.variant == "default":
        threads = torch.get_num_threads()  # torch's default: one per core
    elif fixed:
        threads = int(fixed)  # a fixed count (explorations of the policy)
    else:
        threads = choose_threads("decode" if args.worker in ("generate", "grpo") else "train")
    torch.set_num_threads(threads)
    sim = Path(args.sim)
    from rlopt.data import read_catalog, read_placements, read_table
    from rlopt.generation.inputs import find_segments

    catalog = read_catalog(sim / "catalog.parquet")
    placements = read_placements(sim / "placements.json")
    out: dict = {"threads": threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                 "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "")}
    cpu0 = time.process_time()
    if args.worker == "generate":
        from rlopt.generation.models import resolve_generator
        from rlopt.generation.sample import generate_copies

        contexts = read_table(sim / "contexts.jsonl").head(args.contexts)[["item_id", "segment", "placement"]]
        model, tok = resolve_generator("default")
        segments = find_segments(sim / "catalog.parquet")
        t = time.perf_counter()
        copies = generate_copies(model, tok, contexts, catalog, placements, segments, num=2, seed=0,
                                 batch_size=len(contexts), threads=threads)
        wall = time.perf_counter() - t
        out.update(units=len(copies), unit="copies", seconds=wall, digest=_digest(copies["raw_copy_text"].tolist()))
    elif args.worker in ("dpo", "grpo"):
        from safetensors.torch import load_file

        from rlopt.tuning.api import tune_generator

        work = Path(tempfile.mkdtemp(prefix=f"contention_{args.worker}_"))
        summary = tune_generator(args.worker, logs=sim / "train.parquet", catalog=sim / "catalog.parquet",
                                 out=work / "out", reward_model=args.reward_model or None, preset="quick",
                                 max_steps=args.steps, seed=0, save_steps=10_000, threads=threads)
        wall = float(summary["metrics"]["train_runtime"])
        weights = load_file(str(work / "out" / "adapter_model.safetensors"))
        digest = hashlib.sha256(b"".join(weights[k].float().numpy().tobytes() for k in sorted(weights))).hexdigest()
        out.update(units=args.steps, unit="steps", seconds=wall, digest=digest[:16])
    elif args.worker == "score":
        from reward_models.encoder import TextEncoder

        enc = TextEncoder("default")
        titles = catalog["title"].astype(str).tolist()
        texts = [f"{titles[i % len(titles)]} - offer {i}: made for you" for i in range(args.texts)]
        enc.encode(texts[:8], use_cache=False)  # warm-up
        t = time.perf_counter()
        emb = enc.encode(texts, use_cache=False)
        wall = time.perf_counter() - t
        out.update(units=len(texts), unit="copies", seconds=wall, digest=_digest(emb.round(5).tolist()))
    out["cpu_seconds"] = time.process_time() - cpu0
    out["per_s"] = out["units"] / max(out["seconds"], 1e-9)
    return out


def _variant_settings(variant: str) -> dict[str, str]:
    """``"threads:2"`` or ``"auto,spin:20000"`` -> ``{"threads": "2"}`` / ``{"spin": "20000"}``.

    ``threads:N`` fixes the thread count (else rlopt's choice); ``spin:K`` keeps OpenMP's default wait
    policy with ``GOMP_SPINCOUNT=K`` instead of passive waiting.
    """
    out = {}
    for part in variant.split(","):
        key, sep, value = part.partition(":")
        if sep:
            out[key] = value
    return out


def _autogroup() -> bool | None:
    """Whether the kernel shares CPU time per session (``/proc/sys/kernel/sched_autogroup_enabled``)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def _run_worker(workload: str, variant: str, args: argparse.Namespace, sim: Path, rm: Path | None) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("RLOPT_THREADS", None)
    env.pop("GOMP_SPINCOUNT", None)
    settings = _variant_settings(variant)
    if variant == "default":
        env.pop("OMP_WAIT_POLICY", None)
    elif "spin" in settings:  # OpenMP's own wait policy with a bounded spin before sleeping
        env.pop("OMP_WAIT_POLICY", None)
        env["GOMP_SPINCOUNT"] = settings["spin"]
    else:  # rlopt's own OpenMP settings (what the CLI's entry point sets)
        from rlopt.threads import OPENMP_ENV

        env.update(OPENMP_ENV)
    cmd = [sys.executable, "-m", "benchmarks.bench_contention", "--worker", workload, "--variant", variant,
           "--sim", str(sim), "--contexts", str(args.contexts), "--steps", str(args.steps),
           "--texts", str(args.texts)]
    if rm is not None:
        cmd += ["--reward-model", str(rm)]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.worker_timeout)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"],
                "process_s": round(time.perf_counter() - t, 1)}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_s"] = round(time.perf_counter() - t, 1)
    return row


def _prepare(work: Path, need_rm: bool) -> tuple[Path, Path | None]:
    from rlopt.market import DEFAULT_MARKET, Marketplace

    sim = work / "sim"
    Marketplace.from_toml(DEFAULT_MARKET).simulate(20_000, seed=0).write(sim)
    if not need_rm:
        return sim, None
    from reward_models import train_reward_model
    from rlopt.data import read_catalog, read_logs, read_placements

    catalog = read_catalog(sim / "catalog.parquet")
    logs = read_logs(sim / "train.parquet", catalog, read_placements(sim / "placements.json"))
    rm = work / "rm"
    train_reward_model(logs, catalog, seed=0, progress=False).save_pretrained(rm)
    return sim, rm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", default=["idle", "torch:2", "python:2"],
                        help="idle, or KIND:N with KIND python|torch and N competitor processes; "
                             "KIND:N@own starts them in their own sessions")
    parser.add_argument("--workloads", nargs="+", default=["generate", "dpo", "score"], choices=WORKLOADS)
    parser.add_argument("--contexts", type=int, default=8, help="generation contexts (2 copies each)")
    parser.add_argument("--steps", type=int, default=2, help="tuning steps per DPO/GRPO run")
    parser.add_argument("--texts", type=int, default=256, help="distinct copies scored")
    parser.add_argument("--worker-timeout", type=int, default=900)
    parser.add_argument("--explore", nargs="*", default=[], metavar="threads:N|auto,spin:K",
                        help="extra variants: a fixed thread count (passive waiting), or rlopt's thread "
                             "choice with a bounded OpenMP spin (GOMP_SPINCOUNT) instead of passive waiting")
    parser.add_argument("--own-sessions", action="store_true",
                        help="start each competitor in its own session (autogroup shares CPU per session)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "contention.json")
    parser.add_argument("--note", default="", help="how the machine was when this ran (recorded as 'note')")
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--sim", help=argparse.SUPPRESS)
    parser.add_argument("--reward-model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args)))
        return
    work = Path(tempfile.mkdtemp(prefix="bench_contention_"))
    sim, rm = _prepare(work, "grpo" in args.workloads)
    results: dict = {}
    for scenario in args.scenarios:
        spec, _, where = scenario.partition("@")
        kind, _, n = spec.partition(":")
        own = args.own_sessions or where == "own"
        procs = _start_competitors(kind, int(n), own) if kind != "idle" else []
        try:
            time.sleep(1.0 if procs else 0.0)  # let the competitors reach their loops
            results[scenario] = {w: {v: _run_worker(w, v, args, sim, rm) for v in (*VARIANTS, *args.explore)}
                                 for w in args.workloads}
        finally:
            _stop(procs)
        print(f"== {scenario}", json.dumps({w: {v: round(r.get("per_s", 0), 3) for v, r in row.items()}
                                             for w, row in results[scenario].items()}), flush=True)
    summary = {}
    idle = results.get("idle", {})
    for scenario, rows in results.items():
        for w, row in rows.items():
            d, a = row["default"].get("per_s"), row["auto"].get("per_s")
            entry = {"default_per_s": d, "auto_per_s": a,
                     "auto_over_default": round(a / d, 3) if d and a else None,
                     "same_output": row["default"].get("digest") == row["auto"].get("digest")}
            if scenario != "idle" and w in idle:
                for v in VARIANTS:
                    base = idle[w][v].get("per_s")
                    mine = row[v].get("per_s")
                    entry[f"{v}_vs_own_idle"] = round(mine / base, 3) if base and mine else None
                for v in args.explore:  # fixed counts against the best idle variant
                    best = max((r.get("per_s") or 0) for r in idle[w].values())
                    mine = row.get(v, {}).get("per_s")
                    entry[f"{v}_vs_best_idle"] = round(mine / best, 3) if best and mine else None
                base = idle[w]["default"].get("per_s")
                entry["auto_vs_default_idle"] = round(a / base, 3) if base and a else None
            summary[f"{scenario}/{w}"] = entry
    from rlopt.io_utils import write_json_atomic

    machine = {"cpu": cpu_label(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
               "platform": platform.platform(), "load_avg_1m_at_end": os.getloadavg()[0],
               "autogroup": _autogroup()}
    write_json_atomic(args.out, {"machine": machine, **({"note": args.note} if args.note else {}), "settings": {k: v for k, v in vars(args).items()
                                                                  if k in ("contexts", "steps", "texts", "own_sessions")},
                                 "summary": summary, "runs": results})
    print(f"{'scenario/workload':<22}{'default/s':>11}{'auto/s':>10}{'auto/def':>9}{'def/idle':>9}{'auto/idle':>10}  same")
    for key, e in summary.items():
        def f(x):
            return f"{x:.3g}" if isinstance(x, (int, float)) else "-"
        print(f"{key:<22}{f(e['default_per_s']):>11}{f(e['auto_per_s']):>10}{f(e['auto_over_default']):>9}"
              f"{f(e.get('default_vs_own_idle')):>9}{f(e.get('auto_vs_default_idle')):>10}  {e['same_output']}")
    failed = [f"{s}/{w}/{v}: {r['error']}" for s, rows in results.items() for w, row in rows.items()
              for v, r in row.items() if "error" in r]
    if failed:  # a benchmark that could not measure says so and fails, never a silent dash
        print("failed runs:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
