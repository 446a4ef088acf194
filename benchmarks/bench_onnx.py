"""Reward-model scoring on the CPU with ONNX Runtime against torch: speed and AUC in the same run.

Run ``python -m benchmarks.bench_onnx`` (``--impressions``, ``--score-copies``, ``--repeats``,
``--threads``, ``--quick``). Writes ``benchmarks/results/onnx.json`` and prints a table.

One frozen-mode reward model (default MiniLM, encoder in torch fp32) is trained on the default
market's logs; then, in the same process:

1. ``quality``: click and purchase AUC on the time-split holdout for each runtime -- torch fp32
   (the reference), torch bf16 where the CPU does bf16 natively, ``onnx`` and ``onnx-int8`` -- with
   the *encoder* scorer (the combiner of the trained model may pick the n-gram baseline, which would
   hide the encoder), and with the model's chosen scorer. The same heads score every runtime
   (a drop-in swap; the heads never saw int8 embeddings). ``onnx-int8 (trained)`` is a second model
   trained with ``runtime="onnx-int8"`` (heads and calibration fitted on int8 embeddings).
   A runtime is ``auc_ok`` when both AUCs are within ``--auc-tolerance`` (0.002) of torch fp32.
2. ``speed``: distinct copies/s through ``RewardModel.score`` on ``--score-copies`` fresh copies
   (embedding cache emptied before every timed call), each runtime in rounds interleaved with the
   others (median of ``--repeats`` rounds) so that load from other jobs hits all of them alike;
   torch and ONNX Runtime get the same thread count. Ratios are against torch fp32 of the same run.
3. ``exporters``: encoder-only copies/s of the fp32 graph as the TorchScript tracer
   (``dynamo=False``) and the dynamo exporter write it, with eager or SDPA attention, same batches,
   interleaved; the one rlopt uses is ``torchscript+eager``.
4. ``export_s``: wall time of the first export + int8 quantization (empty cache).

The machine (CPU model and widest vector ISA, :mod:`rlopt.machine`) and the load average at
start and end are recorded: other jobs on a shared machine slow torch and ONNX Runtime unequally.
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

import numpy as np
import pandas as pd
import torch

from benchmarks.bench_reward import fresh_copies
from reward_models import RewardModel, evaluate_reward_model, train_reward_model
from reward_models.encoder import bf16_native
from reward_models.onnx_runtime import OnnxEncoder
from rlopt.io_utils import write_json_atomic
from rlopt.machine import cpu_flags, cpu_label

RESULTS = Path(__file__).parent / "results" / "onnx.json"
REFERENCE = "torch-fp32"


def variants() -> dict[str, tuple[str, str]]:
    """name -> (runtime, precision); bf16 only where the CPU has it natively (emulated bf16 is never chosen)."""
    out = {REFERENCE: ("torch", "fp32")}
    if bf16_native("cpu"):
        out["torch-bf16"] = ("torch", "bf16")
    out.update({"onnx": ("onnx", "fp32"), "onnx-int8": ("onnx-int8", "fp32")})
    return out


def load_variants(model_dir: Path, threads: int) -> dict[str, RewardModel]:
    models = {}
    for name, (runtime, precision) in variants().items():
        model = RewardModel.from_pretrained(model_dir, precision=precision, runtime=runtime)
        model.encoder.threads = threads
        models[name] = model
    return models


def quality(models: dict[str, RewardModel], holdout: pd.DataFrame, catalog: pd.DataFrame, tol: float) -> dict:
    out: dict[str, Any] = {}
    texts = list(dict.fromkeys(holdout["copy_text"]))
    ref_emb = models[REFERENCE].encoder.encode(texts, use_cache=False)
    for name, model in models.items():
        enc, _ = evaluate_reward_model(model, holdout, catalog, component="encoder")
        chosen, _ = evaluate_reward_model(model, holdout, catalog)
        emb = model.encoder.encode(texts, use_cache=False)
        cos = (emb * ref_emb).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref_emb, axis=1))
        out[name] = {"encoder_click_auc": enc["click_auc"], "encoder_purchase_auc": enc["purchase_auc"],
                     "encoder_click_logloss": enc["click_logloss"], "scorer": model.combiner.choice,
                     "scorer_click_auc": chosen["click_auc"], "scorer_purchase_auc": chosen["purchase_auc"],
                     "embedding_cosine_vs_fp32": {"min": float(cos.min()), "mean": float(cos.mean())},
                     "compute_precision": model.encoder.compute_precision}
    ref = out[REFERENCE]
    for row in out.values():
        row["click_auc_diff"] = row["encoder_click_auc"] - ref["encoder_click_auc"]
        row["purchase_auc_diff"] = row["encoder_purchase_auc"] - ref["encoder_purchase_auc"]
        row["auc_ok"] = bool(abs(row["click_auc_diff"]) <= tol and abs(row["purchase_auc_diff"]) <= tol)
    return out


def speed(models: dict[str, RewardModel], catalog: pd.DataFrame, n: int, repeats: int) -> dict[str, Any]:
    frame = fresh_copies(catalog, n, seed=1)
    for model in models.values():  # warm-up: sessions, allocator, oneDNN kernels
        model.encoder.clear_cache()
        model.score(frame.iloc[:64], catalog)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            model.encoder.clear_cache()
            start = time.perf_counter()
            model.score(frame, catalog)
            rates[name].append(n / (time.perf_counter() - start))
    out = {name: {"copies_per_s": float(np.median(r)), "runs_copies_per_s": r} for name, r in rates.items()}
    for row in out.values():
        row["ratio_vs_torch_fp32"] = row["copies_per_s"] / out[REFERENCE]["copies_per_s"]
    return out


def _export(model: torch.nn.Module, names: list[str], path: Path, *, dynamo: bool) -> None:
    """The fp32 pooled graph by one exporter (the benchmark's own copy of the export call)."""
    import warnings

    from reward_models.onnx_runtime import OPSET, OUTPUT_NAME, _example_inputs
    from reward_models.pooling import PooledEncoder

    graph = PooledEncoder(model, names).eval()
    args = _example_inputs(names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
            program = torch.onnx.export(graph, args, dynamo=True, input_names=names, output_names=[OUTPUT_NAME],
                                        dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),),  # one *args
                                        verbose=False)
            program.save(str(path))
        else:
            axes = {name: {0: "batch", 1: "sequence"} for name in names} | {OUTPUT_NAME: {0: "batch"}}
            torch.onnx.export(graph, args, str(path), dynamo=False, opset_version=OPSET, input_names=names,
                              output_names=[OUTPUT_NAME], dynamic_axes=axes)


def exporters(model: RewardModel, catalog: pd.DataFrame, n: int, repeats: int, threads: int,
              workdir: Path) -> dict[str, Any]:
    """Encoder-only copies/s of the fp32 graph per exporter and attention kind (same batches)."""
    import onnxruntime as ort
    from transformers import AutoModel

    enc = model.encoder
    texts = fresh_copies(catalog, n, seed=2)["copy_text"].tolist()
    batches = list(enc._batches(texts))
    ref = np.zeros((n, enc.dim), np.float32)
    for idx, batch in batches:
        with torch.inference_mode():
            ref[idx] = enc._embed({k: torch.from_numpy(v) for k, v in batch.items()}).numpy()
    sessions, out = {}, {}
    for attention in ("eager", "sdpa"):
        copy = AutoModel.from_config(enc.model.config, attn_implementation=attention)
        copy.load_state_dict(enc.model.state_dict())
        copy.eval()
        for dynamo in (False, True):
            name = f"{'dynamo' if dynamo else 'torchscript'}+{attention}"
            path = workdir / f"{name}.onnx"
            start = time.perf_counter()
            try:
                _export(copy, enc.input_names, path, dynamo=dynamo)
            except Exception as err:  # an exporter that fails on this model is a result, not a crash
                out[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
                continue
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            out[name] = {"export_s": time.perf_counter() - start}
    rates: dict[str, list[float]] = {name: [] for name in sessions}
    for rep in range(repeats + 1):  # round 0 warms up
        for name, session in sessions.items():
            got = np.zeros_like(ref)
            start = time.perf_counter()
            for idx, batch in batches:
                got[idx] = session.run(None, batch)[0]
            if rep:
                rates[name].append(n / (time.perf_counter() - start))
            else:
                out[name]["max_abs_diff_vs_torch"] = float(np.abs(got - ref).max())
    for name, r in rates.items():
        out[name].update(copies_per_s=float(np.median(r)), runs_copies_per_s=r)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--score-copies", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed rounds (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime intra-op threads")
    parser.add_argument("--auc-tolerance", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default="default", help="encoder spec (a tiny one for smoke tests)")
    parser.add_argument("--no-trained-int8", action="store_true", help="skip training a second model on int8")
    parser.add_argument("--no-exporters", action="store_true", help="skip the exporter comparison")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (nothing written)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.impressions, args.score_copies, args.repeats = 10_000, 64, 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "machine": {"cpu": cpu_label(), "cpu_flags": cpu_flags(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "load_avg_at_start": list(os.getloadavg())},
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "encoder": "default (all-MiniLM-L6-v2)" if args.encoder == "default" else args.encoder, "mode": "frozen", "args": {k: str(v) for k, v in vars(args).items()},
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        sim = simulate(Marketplace.from_toml(DEFAULT_MARKET), args.impressions, seed=args.seed)
        model = train_reward_model(sim.train, sim.catalog, seed=args.seed, precision="fp32", runtime="torch",
                                   encoder=args.encoder, progress=True)
        model.save_pretrained(tmp_path / "rm")
        start = time.perf_counter()
        OnnxEncoder(model.encoder.model, model.encoder.input_names, quantized=True, root=tmp_path / "cache",
                    threads=args.threads)
        results["export_s"] = {"fp32_export_and_int8_quantization": time.perf_counter() - start}
        models = load_variants(tmp_path / "rm", args.threads)
        results["quality"] = quality(models, sim.holdout, sim.catalog, args.auc_tolerance)
        results["quality_rows"] = {"n_train": len(sim.train), "n_holdout": len(sim.holdout),
                                   "distinct_holdout_copies": int(sim.holdout["copy_text"].nunique())}
        print("quality done", round(time.perf_counter() - t0), "s", flush=True)
        results["speed"] = speed(models, sim.catalog, args.score_copies, args.repeats)
        results["speed_settings"] = {"distinct_copies": args.score_copies, "repeats": args.repeats,
                                     "threads": args.threads, "batch_size": model.encoder.batch_size,
                                     "max_length": model.encoder.max_length,
                                     "onnx_session_threads": models["onnx"].encoder._onnx.threads}
        print("speed done", round(time.perf_counter() - t0), "s", flush=True)
        if not args.no_trained_int8:
            trained = train_reward_model(sim.train, sim.catalog, seed=args.seed, precision="fp32",
                                         runtime="onnx-int8", encoder=args.encoder, progress=True)
            enc, _ = evaluate_reward_model(trained, sim.holdout, sim.catalog, component="encoder")
            ref = results["quality"][REFERENCE]
            results["quality"]["onnx-int8 (trained)"] = {
                "encoder_click_auc": enc["click_auc"], "encoder_purchase_auc": enc["purchase_auc"],
                "click_auc_diff": enc["click_auc"] - ref["encoder_click_auc"],
                "purchase_auc_diff": enc["purchase_auc"] - ref["encoder_purchase_auc"],
                "auc_ok": bool(abs(enc["click_auc"] - ref["encoder_click_auc"]) <= args.auc_tolerance
                               and abs(enc["purchase_auc"] - ref["encoder_purchase_auc"]) <= args.auc_tolerance)}
        if not args.no_exporters:
            results["exporters"] = exporters(models[REFERENCE], sim.catalog, args.score_copies, args.repeats,
                                             args.threads, tmp_path)
    results["machine"]["load_avg_at_end"] = list(os.getloadavg())
    results["machine"]["load"] = (f"load average {results['machine']['load_avg_at_start'][0]:.1f} at start, "
                                  f"{results['machine']['load_avg_at_end'][0]:.1f} at end")
    results["verdict"] = {name: {"speedup_vs_torch_fp32": results["speed"][name]["ratio_vs_torch_fp32"],
                                 "auc_ok": results["quality"][name]["auc_ok"],
                                 "meets_target": bool(results["quality"][name]["auc_ok"]
                                                      and results["speed"][name]["ratio_vs_torch_fp32"] >= 2.0)}
                          for name in results["speed"] if name != REFERENCE}
    results["wall_s"] = time.perf_counter() - t0
    if not args.quick:
        write_json_atomic(args.out, results)
    print(table(results))
    return results


def table(results: dict[str, Any]) -> str:
    lines = [f"{results['machine']['cpu']}; load {results['machine']['load_avg_at_start'][0]:.1f} -> "
             f"{results['machine']['load_avg_at_end'][0]:.1f}",
             f"{'runtime':<22} {'copies/s':>9} {'x fp32':>7} {'click AUC':>10} {'diff':>8} {'purch AUC':>10} "
             f"{'diff':>8} {'cos min':>8}"]
    for name, q in results["quality"].items():
        s = results["speed"].get(name, {})
        rate = f"{s['copies_per_s']:9.1f} {s['ratio_vs_torch_fp32']:7.2f}" if s else f"{'':9} {'':7}"
        cos = q.get("embedding_cosine_vs_fp32", {}).get("min")
        lines.append(f"{name:<22} {rate} {q['encoder_click_auc']:10.4f} {q['click_auc_diff']:+8.4f} "
                     f"{q['encoder_purchase_auc']:10.4f} {q['purchase_auc_diff']:+8.4f} "
                     f"{'' if cos is None else format(cos, '8.4f')}")
    for name, e in results.get("exporters", {}).items():
        lines.append(f"exporter {name:<22} " + (e["error"] if "error" in e else
                                                f"{e['copies_per_s']:8.1f} copies/s (encoder only), "
                                                f"export {e['export_s']:.1f} s, max |diff| {e['max_abs_diff_vs_torch']:.1e}"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(main()["verdict"], indent=1))
