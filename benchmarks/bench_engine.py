"""The Ray engine against the local engine on the same data, in the same run (issue 22 item 2).

Run: ``python -m benchmarks.bench_engine [--rows 2000000] [--copies 20000] [--encoders tiny,default]``.
Writes ``benchmarks/results/engine.json`` and prints each measurement as it is taken.

**Validation.** ``--rows`` valid synthetic impressions (``benchmarks.bench_validate.make_logs``,
seeded) plus 0.1% broken rows and repeated ``event_id`` values across shards, as Parquet shards
of ``--shard-rows``. The same :func:`rlopt.engine.validation.validate_on_engine` runs on

- ``local``: :class:`~rlopt.engine.local.LocalEngine` (in this process, one unit after the other);
- ``ray``: :class:`~rlopt.engine.ray_engine.RayEngine` on a local Ray with ``--ray-cpus`` CPUs
  (started once before the timings; its start-up time is recorded apart);

and, for reference, ``stream``: :func:`rlopt.data.stream.stream_validate` (what ``rlopt validate``
runs locally on a folder of shards). The reports must be equal; ``overhead_ratio`` = Ray wall
seconds per row / local wall seconds per row (target <= 1.5).

**Scoring.** distinct copy rows scored by a reward model with
:func:`rlopt.engine.scoring.score_on_engine` on both engines (Ray: ``--ray-cpus`` actors, one
model each); the largest score difference must be <= 1e-6. Encoder ``tiny`` (``--copies`` rows)
is a 2-layer random BERT, so the engine's own overhead dominates (the hard case for the ratio);
``default`` (``--default-copies`` rows) is the packaged MiniLM, the real per-row cost. A warm-up call on one chunk loads the model (on Ray: starts
the actors) on copies that are not timed; its wall time is recorded apart. The timed calls reuse
the loaded models, and each repeat scores new texts, so the encoder's per-text cache never helps.

**Generation.** ``rlopt generate``'s path (:func:`rlopt.engine.generation.generate_on_engine`) on
``--gen-contexts`` contexts of a small simulated market (every item x placement, a seeded segment
each), ``--gen-num`` copies per context, for each generator of ``--generators`` (``tiny``: a 2-layer
random Llama with the SmolLM2 tokenizer, where the engine's overhead dominates; ``default``:
SmolLM2-135M-Instruct, the real per-copy cost). Local: the generator in this process, torch's
threads over the free cores; Ray: one actor per Ray CPU, one thread each. Both load the generator in
an untimed warm-up call; the chunks (and seeds) are the same, so the copies must be equal
(``copies_equal``). ``--sections generation`` runs only this part and keeps the file's other sections.

Each timing is the best of ``--repeats`` runs, engines alternating; the load average
(``os.getloadavg``) is recorded with each run, because this machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_validate import PLACEMENTS, make_catalog, make_logs
from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_label

RESULTS = Path(__file__).resolve().parent / "results" / "engine.json"
TARGET_OVERHEAD = 1.5


def write_logs(n: int, shard_rows: int, folder: Path, catalog, seed: int) -> tuple[Path, int]:
    """``n`` impressions as Parquet shards; 0.1% of rows broken, some event_ids repeated across shards."""
    from benchmarks.bench_validate import break_rows
    from rlopt.data import write_table

    folder.mkdir(parents=True, exist_ok=True)
    n_bad = 0
    for k, start in enumerate(range(0, n, shard_rows)):
        rows = min(shard_rows, n - start)
        rng = np.random.default_rng([seed, k])
        df = make_logs(rows, catalog, rng)
        df["event_id"] = np.char.add("ev-", np.arange(start, start + rows).astype(str))
        df, broken = break_rows(df, 0.001, rng)
        if k:  # a few ids of the first shard again: the repeats the driver must find across shards
            df.loc[: 9, "event_id"] = [f"ev-{i}" for i in range(10)]
        n_bad += broken
        write_table(df, folder / f"part-{k:05d}.parquet")
    return folder, n_bad


def timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(wall s, load average before, result) of one call."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, load, result


def bench_validation(logs: Path, cat_ids, engines: dict, repeats: int, batch_rows: int, workdir: Path) -> dict:
    from rlopt.data.stream import stream_validate
    from rlopt.engine.validation import validate_on_engine

    runs: dict[str, list[dict]] = {name: [] for name in (*engines, "stream")}
    reports = {}
    for rep in range(repeats):
        for name, engine in engines.items():
            q = workdir / f"{name}-{rep}.quarantine.jsonl"
            wall, load, res = timed(validate_on_engine, logs, engine, on_error="quarantine", quarantine_path=q,
                                    catalog_ids=cat_ids, placements=PLACEMENTS, batch_rows=batch_rows)
            reports[name] = res.report.to_dict() | {"quarantine_path": None}
            runs[name].append({"wall_s": round(wall, 3), "load_before": round(load, 2), "units": res.units})
            print(name, runs[name][-1], flush=True)
        q = workdir / f"stream-{rep}.quarantine.jsonl"
        wall, load, res = timed(stream_validate, logs, "logs", on_error="quarantine", quarantine_path=q,
                                catalog_ids=cat_ids, placements=PLACEMENTS, batch_rows=batch_rows)
        reports["stream"] = res.report.to_dict() | {"quarantine_path": None}
        runs["stream"].append({"wall_s": round(wall, 3), "load_before": round(load, 2)})
        print("stream", runs["stream"][-1], flush=True)
    rows = reports["local"]["rows_read"]
    best = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    return {
        "rows": rows, "rows_quarantined": reports["local"]["rows_quarantined"],
        "rule_counts": reports["local"]["rule_counts"], "batch_rows": batch_rows,
        "reports_equal": all(r == reports["local"] for r in reports.values()),
        "best_wall_s": best, "rows_per_s": {name: round(rows / s) for name, s in best.items()},
        "overhead_ratio": round(best["ray"] / best["local"], 3),
        "ray_vs_stream_ratio": round(best["ray"] / best["stream"], 3),
        "runs": runs,
    }


def make_reward_model(encoder: str, workdir: Path, seed: int) -> Path:
    from reward_models import train_reward_model
    from reward_models.synthetic import make_synthetic_logs
    from reward_models.train import time_split
    from rlopt.testing import build_tiny_encoder

    enc = str(build_tiny_encoder(workdir / "tiny-bert")) if encoder == "tiny" else "default"
    synth = make_synthetic_logs(4000 if encoder == "tiny" else 1500, n_items=50, rng=seed)
    train, holdout = time_split(synth.logs, 0.25)
    model = train_reward_model(train, synth.catalog, holdout=holdout, encoder=enc, max_epochs=3, progress=False,
                               seed=seed)
    model.save_pretrained(workdir / "reward")
    from rlopt.data import write_table

    write_table(synth.catalog, workdir / "reward-catalog.parquet")
    return workdir / "reward"


def copy_rows(n: int, catalog, seed: int, tag: str = ""):
    """``n`` distinct (copy, item, segment, placement) rows: every row needs the encoder (``tag`` makes the
    texts of one call differ from every other call's, so the encoder's per-text cache never helps)."""
    import pandas as pd

    from reward_models.synthetic import SEGMENTS

    rng = np.random.default_rng(seed)
    words = np.array("save big new fresh deal today only last chance free shipping gift bundle style".split())
    texts = [" ".join(rng.choice(words, 6)) + f" #{tag}{i}" for i in range(n)]
    return pd.DataFrame({"item_id": rng.choice(catalog["item_id"].to_numpy(), n),
                         "segment": rng.choice(np.array(SEGMENTS), n),
                         "placement": rng.choice(np.array(["push", "home_banner", "email_subject", "product_page"]), n),
                         "copy_text": texts})


def bench_scoring(n: int, encoder: str, engines: dict, repeats: int, chunk_rows: int, workdir: Path,
                  seed: int) -> dict:
    import pandas as pd

    from rlopt.data import read_catalog, read_copies, write_table
    from rlopt.engine.scoring import score_on_engine

    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = make_reward_model(encoder, workdir, seed)
    cat = read_catalog(workdir / "reward-catalog.parquet")

    def frame_for(tag: str, rows: int):
        write_table(copy_rows(rows, cat, seed, tag), workdir / f"copies-{tag}.parquet")
        return read_copies(workdir / f"copies-{tag}.parquet", cat)

    runs: dict[str, list[dict]] = {name: [] for name in engines}
    tables = {}
    startup = {}
    n_workers = max(getattr(e, "cpus", 1) for e in engines.values())
    warm = frame_for("warmup", 8 * n_workers)
    for name, engine in engines.items():  # load the model (on Ray: in every actor) on copies not timed below
        wall, _, _ = timed(score_on_engine, warm, cat, model_dir, engine, out=workdir / f"warmup-{name}.parquet",
                           precision="fp32", chunk_rows=8)
        startup[name] = round(wall, 3)
        print("score warm-up", name, startup[name], flush=True)
    for rep in range(repeats):
        frame = frame_for(f"r{rep}-", n)  # new texts each repeat: no engine has them cached
        for name, engine in engines.items():
            out = workdir / f"scored-{name}-{rep}.parquet"
            wall, load, _ = timed(score_on_engine, frame, cat, model_dir, engine, out=out, precision="fp32",
                                  chunk_rows=chunk_rows)
            tables[name] = pd.read_parquet(out)
            runs[name].append({"wall_s": round(wall, 3), "load_before": round(load, 2)})
            print("score", name, runs[name][-1], flush=True)
    cols = ["p_click", "p_purchase", "expected_revenue", "reward"]
    diff = float(np.abs(tables["ray"][cols].to_numpy() - tables["local"][cols].to_numpy()).max())
    best = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    return {"rows": n, "encoder": encoder, "chunk_rows": chunk_rows, "max_abs_score_diff": diff,
            "warmup_wall_s": startup, "best_wall_s": best, "rows_per_s": {k: round(n / v, 1) for k, v in best.items()},
            "overhead_ratio": round(best["ray"] / best["local"], 3), "runs": runs,
            "note": "local: one process, torch's threads over all cores; ray: one actor per Ray CPU. Both "
                    "load the model in a warm-up call on one chunk (warmup_wall_s: on Ray, starting the actors, "
                    "importing torch and loading the model in each) and keep it for the timed calls"}


def small_market_contexts(n: int, workdir: Path, seed: int):
    """(contexts, catalog, placements, segments): ``n`` contexts of a small simulated market."""
    import pandas as pd

    from rlopt.market import Marketplace
    from rlopt.testing import write_small_market

    n_items = max(8, -(-n // 4))  # the default market has 8 categories
    market = Marketplace.from_toml(write_small_market(workdir / "market.toml", n_items=n_items))
    rng = np.random.default_rng(seed)
    segments = sorted(market.segments)
    rows = [{"item_id": str(item), "segment": str(rng.choice(segments)), "placement": place}
            for item in market.catalog["item_id"] for place in market.placements]
    return pd.DataFrame(rows[:n]), market.catalog, market.placements, market.segments


def bench_generation(generator: str, n_contexts: int, num: int, engines: dict, repeats: int, batch_size: int,
                     workdir: Path, seed: int) -> dict:
    import pandas as pd

    from rlopt.engine.generation import GeneratorSpec, generate_on_engine
    from rlopt.testing import build_tiny_causal_lm

    workdir.mkdir(parents=True, exist_ok=True)
    contexts, catalog, placements, segments = small_market_contexts(n_contexts, workdir, seed)
    spec = GeneratorSpec(str(build_tiny_causal_lm(workdir / "tiny-llama")) if generator == "tiny" else "default",
                         device="cpu")
    n_workers = max(getattr(e, "cpus", 1) for e in engines.values())
    chunk = max(1, len(contexts) // (2 * n_workers))  # two chunks per Ray actor: every actor has work
    sampling = dict(num=num, batch_size=batch_size, temperature=0.8, generator_name=generator)

    def run(engine, frame, run_seed):
        parts = list(generate_on_engine(engine, frame, seed=run_seed, chunk=chunk, spec=spec, catalog=catalog,
                                        placements=placements, segments=segments, **sampling))
        return pd.concat([p.copies for p in parts], ignore_index=True)

    warmup = {}
    for name, engine in engines.items():  # load the generator (on Ray: start the actors) on contexts not timed
        wall, _, _ = timed(run, engine, contexts.iloc[: n_workers], 10_000)
        warmup[name] = round(wall, 3)
        print("generate warm-up", name, warmup[name], flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in engines}
    frames = {}
    for rep in range(repeats):
        for name, engine in engines.items():
            wall, load, frames[name] = timed(run, engine, contexts, seed + rep)
            runs[name].append({"wall_s": round(wall, 3), "load_before": round(load, 2)})
            print("generate", generator, name, runs[name][-1], flush=True)
    copies = len(frames["local"])
    best = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    return {"generator": generator, "contexts": int(len(contexts)), "num": num, "copies": copies,
            "chunk_contexts": chunk, "batch_size": batch_size,
            "copies_equal": bool(frames["ray"].equals(frames["local"])),
            "warmup_wall_s": warmup, "best_wall_s": best,
            "copies_per_s": {k: round(copies / v, 2) for k, v in best.items()},
            "ray_per_copy_vs_local": round(best["ray"] / best["local"], 3), "runs": runs,
            "note": "local: the generator in this process, torch threads chosen from the free cores; ray: one "
                    "actor per Ray CPU, one torch thread each. Both loaded the generator in the warm-up call"}


def _machine(load_start) -> dict:
    return {"cpu": cpu_label(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "load_at_start": [round(x, 2) for x in load_start],
            "load_at_end": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shard-rows", type=int, default=500_000)
    parser.add_argument("--batch-rows", type=int, default=262_144)
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=4096)
    parser.add_argument("--encoders", default="tiny,default",
                        help="Comma-separated: tiny (random 2-layer BERT) and/or default (MiniLM).")
    parser.add_argument("--default-copies", type=int, default=1500,
                        help="Copies scored with the default encoder (it is ~100x slower than tiny).")
    parser.add_argument("--generators", default="tiny,default",
                        help="Comma-separated: tiny (random 2-layer Llama) and/or default (SmolLM2-135M).")
    parser.add_argument("--gen-contexts", type=int, default=32)
    parser.add_argument("--gen-num", type=int, default=2)
    parser.add_argument("--gen-batch-size", type=int, default=8)
    parser.add_argument("--sections", default="validation,scoring,generation",
                        help="Comma-separated parts to run; the others are kept from the existing --out file.")
    parser.add_argument("--ray-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from rlopt.engine.local import LocalEngine
    from rlopt.engine.ray_engine import RayEngine

    sections = {s for s in args.sections.split(",") if s}
    unknown = sections - {"validation", "scoring", "generation"}
    if unknown:
        parser.error(f"unknown --sections {sorted(unknown)}")
    load_start = os.getloadavg()
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="rlopt-bench-engine-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        ray_engine = RayEngine("local", num_cpus=args.ray_cpus)
        ray_start_s = time.perf_counter() - t0
        engines = {"local": LocalEngine(), "ray": ray_engine}
        try:
            if sections & {"validation", "scoring"}:
                from rlopt.data import read_catalog, write_table

                catalog = make_catalog(2_000, np.random.default_rng(args.seed))
                cat_ids = read_catalog(write_table(catalog, work / "catalog.parquet"))["item_id"]
            if "validation" in sections:
                logs, n_broken = write_logs(args.rows, args.shard_rows, work / "logs", catalog, args.seed)
                report["validation"] = bench_validation(logs, cat_ids, engines, args.repeats, args.batch_rows,
                                                        work) | {"rows_broken_on_purpose": n_broken,
                                                                 "shard_rows": args.shard_rows}
            if "scoring" in sections:
                report["scoring"] = {}
                for encoder in [e for e in args.encoders.split(",") if e]:
                    n = args.copies if encoder == "tiny" else args.default_copies
                    # at least four chunks per Ray actor, so every actor has work
                    chunk = max(16, min(args.chunk_rows, n // (4 * args.ray_cpus)))
                    report["scoring"][encoder] = bench_scoring(n, encoder, engines, args.repeats, chunk,
                                                               work / f"scoring-{encoder}", args.seed) if n else None
            if "generation" in sections:
                gen_start = os.getloadavg()
                report["generation"] = {"generators": {
                    gen: bench_generation(gen, args.gen_contexts, args.gen_num, engines, args.repeats,
                                          args.gen_batch_size, work / f"generation-{gen}", args.seed)
                    for gen in [g for g in args.generators.split(",") if g]}}
                report["generation"]["machine"] = _machine(gen_start)
        finally:
            ray_engine.close()
    ray_info = {"version": __import__("ray").__version__, "cpus": args.ray_cpus, "start_s": round(ray_start_s, 2)}
    if sections >= {"validation", "scoring"} or not args.out.is_file():
        report.update({"benchmark": "bench_engine", "seed": args.seed, "target_overhead_ratio": TARGET_OVERHEAD,
                       "ray": ray_info, "machine": _machine(load_start)})
    else:  # a part rerun: the other parts (and the machine record of their run) stay as they were
        import json

        kept = json.loads(args.out.read_text())
        if "generation" in report:
            report["generation"]["ray"] = ray_info
        report = kept | report
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
