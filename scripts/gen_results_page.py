"""Generate the docs' results page from the measurement JSONs; every number on it comes from a file.

Sources: ``benchmarks/results/*.json`` (``make bench``) and the experiment JSONs under
``experiments/results/<area>/`` (any ``*.json`` under ``experiments/`` whose path has a ``results``
part). Each file is recognised by its shape, not its place, so a script that moves its output keeps
its table; a JSON the page does not know is listed by path at the end rather than dropped.

``python scripts/gen_results_page.py [--out FILE]`` prints the Markdown (or writes it); the docs
build calls :func:`results_markdown` from ``scripts/docs_hooks.py``, so the page is never stale.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Where the docs site shows ``experiments/tuning/README.md`` (the tuning scripts; see docs_hooks.py).
TUNING_RECORD = "records/tuning.md"
#: The tuning comparison shown first: ``python -m experiments.tuning.compare`` on the default market.
HEADLINE = "compare-default.json"

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# formatting


def num(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits ("" for missing/NaN; thousands separated)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


def pct(x: Any, decimals: int = 1) -> str:
    """A share in [0, 1] as a percent string."""
    return "" if x is None else f"{100 * x:.{decimals}f}%"


def ratio_ci(r: Json | None) -> str:
    """``{"ratio", "low", "high"}`` -> ``"4.24x [3.51, 5.17]"``."""
    if not r:
        return ""
    return f"{r['ratio']:.2f}x [{r['low']:.2f}, {r['high']:.2f}]"


def mean_ci(m: Json | None, scale: float = 1.0, decimals: int = 2) -> str:
    """``{"mean", "low", "high"}`` -> ``"3.64 [3.18, 4.10]"`` after multiplying by ``scale``."""
    if not m:
        return ""
    return f"{scale * m['mean']:.{decimals}f} [{scale * m['low']:.{decimals}f}, {scale * m['high']:.{decimals}f}]"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table; cells are str()-ed and pipes escaped."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_line(m: Json | None) -> str:
    """One sentence about the machine a benchmark ran on, from whatever its JSON recorded."""
    if not m:
        return ""
    parts = []
    cpus = m.get("cpus", m.get("cpu_count"))
    if cpus:
        parts.append(f"{cpus} CPUs")
    if m.get("cpu_flags"):
        parts.append(", ".join(m["cpu_flags"]))
    load = m.get("load_avg_1m", m.get("load"))
    if isinstance(load, (int, float)):
        parts.append(f"load average {load:.1f}")
    elif load:
        parts.append(str(load))
    return f"Machine: {'; '.join(parts)}." if parts else ""


def cpu_and_kernels(m: Json | None) -> str:
    """``AMD EPYC, AVX512-BF16 (2 cores); torch kernels AVX2`` from a recorded machine."""
    if not m:
        return "not recorded"
    cpu = m.get("cpu") or ", ".join(m.get("cpu_flags") or []) or "?"
    text = f"{cpu} ({m.get('cpus', m.get('cpu_count', '?'))} cores)"
    if m.get("torch_cpu_capability"):
        text += f"; torch kernels {m['torch_cpu_capability']}" + ("" if m.get("native_bf16") is None else
                                                                 f", native bf16 {'yes' if m['native_bf16'] else 'no'}")
    return text


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------------------------------------
# benchmarks/results/<area>.json


def bench_market(d: Json) -> str:
    rows = [
        ("impressions", f"{d['impressions']:,}"),
        ("simulate + write all files (s)", num(d["simulate_seconds"])),
        ("target (s)", num(d.get("target_seconds"))),
        ("NumPy + Parquet floor (s)", num(d.get("floor_seconds"))),
        ("simulate / floor", num(d.get("ratio_simulate_over_floor"))),
        ("truth per row, uncached (s, extrapolated)", num(d.get("truth_per_row_uncached_seconds_extrapolated"))),
        ("truth cached + vectorized (s)", num(d.get("truth_cached_vectorized_seconds"))),
        ("peak memory (MiB)", num(d.get("peak_rss_mib"))),
    ]
    stages = table(["stage", "seconds"], ((k, num(v)) for k, v in d.get("simulate_stages_seconds", {}).items()))
    return table(["quantity", "value"], rows) + "\n" + stages


def bench_data(d: Json) -> str:
    rows = [(r["format"], f"{r['file_mb']} MB", num(r["baseline_read_s"]), f"**{num(r['read_logs_s'])}**",
             num(r["ratio_vs_baseline"]), num(r["read_logs_cpu_s"]), f"{r['rows_per_s']:,}",
             num(r["quarantine_1pct_s"]), num(r["cli_validate_s"]), num(r["cli_peak_rss_mb"]))
            for r in d["results"]]
    head = ["format", "file", "pandas reader, no checks (s)", "`read_logs`, all rules (s)", "ratio",
            "`read_logs` CPU (s)", "rows/s", "1% bad rows, quarantine (s)", "`rlopt validate` (s)", "peak RSS (MB)"]
    return f"{d['rows']:,} rows; best of {d.get('repeats', 1)}. Target: {d.get('target', '')}.\n\n" + table(head, rows)


def bench_scale(d: Json) -> str:
    """``benchmarks/results/scale.json``: peak RSS and rows/s of validate / reward train by log size."""
    rows = []
    for r in d.get("runs", []):
        rows.append((r["command"], f"{r['rows']:,}", r.get("input", ""), r.get("path", ""),
                     num(r.get("wall_s")), num(r.get("cpu_s")), f"{r.get('rows_per_s', 0):,}",
                     f"{int(r['rows'] / r['cpu_s']):,}" if r.get("cpu_s") else "",
                     num(r.get("peak_rss_mb")), f"{num(r.get('load_before'), 2)} / {num(r.get('load_after'), 2)}",
                     r.get("n_train") or ""))
    m = d.get("machine") or {}
    targets = d.get("targets") or {}
    head = (f"Machine: {m.get('cpu', '')}, {m.get('cpus', '')} CPUs, {m.get('mem_total_gb', '')} GB. "
            f"Each command in a fresh process under `/usr/bin/time -v`; load = 1-minute load average before / "
            f"after (the machine is shared). Targets: validate peak RSS <= {targets.get('validate_20M_peak_rss_mb')} "
            f"MB and >= {targets.get('validate_rows_per_s', 0):,} rows/s on 20M rows; reward train peak RSS <= "
            f"{targets.get('reward_train_20M_peak_rss_mb')} MB.\n\n")
    head += ("rows per CPU-second = rows / (user + system CPU time): what one free core would do, less "
             "sensitive to the other load than rows/s.\n\n")
    return head + table(["command", "rows", "input", "path", "wall (s)", "CPU (s)", "rows/s", "rows per CPU-s",
                         "peak RSS (MB)",
                         "load", "rows trained"], rows)


def bench_engine(d: Json) -> str:
    """``benchmarks/results/engine.json``: the Ray engine against the local engine, same data, same run."""
    v, ray = d.get("validation") or {}, d.get("ray") or {}
    wall, rate = v.get("best_wall_s", {}), v.get("rows_per_s", {})
    rows = [(name, num(wall.get(name)), f"{rate.get(name, 0):,}") for name in ("local", "ray", "stream")
            if name in wall]
    m = d.get("machine") or {}
    out = (f"Ray {ray.get('version', '')} on {ray.get('cpus', '')} local CPUs (start-up {num(ray.get('start_s'))} s, "
           f"not in the times). Load average at start / end: {m.get('load_at_start', '')} / "
           f"{m.get('load_at_end', '')}. Target: Ray's time per row <= {d.get('target_overhead_ratio')} x the "
           "local engine's.\n\n")
    out += (f"**Validation** of {v.get('rows', 0):,} rows in Parquet shards of {v.get('shard_rows', 0):,} "
            f"({v.get('rows_quarantined', 0):,} quarantined); reports equal on every path: "
            f"{v.get('reports_equal')}; Ray / local = **{num(v.get('overhead_ratio'))}**, Ray / "
            f"`stream_validate` = {num(v.get('ray_vs_stream_ratio'))}. Best of the runs:\n\n")
    out += table(["path", "wall (s)", "rows/s"], rows) + "\n"
    scoring = d.get("scoring") or {}
    srows = [(enc, f"{s['rows']:,}", num(s["warmup_wall_s"].get("local")), num(s["warmup_wall_s"].get("ray")),
              num(s["best_wall_s"].get("local")), num(s["best_wall_s"].get("ray")), f"**{num(s['overhead_ratio'])}**",
              num(s["max_abs_score_diff"]))
             for enc, s in scoring.items() if s]
    if srows:
        out += ("\n**Scoring** distinct copy rows in chunks (Ray: one actor per CPU, each loading the model once in "
                "the warm-up call; later calls reuse it):\n\n")
        out += table(["encoder", "rows", "warm-up local (s)", "warm-up Ray (s)", "local (s)", "Ray (s)",
                      "Ray / local", "max score difference"], srows)
    gen = d.get("generation") or {}
    grows = [(name, f"{g['contexts']} x {g['num']}", num(g["warmup_wall_s"].get("local")),
              num(g["warmup_wall_s"].get("ray")), num(g["copies_per_s"].get("local")),
              num(g["copies_per_s"].get("ray")), f"**{num(g['ray_per_copy_vs_local'])}**", str(g["copies_equal"]))
             for name, g in (gen.get("generators") or {}).items() if g]
    if grows:
        gm = gen.get("machine") or {}
        out += ("\n**Generation** (`rlopt generate --engine`) on a small simulated market, contexts in chunks "
                "with the same seeds on both engines (local: one process, torch threads over the free cores; Ray: "
                "one actor per CPU, one thread each, the generator loaded once per actor in the warm-up). "
                f"Measured in a later run; load average at start / end: {gm.get('load_at_start', '')} / "
                f"{gm.get('load_at_end', '')}.\n\n")
        out += table(["generator", "contexts x copies", "warm-up local (s)", "warm-up Ray (s)", "local copies/s",
                      "Ray copies/s", "Ray / local time", "copies equal"], grows)
    return out


def bench_reward(d: Json) -> str:
    out = []
    for case, label in (("simulated", "simulated logs"), ("foreign", "logs rlopt's market did not make")):
        c = d.get(case)
        if not c:
            continue
        m, t, b = c["model"], c["truth"], c["baseline_lr_hashed_ngrams"]
        rows = [
            ("click AUC", num(m["click_auc"], 4), num(t["click_auc"], 4), num(b["click_auc"], 4),
             num(c["click_auc_ratio_vs_truth"]) + " of truth"),
            ("click log-loss", num(m["click_logloss"], 4), num(t["click_logloss"], 4), num(b["click_logloss"], 4),
             num(c["click_logloss_ratio_vs_baseline"]) + " of baseline"),
            ("click ECE", num(m["click_ece"], 2), num(t["click_ece"], 2), num(b["click_ece"], 2), ""),
            ("purchase AUC", num(m["purchase_auc"], 4), num(t["purchase_auc"], 4), num(b["purchase_auc"], 4),
             num(c["purchase_auc_ratio_vs_truth"]) + " of truth"),
            ("purchase log-loss", num(m["purchase_logloss"], 4), num(t["purchase_logloss"], 4),
             num(b["purchase_logloss"], 4), num(c["purchase_logloss_ratio_vs_baseline"]) + " of baseline"),
            ("purchase ECE", num(m["purchase_ece"], 2), num(t["purchase_ece"], 2), num(b["purchase_ece"], 2), ""),
        ]
        out.append(f"**{label}** ({c['n_train']:,} training rows, {c['n_holdout']:,} held out; calibration "
                   f"chosen: {c['calibration_method']}; frozen training {num(c['train_wall_s'])} s over "
                   f"{c['distinct_train_copies']:,} distinct copies)\n\n"
                   + table(["metric", "reward model", "truth", "hashed n-gram LR", "ratio"], rows))
    by_cpu = d.get("scoring_by_cpu", {})
    if by_cpu:
        rows = []
        for cpu, s in by_cpu.items():
            for prec in ("fp32", "bf16"):
                if prec in s:
                    for threads, v in sorted(s[prec].items()):
                        rows.append((cpu, prec, threads, num(v.get("copies_per_s") if isinstance(v, dict) else v)))
        out.append("**Scoring speed** (distinct never-seen copies per second, default MiniLM)\n\n"
                   + table(["CPU", "precision", "torch threads", "copies/s"], rows))
    return "\n".join(out)


def bench_onnx(d: Json) -> str:
    """CPU scoring with ONNX Runtime vs torch fp32: speed and AUC per runtime from one run."""
    speed, quality = d.get("speed", {}), d.get("quality", {})
    rows = []
    for name, q in quality.items():
        s = speed.get(name, {})
        rows.append((name, num(s.get("copies_per_s"), 1) if s else "-", num(s.get("ratio_vs_torch_fp32"), 2) if s else "-",
                     num(q.get("encoder_click_auc"), 4), f"{q.get('click_auc_diff', 0):+.4f}",
                     num(q.get("encoder_purchase_auc"), 4), f"{q.get('purchase_auc_diff', 0):+.4f}",
                     "yes" if q.get("auc_ok") else "no"))
    settings = d.get("speed_settings", {})
    out = [f"CPU: {d.get('machine', {}).get('cpu', 'not recorded')}. Distinct never-seen copies per second through "
           f"`RewardModel.score` ({settings.get('distinct_copies')} copies, {settings.get('threads')} threads for torch "
           "and ONNX Runtime, runtimes interleaved, median of "
           f"{settings.get('repeats')} rounds); AUC of the encoder scorer on the default market's holdout, the "
           "same heads for every runtime (`onnx-int8 (trained)`: heads and calibration fitted on int8 "
           "embeddings); `AUC ok` = both within 0.002 of torch fp32.\n",
           table(["runtime", "copies/s", "x torch fp32", "click AUC", "diff", "purchase AUC", "diff", "AUC ok"], rows)]
    exporters = d.get("exporters", {})
    if exporters:
        erows = [(name, f"failed ({e['error'].split(':')[0]})" if "error" in e else num(e.get("copies_per_s"), 1),
                  num(e.get("export_s"), 1)) for name, e in exporters.items()]
        note = f" Note: {d['exporters_note']}." if d.get("exporters_note") else ""
        out += [f"\nExporters (fp32 graph, encoder only, same batches; rlopt uses `torchscript+eager`).{note}\n",
                table(["exporter + attention", "copies/s", "export s"], erows)]
    return "\n".join(out)


def bench_bandits(d: Json) -> str:
    env = d.get("env_steps_per_second", {})
    single = env.get("single")
    rows = [(k, f"{v:,.0f}", num(v / single) if single else "") for k, v in env.items()]
    out = [table(["path", "steps/s", "x single env"], rows)]
    pol = d.get("policies_batch100", {})
    if pol:
        out.append(f"Policy loops ({d['args']['steps']:,} steps, batch 100):\n\n"
                   + table(["policy", "cumulative regret", "steps/s"],
                           ((k, num(v["cumulative_regret"], 4), f"{v['steps_per_second']:,.0f}") for k, v in pol.items())))
    mw = d.get("linucb_vs_mabwiser", {}).get("summary", {})
    if mw:
        base = mw.get("mabwiser_linucb", {}).get("seconds_mean")
        out.append("Against MABWiser's LinUCB (same env, seeds and protocol):\n\n" + table(
            ["implementation", "regret (mean ± sd)", "seconds", "speed vs MABWiser"],
            ((k, f"{v['regret_mean']:.1f} ± {v['regret_sd']:.1f}", num(v["seconds_mean"]),
              num(base / v["seconds_mean"]) + "x" if base else "") for k, v in mw.items())))
    return "\n".join(out)


def bench_ope(d: Json) -> str:
    rows = [(r["task"], f"{r['n']:,}", num(r["rlopt_s"]), r["baseline"], num(r["baseline_s"]),
             num(r.get("speedup", r.get("ratio")))) for r in d["results"]]
    return table(["task", "n", "rlopt (s)", "baseline", "baseline (s)", "ratio"], rows)


def bench_ab(d: Json) -> str:
    rows = [(r["measure"], f"{r['impressions']:,}", r["baseline"], num(r["baseline_s"]), num(r["rlopt_s"]),
             num(r["ratio"])) for r in d["rows"]]
    return (f"Best of {d.get('repeats', 1)}; peak RSS {num(d.get('peak_rss_mb'))} MB.\n\n"
            + table(["measure", "impressions", "baseline", "baseline (s)", "rlopt (s)", "ratio"], rows))


def bench_pipeline(d: Json) -> str:
    out = []
    runs = d.get("quickstarts") or []
    if runs:
        main = ("reward", "tuning", "generation")
        rows = [(str(q.get("finished") or "")[:10], cpu_and_kernels(q.get("machine")),
                 num(q["total_wall_s"]), *(num(q["stages"].get(k)) for k in main),
                 num(sum(v for k, v in q["stages"].items() if k not in main)), q.get("note", ""))
                for q in runs]
        out.append("`rlopt run experiments/quickstart.toml` (`make run`), wall seconds per run; \"torch kernels\" "
                   "is what torch dispatched to (`ATEN_CPU_CAPABILITY` / `ONEDNN_MAX_CPU_ISA` can hold it below "
                   "the CPU, which approximates an AVX2-only machine on a newer one):\n\n"
                   + table(["finished", "machine", "total", *main, "other stages", "note"], rows))
    t = d.get("tiny")
    if t:
        rows = [("cold run, all stages", num(t["cold_s"]), "1"),
                ("rerun, everything cached", num(t["cached_s"]), num(t["cached_ratio"])),
                ("rerun after changing `[bandit] steps`", num(t["bandit_changed_s"]), num(t["bandit_changed_ratio"]))]
        out.append("The stage cache on a tiny experiment (2-layer random models, 8-item market):\n\n"
                   + table(["measurement", "seconds", "ratio vs cold run"], rows))
    return "\n".join(out)


def bench_tuning(d: Json) -> str:
    out = []
    tq = d.get("tuning_quick", {})
    rows = [(k, v["steps_run"], num(v["s_per_step"]), "on" if v.get("compact_lm_head") else "off (TRL's CPU path)",
             num(v["train_loss"], 4)) for k, v in tq.items() if isinstance(v, dict) and "s_per_step" in v]
    if rows:
        out.append("Seconds per quick-preset step, compact LM head against TRL's CPU path (same data and seed):\n\n"
                   + table(["run", "steps", "s/step", "compact LM head", "training loss"], rows))
    g = d.get("generation")
    if g:
        out.append(bench_generation(g))
    return "\n".join(out)


def bench_generation(g: Json) -> str:
    rows = [(k, v["copies"], num(v["copies_per_s"]), num(v["speedup_vs_batched_16_transformers_generate"]) + "x")
            for k, v in g.items() if isinstance(v, dict) and "copies_per_s" in v]
    return (f"Generation, K = {g.get('num')} copies per context, {g.get('contexts')} contexts "
            f"(first-line stop changed no copy: {g.get('first_line_stop_same_copies')}):\n\n"
            + table(["decoder", "copies", "copies/s", "vs `generate`"], rows))


def health_cases(d: Json, prefix: str = "") -> list[tuple[str, Json]]:
    """``(name, case)`` for every dict under ``d`` that holds a reward-model ``health`` record."""
    found = []
    for key, value in d.items():
        if isinstance(value, dict):
            name = f"{prefix}{key}"
            found += [(name, value)] if "health" in value else health_cases(value, name + " / ")
    return found


def bench_reward_health(d: Json) -> str:
    rows = []
    for name, c in health_cases(d):
        h, cv = c["health"], c.get("scorer_cv_logloss", {})
        rows.append((name, f"{c.get('n_train', 0):,} / {c.get('n_holdout', 0):,}", c.get("scorer", ""),
                     ", ".join(f"{k} {num(v, 4)}" for k, v in cv.items()),
                     f"{h['auc']:.3f} [{h['auc_low']:.3f}, {h['auc_high']:.3f}]", num(h.get("baseline_auc"), 3),
                     f"{h['calibration_slope']:.2f}" if "calibration_slope" in h else "", h.get("status", "")))
    machine = f"Machine: {d['machine']}.\n\n" if isinstance(d.get("machine"), str) else ""
    return machine + table(["case", "rows train / held out", "scorer chosen", "CV log-loss per candidate",
                            "held-out click AUC [95% CI]", "baseline AUC", "calibration slope", "health"], rows)


def bench_copy_quality(d: Json) -> str:
    defects = ("incomplete", "leaked_instructions", "invented_url", "junk", "repetition", "any")
    rows = []
    for name, c in (d.get("cases") or {}).items():
        for when in ("before", "after_generated"):
            rates = c.get(when)
            if isinstance(rates, dict):
                rows.append((name, when.replace("_", " "), rates.get("n", ""),
                             *(pct(rates.get(k)) for k in defects),
                             pct(c.get("title_shown_share")) if when != "before" else ""))
    head = (f"Machine: {d['machine']}. " if isinstance(d.get("machine"), str) else "") + \
        (f"{d['generator']}. " if isinstance(d.get("generator"), str) else "") + \
        (f"Target: {d['target']}. " if isinstance(d.get("target"), str) else "") + \
        (f"Note: {d['note']}." if isinstance(d.get("note"), str) else "")
    return head + "\n\n" + table(["set", "copy", "n", *defects, "title shown"], rows)


def bench_contention(d: Json) -> str:
    rows = []
    for key, e in (d.get("summary") or {}).items():
        rows.append((key, num(e.get("default_per_s")), num(e.get("auto_per_s")), num(e.get("auto_over_default")),
                     num(e.get("default_vs_own_idle")), num(e.get("auto_vs_own_idle")), num(e.get("auto_vs_default_idle")),
                     "yes" if e.get("same_output") else "no"))
    units = (f"{d['note']} " if d.get("note") else "") + \
        "Throughput per second (copies for generate/score, optimizer steps for dpo/grpo). "
    text = units + "`default`: torch's default threads; `auto`: rlopt.threads (threads from the free cores, " \
        "rlopt's OpenMP wait settings). `torch:2`: two competing 2-thread torch processes in the benchmark's " \
        "session (CPU shared per thread); `torch:2@own`: each in its own session, as another user's job runs " \
        "(with the kernel's autogroup, CPU shared per session).\n\n" + table(
            ["scenario / workload", "default /s", "auto /s", "auto / default", "default / its idle",
             "auto / its idle", "auto / default idle", "same output"], rows)
    explored = []  # --explore variants: fixed thread counts, bounded OpenMP spinning
    for scenario, workloads in (d.get("runs") or {}).items():
        for w, variants in workloads.items():
            best_idle = max(((r.get("per_s") or 0) for r in (d["runs"].get("idle", {}).get(w) or {}).values()),
                            default=0)
            for v, r in variants.items():
                if v in ("default", "auto") or "per_s" not in r:
                    continue
                explored.append((f"{scenario}/{w}", v, r.get("threads"), num(r["per_s"]),
                                 num(r["per_s"] / best_idle) if best_idle else "-"))
    if explored:
        text += "\n\nExplored variants (`threads:N`: a fixed count with passive waiting; `auto,spin:K`: rlopt's " \
            "count with OpenMP spinning K times before it sleeps):\n\n" + table(
                ["scenario / workload", "variant", "threads", "per s", "/ best idle variant"], explored)
    return text


#: Issue 19's targets as the foreign-markets table states them (the JSON records each one as met or not).
MARKET_TARGETS = ("reward model on >= 50k impressions: click AUC >= 0.97 x oracle and >= baseline; small market: "
                  ">= baseline or health != ok. Tuned (quick DPO): true CTR >= 1.5x base and >= 1.0x the mean "
                  "logged copy, purchases >= the mean logged copy; stretch: >= the best logged copy. GRPO: true "
                  "CTR >= base; started from the DPO-tuned generator, >= 1.0x the mean logged copy")


def _market_copy_rows(c: Json) -> list[tuple[Any, ...]]:
    graded = c.get("graded") or {}
    ctr, buy = graded.get("ctr", {}), graded.get("purchase", {})
    quality = c.get("quality") or {}
    rows = []
    means = ctr.get("means", {})
    logged = [g for g in ("mean_logged", "best_logged") if g in means]
    for gen, mean in [(g, m) for g, m in means.items() if g not in logged] + [(g, means[g]) for g in logged]:
        q = quality.get(gen, {})
        r, rb = ctr.get("ratios", {}), buy.get("ratios", {})
        rows.append((gen, pct(mean, 2), pct(buy.get("means", {}).get(gen), 3),
                     ratio_ci(r.get(f"{gen} / base")), ratio_ci(r.get(f"{gen} / mean_logged")),
                     ratio_ci(r.get(f"{gen} / best_logged")), ratio_ci(rb.get(f"{gen} / mean_logged")),
                     pct(q.get("defects", {}).get("any")), pct(q.get("defects", {}).get("incomplete")),
                     pct(q.get("misleading")), pct(q.get("misleading_written")), pct(q.get("title_fallback_share")),
                     pct(q.get("verbatim_example_share")), pct(q.get("diversity", {}).get("distinct_share")),
                     pct(q.get("diversity", {}).get("top_template_share")), pct(q.get("unbacked_claim"))))
    return rows


def bench_markets(d: Json) -> str:
    out = [f"Targets (issue 19): {MARKET_TARGETS}. True CTR and purchases per impression are each market's own "
           "truth at the first slot for a fresh shopper; ratios are of means over contexts with 95% paired-bootstrap "
           "intervals; *oracle* is the market's truth used as a scorer on the same held-out rows (on atelier with "
           "each shopper's template fatigue; *oracle_fresh* without it).\n"]
    for name, c in (d.get("markets") or {}).items():
        rm = c.get("reward_model", {})
        loads = [x for k in ("reward_model", "dpo") for x in (c.get(k) or {}).get("load_avg_1m", [])]
        out.append(f"#### {name}\n\n{rm.get('n_train', 0):,} training / {rm.get('n_holdout', 0):,} held-out "
                   f"impressions; {c.get('contexts')} contexts x {c.get('num')} copies. Machine: {c.get('machine')}, "
                   f"{c.get('cpu_count')} CPUs, load average {min(loads, default=0):.1f}-{max(loads, default=0):.1f}; "
                   f"wall {num(c.get('wall_s'))} s (reward model {num(rm.get('wall_s'))} s, DPO "
                   f"{num((c.get('dpo') or {}).get('wall_s')) or '-'} s).\n")
        scorers = [(s, rm[s]) for s in ("saved", "baseline", "oracle", "oracle_fresh") if isinstance(rm.get(s), dict)]
        out.append(table(["scorer", "held-out click AUC", "purchase AUC"],
                         [(f"{s} ({rm.get('scorer')})" if s == "saved" else s, num(v.get("click_auc")),
                           num(v.get("purchase_auc"))) for s, v in scorers]))
        out.append(table(["target", "value", "met"],
                         [(k, num(v.get("value")) + (f" [{num(v['low'])}, {num(v['high'])}]" if "low" in v else "")
                           + (f", health {v['health']}" if "health" in v else ""), "yes" if v.get("met") else "**no**")
                          for k, v in sorted((c.get("targets") or {}).items(), key=lambda kv: kv[0].startswith("stretch"))]))
        dpo = c.get("dpo") or {}
        if dpo.get("error"):
            out.append(f"DPO did not run: {' '.join(str(dpo['error']).split())}\n")
        elif dpo:
            out.append(f"DPO: {dpo.get('steps')} steps on {dpo.get('train_pairs')} training pairs ({dpo.get('pairs')} "
                       f"mined at min_confidence {dpo.get('min_confidence')}, value {dpo.get('value_metric')}).\n")
        out.append(table(["copy", "true CTR", "purchases / impr.", "CTR / base", "CTR / mean logged",
                          "CTR / best logged", "purchases / mean logged", "defects", "incomplete", "misleading",
                          "misleading, written", "title shown", "repeats an example", "distinct copies",
                          "top template", "unbacked claim"], _market_copy_rows(c)))
        spread = c.get("grpo_seed_spread") or {}
        if spread:  # one GRPO run is one draw: the same GRPO with other training seeds
            seeds = max(len(v["ctr"]["ratios"]) for v in spread.values())
            out.append(f"GRPO trained with {seeds} seeds (same contexts and sampling), CTR / mean logged per seed: "
                       + "; ".join(f"{route} {', '.join(num(x) for x in v['ctr']['ratios'])} (mean {num(v['ctr']['mean'])}, "
                                   f"range {num(v['ctr']['max'] - v['ctr']['min'], 2)})" for route, v in spread.items())
                       + ".\n")
    return "\n".join(out)

def bench_beat_logged(d: Json) -> str:
    out = ["Few-shot prompts from the logs and best-of-n reranking by the reward model, with the base and the "
           "DPO-tuned (quick) generator, graded by each market's own truth at the first slot on held-out contexts "
           "against the shop's mean and best logged copy of the same contexts. *best-of-n* reranks the same "
           "samples as the row without it; *truth-best-of-n* reranks them by the truth (what a perfect reward "
           "model would pick). Ratios are of means over contexts with 95% paired-bootstrap intervals; *verbatim* "
           "is the share of shown copies that repeat a few-shot example, and the last column the true CTR of the "
           "others (a plain mean over copies).\n"]
    for name, c in (d.get("markets") or {}).items():
        a, rm, dpo = c.get("args", {}), c.get("reward_model", {}), c.get("dpo") or {}
        loads = [x for k in ("loadavg_start", "loadavg_end") for x in (c.get(k) or [])[:1]]
        out.append(f"#### {name}\n\n{c.get('train_impressions', 0):,} training / {c.get('holdout_impressions', 0):,} "
                   f"held-out impressions; {c.get('contexts')} contexts x {a.get('n')} samples, {a.get('few_shot')} "
                   f"examples, reranked by {a.get('metric')}; reward model {rm.get('scorer')} (health "
                   f"{rm.get('health_status')}, held-out click AUC {num(rm.get('holdout_click_auc'))}). Machine: "
                   f"{c.get('machine')}, {c.get('cpu_count')} CPUs, load average {min(loads, default=0):.1f}-"
                   f"{max(loads, default=0):.1f} at this run's ends; DPO {num((c.get('wall_s') or {}).get('tune_dpo'))} s"
                   + (f"; DPO did not run: {' '.join(str(dpo['error']).split())}" if dpo.get("error") else "")
                   + (f". {c['args']['note']}" if a.get("note") else "") + "\n")
        rc, rp = c.get("ratios_ctr", {}), c.get("ratios_purchases", {})
        ctr, buy = c.get("true_ctr", {}), c.get("true_purchases_per_impression", {})
        rows = [(v, pct(ctr.get(v), 2), pct(buy.get(v), 3), ratio_ci(rc.get(v, {}).get("/ base")),
                 ratio_ci(rc.get(v, {}).get("/ mean_logged")), ratio_ci(rc.get(v, {}).get("/ best_logged")),
                 ratio_ci(rp.get(v, {}).get("/ mean_logged")), pct((c.get("copies", {}).get(v) or {}).get("verbatim_rate")),
                 pct(((c.get("verbatim_split") or {}).get(v) or {}).get("new", {}).get("true_ctr"), 2))
                for v in ctr if v not in ("mean_logged", "best_logged")]
        rows += [(v, pct(ctr.get(v), 2), pct(buy.get(v), 3), "", "", "", "", "", "")
                 for v in ("mean_logged", "best_logged") if v in ctr]
        out.append(table(["copy", "true CTR", "purchases / impr.", "CTR / base", "CTR / mean logged",
                          "CTR / best logged", "purchases / mean logged", "verbatim", "true CTR, new copies only"],
                         rows))
    return "\n".join(out)


def bench_pairs(d: Json) -> str:
    confs = [str(c) for c in (d.get("settings") or {}).get("confidences", [0.9, 0.8, 0.7])]
    rows = []
    for market, case in (d.get("markets") or {}).items():
        for scope, e in (case.get("scopes") or {}).items():
            cells = [f"{e[c]['pairs']} ({pct(e[c].get('accuracy'))} / {pct(e[c].get('weighted_accuracy'))})"
                     if c in e else "" for c in confs]
            rows.append((market, scope, f"{e.get('comparable_groups')} of {e.get('groups')} {e.get('group')}", *cells))
    return ("DPO pairs mined per item x segment x placement (`context`) and pooled per item with clicks over "
            "expected clicks (`item`), value ctr + 5 x purchases. Each cell: pairs (accuracy / weight-weighted "
            "accuracy): the share whose chosen copy has the higher true value in the pair's own context, by the "
            "market's truth (ties count as not right).\n\n"
            + table(["market", "scope", "comparable groups", *[f"min_confidence {c}" for c in confs]], rows))


def bench_generation_defaults(d: Json) -> str:
    variants, ratios = d.get("variants") or {}, d.get("ratios") or {}
    rows = []
    for name, v in variants.items():
        t, b, checks = v.get("tuned") or {}, v.get("base") or {}, (v.get("tuned") or {}).get("checks") or {}
        r = ratios.get(name) or {}
        top = ", ".join(f"{k} ({n})" for k, n in sorted((checks.get("unbacked_top") or {}).items(),
                                                         key=lambda kv: (-kv[1], kv[0]))) or "-"
        rows.append((name, v.get("few_shot"), "on" if v.get("claim_check") else "off", v.get("resample", 0),
                     pct(b.get("true_ctr"), 2),
                     pct(t.get("true_ctr"), 2), pct(t.get("true_purchase_rate"), 3),
                     num(r.get("tuned_ctr")) if r else "(baseline)", ratio_ci(v.get("tuned / base")),
                     ratio_ci(v.get("tuned / mean_logged")), pct(checks.get("unbacked_claim")), top,
                     pct(t.get("title_shown")), num(v.get("generation_wall_s"), 4)))
    return (f"`{d.get('config')}`, seed {d.get('seed')}, one run directory (reward model and tuned generator "
            f"shared; only generation and what follows rerun). Machine: {d.get('machine')}, {d.get('cpu_count')} "
            "CPUs. True rates are the market's oracle at the first slot; ratios have 95% paired-bootstrap "
            "intervals; 'vs baseline' divides the tuned true CTR by the baseline variant's.\n\n"
            + table(["variant", "few_shot", "claim_check", "resample", "base CTR", "tuned CTR", "tuned purchases / impr.",
                     "tuned CTR vs baseline", "tuned / base", "tuned / mean logged", "tuned unbacked claim",
                     "most common unbacked", "title shown", "generation s"], rows))


BENCHMARKS: dict[str, tuple[str, Callable[[Json], str]]] = {
    "copy_quality": ("Copy quality: defect rates before and after repair (`bench_copy_quality`)", bench_copy_quality),
    "contention": ("Throughput on a busy machine (`bench_contention`)", bench_contention),
    "market": ("Simulated marketplace (`bench_simulate`)", bench_market),
    "data": ("Data contract: validation speed (`bench_validate`)", bench_data),
    "scale": ("Logs larger than memory: peak RSS and rows/s by log size (`bench_scale`)", bench_scale),
    "engine": ("Engines: Ray against local on the same data (`bench_engine`)", bench_engine),
    "reward": ("Reward model (`bench_reward`)", bench_reward),
    "reward_health": ("Reward model chosen on the user's data, and its health", bench_reward_health),
    "onnx": ("CPU scoring with ONNX Runtime (`bench_onnx`)", bench_onnx),
    "markets": ("Foreign markets: reward model and tuned copy against each shop's truth (`bench_markets`)",
                bench_markets),
    "pairs": ("DPO pairs per context and pooled per item, graded by the truth (`bench_pairs`)", bench_pairs),
    "beat_logged": ("Beating the shop's own copy: few-shot and best-of-n (`bench_beat_logged`)", bench_beat_logged),
    "bandits": ("Bandits (`bench_bandits`)", bench_bandits),
    "ope": ("Off-policy evaluation speed (`bench_ope`)", bench_ope),
    "ab": ("A/B simulation speed (`bench_ab`)", bench_ab),
    "pipeline": ("The loop (`bench_pipeline`)", bench_pipeline),
    "tuning": ("Tuning and generation speed (`bench_tuning`)", bench_tuning),
    "generation_defaults": ("The generation defaults on the packaged market: few-shot and the claim check "
                            "(`bench_generation_defaults`)", bench_generation_defaults),
    "tuning_generation_k1": ("Generation speed, one copy per context (`bench_tuning --num 1`)",
                             lambda d: bench_generation(d.get("generation", d))),
}


# ---------------------------------------------------------------------------------------------
# experiment JSONs, recognised by shape


def is_tuning(d: Json) -> bool:
    return isinstance(d.get("generators"), dict) and isinstance(d.get("ratio_vs_base"), dict)


def is_aa(d: Json) -> bool:
    rows = d.get("rows")
    return isinstance(rows, list) and bool(rows) and "fpr" in rows[0]


def is_sequential(d: Json) -> bool:
    rows = d.get("rows")
    return isinstance(rows, list) and bool(rows) and "msprt_power" in rows[0]


def is_regret(d: Json) -> bool:
    s = d.get("summary")
    return isinstance(s, dict) and bool(s) and all(isinstance(v, dict) and "regret_mean" in v for v in s.values())


def is_coverage(d: Json) -> bool:
    return any(isinstance(d.get(k), dict) and "summary" in d[k] for k in ("synthetic", "market"))


def is_pairs(d: Json) -> bool:
    pairs = d.get("pairs")
    return isinstance(pairs, list) and bool(pairs) and "option_over_control" in pairs[0]


def is_rm_agreement(d: Json) -> bool:
    return isinstance(d.get("proxy_ratio_tuned_over_base"), dict) and "true_ctr_ratio" in d


def is_obd(d: Json) -> bool:
    runs = d.get("runs")
    return isinstance(runs, list) and bool(runs) and "ground_truth" in runs[0] and "estimators" in runs[0]


def exp_aa(d: Json) -> str:
    cfg = d.get("config", {})
    has_ks = any("ks_uniform_pvalue" in r for r in d["rows"])
    head = ["test", "false-positive rate", "95% CI", "rejections"] + (["target", "KS p (uniform p-values)"] if has_ks else [])
    rows = []
    for r in d["rows"]:
        row = [r["test"], pct(r["fpr"], 2), f"[{pct(r['ci95'][0], 2)}, {pct(r['ci95'][1], 2)}]", r.get("rejections", "")]
        if has_ks:
            ks = r.get("ks_uniform_pvalue")
            row += [r.get("target", ""), "" if ks is None or (isinstance(ks, float) and math.isnan(ks)) else num(ks, 2)]
        rows.append(row)
    setup = ", ".join(f"{k} = {v}" for k, v in cfg.items() if k != "out")
    return f"Setup: {setup}.\n\n" + table(head, rows)


def exp_sequential(d: Json) -> str:
    rows = [(f"+{100 * r['lift']:.0f}%", pct(r["fixed_power"]), pct(r["planned_power_normal_approx"]),
             pct(r["msprt_power"]), pct(r["msprt_mean_sample_fraction"]),
             pct(r["msprt_median_stop_fraction_when_rejecting"], 0), pct(r["msprt_wrong_sign_rate"]))
            for r in d["rows"]]
    cfg = d.get("config", {})
    return (f"{cfg.get('reps')} runs per lift, {cfg.get('impressions'):,} impressions, {cfg.get('looks')} looks, "
            f"baseline true CTR {pct(d.get('baseline_true_ctr'), 2)}.\n\n"
            + table(["true CTR lift", "fixed-horizon power", "planned (normal approx.)", "mSPRT power",
                     "mSPRT mean share of sample", "median stop when rejecting", "wrong sign"], rows))


def exp_regret(d: Json) -> str:
    a = d.get("args", {})
    rows = []
    for name, s in d["summary"].items():
        params = ", ".join(f"{k}={v}" for k, v in s.get("params", {}).items() if k in ("alpha", "v", "epsilon", "c"))
        rows.append((name, params, f"{s['regret_mean']:.0f} ± {s['regret_sd']:.0f}",
                     num(s.get("ratio_to_epsilon_greedy")), f"{s['reward_mean']:.0f}", f"{s['steps_per_second']:,.0f}"))
    return (f"{a.get('steps', 0):,} steps, {a.get('seeds')} seeds (mean ± sd), reward `{a.get('reward')}`, "
            f"batch {a.get('batch_size')}.\n\n"
            + table(["policy", "parameters", "regret", "x epsilon-greedy", "reward", "steps/s"], rows))


def exp_coverage(d: Json) -> str:
    out = []
    syn = d.get("synthetic")
    if syn:
        su = syn["setup"]
        p, b = syn["summary"]["percentile"], syn["summary"].get("bca", {})
        rows = [(e, num(p[e]["coverage"], 2), num(b.get(e, {}).get("coverage"), 2), num(p[e]["mean_width"], 2),
                 num(p[e]["bias"], 2), pct(p[e]["relative_rmse"])) for e in p]
        out.append(f"**Synthetic bandit** ({su['n_actions']} actions, {su['len_list']} slots, {su['n_rounds']:,} rows "
                   f"per repetition; truth {num(su['truth'])})\n\n"
                   + table(["estimator", "coverage (percentile)", "coverage (BCa)", "mean CI width", "bias",
                            "RMSE / truth"], rows))
    mk = d.get("market")
    if mk:
        for policy, s in mk["summary"].items():
            p, b = s["percentile"], s.get("bca", {})
            rows = [(e, num(p[e]["coverage"], 2), num(b.get(e, {}).get("coverage"), 2), pct(p[e]["relative_rmse"]))
                    for e in p]
            out.append(f"**Built-in market**, policy `{policy}` ({mk['setup'].get('n_impressions', 0):,} impressions "
                       "per repetition)\n\n"
                       + table(["estimator", "coverage (percentile)", "coverage (BCa)", "RMSE / truth"], rows))
    reps = d.get("config", {}).get("reps")
    return (f"{reps} seeded repetitions; target: the 95% intervals cover the truth at least 90% of the time.\n\n"
            if reps else "") + "\n".join(out)


def exp_obd(d: Json) -> str:
    out = []
    for r in d["runs"]:
        rows = [(e, f"{v['estimate']:.5f} [{v['low']:.5f}, {v['high']:.5f}]", num(v["relative_error"], 2),
                 "yes" if v["covers"] else "**no**") for e, v in r["estimators"].items()]
        out.append(f"**{r['case']}**: truth {r['ground_truth']}, logged value {r['logged_value']}, "
                   f"{r['n_rounds']:,} rounds\n\n" + table(["estimator", "estimate [95% CI]", "rel. error", "covers"], rows))
    return "\n".join(out)


def exp_pairs(d: Json) -> str:
    rows = [(f"`{Path(p['control']).name}`", f"`{Path(p['option']).name}`",
             " / ".join(", ".join(str(x) for x in sets) for sets in p.get("online_set", [])),
             ratio_ci(p["option_over_control"].get("p_click")), ratio_ci(p["option_over_control"].get("p_purchase")),
             num(p.get("vs_base", {}).get("control", {}).get("p_click")),
             num(p.get("vs_base", {}).get("option", {}).get("p_click")))
            for p in d["pairs"]]
    return (f"Market `{d.get('market')}`, generator `{d.get('method')}`; geometric mean of the per-pair true-CTR "
            f"ratios {num(d.get('ctr_ratio_geometric_mean'))} (the intervals cover evaluation contexts, not "
            "tuning runs).\n\n"
            + table(["control run", "option run", "settings (control / option)", "true CTR option / control",
                     "purchases option / control", "control / base", "option / base"], rows))


def exp_rm_agreement(d: Json) -> str:
    rows = [(name, num(r)) for name, r in d["proxy_ratio_tuned_over_base"].items()]
    naming = d.get("share_naming_the_item", {})
    return (f"Run `{d.get('run')}`, generator `{d.get('generator')}`: true CTR tuned / base "
            f"{num(d.get('true_ctr_ratio'))}; share of copy naming its item: "
            + ", ".join(f"{k} {pct(v)}" for k, v in naming.items()) + ".\n\n"
            + table(["reward model", "mean predicted value, tuned / base"], rows))


def tuning_market(d: Json) -> str:
    return str(d.get("args", {}).get("market", "default"))


def tuning_headline(d: Json) -> str:
    gens, ratios = d["generators"], d["ratio_vs_base"]
    times = d.get("timings_seconds", {})
    rows = []
    for name, g in gens.items():
        rows.append((name, mean_ci(g.get("ctr"), 100), mean_ci(g.get("purchase_rate"), 1000),
                     mean_ci(g.get("proxy_reward"), 100), pct(g.get("misleading_rate_raw")),
                     pct(g.get("misleading_rate")), pct(g.get("over_limit_rate")), pct(g.get("repetitive_rate")),
                     num(g.get("mean_chars"), 2), num(times.get(f"tune_{name}"))))
    gen_table = table(["generator", "true CTR % (95% CI)", "purchases / 1k impressions", "proxy reward x100",
                       "misleading, raw", "shown", "over limit", "repetitive", "mean chars", "tuning (s)"], rows)
    rrows = [(name, ratio_ci(r.get("p_click")), ratio_ci(r.get("p_purchase")), ratio_ci(r.get("proxy_reward")))
             for name, r in ratios.items()]
    for name, r in d.get("ratio_vs_start", {}).items():
        rrows.append((f"{name} over {r.get('start')}", ratio_ci(r.get("p_click")), ratio_ci(r.get("p_purchase")),
                      ratio_ci(r.get("proxy_reward"))))
    return gen_table + "\n" + table(["tuned / base (paired bootstrap)", "true CTR", "purchases per impression",
                                     "proxy reward"], rrows)


def tuning_rows(path: str, d: Json) -> list[tuple[Any, ...]]:
    a = d.get("args", {})
    rows = []
    for name, r in d["ratio_vs_base"].items():
        g = d["generators"].get(name, {})
        wall = d.get("timings_seconds", {}).get(f"tune_{name}")
        overrides = ", ".join(str(x) for x in (a.get("dpo_set") or []) + (a.get("online_set") or []))
        rows.append((f"`{Path(path).name}`", tuning_market(d), name, a.get("preset", ""), overrides,
                     ratio_ci(r.get("p_click")), ratio_ci(r.get("p_purchase")), pct(g.get("misleading_rate_raw")),
                     num(g.get("distinct_share"), 2), num(wall)))
    return rows


def experiments_sections(files: list[tuple[str, Json]]) -> tuple[list[str], list[str]]:
    """Markdown sections for the experiment JSONs, and the paths no section took."""
    sections, unknown = [], []
    tuning = [(p, d) for p, d in files if is_tuning(d)]
    headline = next(((p, d) for p, d in tuning if Path(p).name == HEADLINE), None)
    if headline:
        sections.append(f"### Tuning: the quick presets on the default market\n\nFrom `{headline[0]}`: held-out "
                        "items, graded by the simulator's truth; 95% t-intervals over contexts, paired-bootstrap "
                        "intervals for ratios.\n\n" + tuning_headline(headline[1]))
    if tuning:
        rows = [row for p, d in sorted(tuning, key=lambda pd: (tuning_market(pd[1]), pd[0])) for row in tuning_rows(p, d)]
        notes = [f"- `{Path(p).name}`: {' '.join(str(d['note']).split())}"
                 for p, d in sorted(tuning, key=lambda pd: pd[0]) if d.get("note")]
        sections.append("### Tuning: every recorded run\n\nOne row per tuned generator in each tuning "
                        f"comparison's JSON; how to run the scripts: [tuning experiments]({TUNING_RECORD}).\n\n"
                        + table(["file", "market", "generator", "preset", "settings", "true CTR / base",
                                 "purchases / base", "misleading, raw", "distinct share", "tuning (s)"], rows)
                        + ("\nWhat each file's `note` records (command, machine, reused pieces):\n\n"
                           + "\n".join(notes) + "\n" if notes else ""))
    for p, d in files:
        if is_tuning(d):
            continue
        for test, title, render in ((is_sequential, "A/B: sequential against fixed horizon", exp_sequential),
                                    (is_aa, "A/B: false-positive rates", exp_aa),
                                    (is_regret, "Bandits: cumulative regret", exp_regret),
                                    (is_coverage, "OPE: interval coverage", exp_coverage),
                                    (is_obd, "OPE: Open Bandit Dataset sample", exp_obd),
                                    (is_pairs, "Tuning: paired runs, one option on and off", exp_pairs),
                                    (is_rm_agreement, "Tuning: other reward models' view of a tuned generator",
                                     exp_rm_agreement)):
            if test(d):
                where = f"From `{p}`. {machine_line(d.get('machine') if isinstance(d.get('machine'), dict) else None)}"
                sections.append(f"### {title} ({Path(p).stem})\n\n{where.rstrip()}\n\n{render(d)}")
                break
        else:
            unknown.append(p)
    return sections, unknown


# ---------------------------------------------------------------------------------------------
# the page


def experiment_files(root: Path) -> list[Path]:
    """Every experiment JSON with a ``results`` part in its path, sorted."""
    exp = root / "experiments"
    found = {p for p in exp.rglob("*.json") if any("results" in part for part in p.relative_to(exp).parts)}
    return sorted(found)


def load(path: Path) -> Json | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda _: float("nan"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def results_markdown(root: Path = ROOT) -> str:
    """The whole results page as Markdown, built from the JSON files under ``root``."""
    parts = ["# Results", "",
             "Generated from the measurement files when the docs are built "
             "(`scripts/gen_results_page.py`); nothing here is typed by hand. Benchmarks compare against a "
             "baseline measured in the same run; each section names its file. Most numbers come from 2-core "
             "CPU machines, some shared with other jobs, so absolute times are rough and the same-run ratios "
             "are the numbers to compare. How to rerun them: [Benchmarks](guides/benchmarks.md).", "",
             "## Benchmarks", ""]
    unknown = []
    bench_dir = root / "benchmarks" / "results"
    for path in sorted(bench_dir.glob("*.json")):
        d = load(path)
        entry = BENCHMARKS.get(path.stem)
        if d is None or entry is None:
            unknown.append(rel(path, root))
            continue
        title, render = entry
        machine = machine_line(d.get("machine") if isinstance(d.get("machine"), dict) else None)
        parts += [f"### {title}", "", f"From `{rel(path, root)}`. {machine}".rstrip(), "", render(d), ""]
    loaded = [(rel(p, root), d) for p in experiment_files(root) if (d := load(p)) is not None]
    sections, more_unknown = experiments_sections(loaded)
    parts += ["## Experiments", ""] + [s + "\n" for s in sections]
    unknown += more_unknown
    if unknown:
        parts += ["## Other result files", "", "Recorded but not summarized on this page:", ""]
        parts += [f"- `{p}`" for p in unknown] + [""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print (or write) the docs' results page.")
    parser.add_argument("--out", type=Path, help="write here instead of printing")
    args = parser.parse_args(argv)
    text = results_markdown()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
