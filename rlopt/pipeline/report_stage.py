"""Stage ``report``: gather every stage's summary into the report's sections, decide, write.

Sections whose stage did not finish say why ("not available: ..."); numbers come only from
stage outputs. The verdict comes from :func:`rlopt.report.verdict.decide`.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from rlopt.generation.diversity import item_titles
from rlopt.pipeline.config import data_source
from rlopt.pipeline.runner import StageContext
from rlopt.report import decide, write_report
from rlopt.report.caveats import nan_reason
from rlopt.report.quality import quality_table
from rlopt.report.verdict import claim_counts_text, decide_predicted
from rlopt.tuning.model_card import is_data_source


def _missing(ctx: StageContext, stage: str) -> dict[str, str]:
    result = ctx.upstream.get(stage)
    if result is None:
        return {"unavailable": f"stage '{stage}' is not part of this pipeline"}
    return {"unavailable": f"stage '{stage}' {result.status}" + (f": {result.reason}" if result.reason else "")}


def _data_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("validate"):
        return _missing(ctx, "validate")
    d, v = ctx.summary("data"), ctx.summary("validate")
    rows = {"source": d.get("source"), "train impressions": v["train"], "held-out impressions": v["holdout"],
            "catalog items": v["items"], "placements": ", ".join(v["placements"]),
            "rows quarantined by validation": v["quarantined"], "validation mode": v["on_error"]}
    for rule, n in sorted(v.get("rule_counts", {}).items()):
        rows[f"rows breaking '{rule}'"] = n
    if v.get("catalog_quarantined"):  # catalog rows set aside (on_error = "quarantine"), with their rules
        rows["catalog items quarantined"] = v["catalog_quarantined"]
        for rule, n in sorted(v.get("catalog_rule_counts", {}).items()):
            rows[f"catalog items breaking '{rule}'"] = n
    if v.get("currency_warning"):  # said where the reader looks first, not only in the run log
        return {"rows": rows, "notes": f"Warning: {v['currency_warning']}."}
    return {"rows": rows}


def _reward_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("reward"):
        return _missing(ctx, "reward")
    s = ctx.summary("reward")
    keep = ("click_auc", "click_logloss", "click_ece", "purchase_auc", "purchase_logloss", "purchase_ece", "n")
    metrics = {f"held-out {k}": nan_reason(k, s["metrics"]) if _is_nan(v) else v
               for k, v in s["metrics"].items() if k in keep} or s["metrics"]
    return {"metrics": {"training rows": s["train_rows"], **metrics}, "calibration": s["calibration_click"],
            "notes": "Calibration on held-out impressions: equal-count bins of predicted P(click) vs the "
                     "observed click rate (slot bias included)."}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


#: OPE rewards that are rates (their value and interval live in [0, 1]); revenue is not.
RATE_REWARDS = ("click", "clicked", "converted", "purchase", "purchased")


def _tuning_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("tuning"):
        return _missing(ctx, "tuning")
    s = ctx.summary("tuning")
    facts = {"preset": s["preset"], "base generator": s["generator"], "optimizer steps": s["steps"],
             "device": s.get("device"), "training wall time (s)": s.get("train_wall_s")}
    # counts and settings, and the inputs where they name a file (not "<DataFrame>": the run's own frames)
    facts.update({f"data: {k}": v for k, v in (s.get("data") or {}).items()
                  if isinstance(v, (int, float)) or is_data_source(v)})
    last = {k: v for k, v in (s.get("metrics") or {}).items() if k.startswith("last_")}
    facts.update(dict(list(last.items())[:8]))
    curves = s.get("curves") or {}
    x = "step" if "step" in curves else next(iter(curves), None)
    picked = {}
    if x:
        picked[x] = curves[x]
        prefer = ("loss", "rewards/margins", "rewards/accuracies", "reward", "kl")
        cols = [c for c in prefer if c in curves] + [c for c in curves if c not in prefer and c != x]
        for c in cols[:4]:
            picked[c] = curves[c]
    return {"method": s["method"], "facts": facts, "curves": picked if x else None}


def _overopt_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("generation"):
        return _missing(ctx, "generation")
    ev = ctx.summary("generation").get("evaluation")
    if not ev:
        return {"unavailable": ctx.summary("generation").get("evaluation_note", "no evaluation")}
    rows = []
    for gen, e in ev.items():
        rows.append({"generator": gen, "proxy_reward": e["proxy_reward"]["mean"], "true_reward": e["revenue"]["mean"],
                     "true_ctr": e["ctr"]["mean"], "true_purchase_rate": e["purchase_rate"]["mean"],
                     "proxy_ctr": e.get("proxy_ctr", {}).get("mean"), "misleading_rate": e.get("misleading_rate"),
                     "over_limit_rate": e.get("over_limit_rate"), "repetitive_rate": e.get("repetitive_rate"),
                     "distinct_share": e.get("distinct_share"), "mean_chars": e.get("mean_chars")})
    ratio = ctx.summary("generation").get("paired_ctr_ratio") or {}
    claims = _claims_table(ctx.summary("generation"), ev)
    notes = ("Means over (item, placement) contexts at slot 0. proxy_reward = the reward model's predicted value "
             "(what tuning optimizes); true_reward = the oracle's expected revenue per impression. A proxy gain "
             "without a true gain is over-optimization; repetitive_rate = share of copies with fewer than 80% "
             "of their word bigrams distinct (a phrase repeated to please the reward); distinct_share = distinct "
             "copies / copies (a generator that writes one safe text everywhere has a low one).")
    if ratio:
        notes += (f" Paired true-CTR ratio tuned/base: {ratio['ratio']:.3f} "
                  f"(95% bootstrap CI {ratio['low']:.3f}-{ratio['high']:.3f}, {ratio['n_contexts']} contexts).")
    out = {"rows": rows, "notes": notes}
    if claims:
        out["claims"] = claims
    if quality := quality_table(ev):
        out["quality"] = quality
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.1%}"


def _claims_table(summary: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any] | None:
    """Per generator: misleading claims in what the model wrote (raw) and in what is shown, how many
    copies the compliance filter changed, and the truth parser's over-claim rates (independent)."""
    if not any("misleading_rate" in e for e in ev.values()):
        return None
    rows = []
    for gen, e in ev.items():
        rows.append({"generator": gen, "misleading_rate_raw": e.get("misleading_rate_raw"),
                     "compliance_changed": e.get("compliance_changed"),
                     "compliance_changed_rate": e.get("compliance_changed_rate"),
                     "misleading_rate (shown)": e.get("misleading_rate"),
                     "overclaim_rate_truth_raw": e.get("overclaim_rate_truth_raw"),
                     "overclaim_rate_truth (shown)": e.get("overclaim_rate_truth"), "copies": e.get("n_copies")})
    on = summary.get("compliance_on")
    if on is None and not any(e.get("compliance_changed") is not None for e in ev.values()):
        notes = ("Misleading = rlopt's discount-claim rule (rlopt.generation.compliance) with the list price. "
                 "This run's generation predates the compliance filter: shown copy = model output.")
    elif on is False:
        notes = ("The compliance filter was off ([generation] compliance = false): the copy shown is what the "
                 "generators wrote. Misleading = rlopt's discount-claim rule with the list price; overclaim_truth = "
                 "the simulator's own parser reads a claim above the real discount + 2 points.")
    else:
        parts = [f"{gen} {_pct(e.get('misleading_rate_raw'))}" for gen, e in ev.items()]
        changed = [f"{e.get('compliance_changed')} of {e.get('n_copies')} {gen} copies" for gen, e in ev.items()]
        notes = ("The compliance filter was on: misleading discount claims were repaired before the copy was shown "
                 "(wrong claims corrected; claims on undiscounted items removed; unrepairable copy replaced by the "
                 "item title). The verdict's guard reads the shown copy (what shoppers see). What the generators "
                 f"themselves wrote was misleading in {', '.join(parts)} of copies; the filter changed "
                 f"{', '.join(changed)}. A low shown rate is the filter's work, not a generator that learned "
                 "honesty: compare the raw rates. overclaim_truth = the simulator's own parser reads a claim above "
                 "the real discount + 2 points (an independent check of rlopt's rule).")
    return {"rows": rows, "notes": notes}


def _ab_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("ab"):
        return _missing(ctx, "ab")
    s = ctx.summary("ab")
    notes = (f"Users randomized by hash; delta-method tests on per-impression ratios at alpha={s['alpha']}. "
             f"SRM p-value {s['srm_pvalue']:.3g}. ")
    notes += " ".join(s.get("warnings", []))
    return {"primary_metric": s["primary_metric"], "n": s["n"], "metrics": s["metrics"], "notes": notes}


def _bandit_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("bandit"):
        return _missing(ctx, "bandit")
    s = ctx.summary("bandit")
    if s.get("mode") == "replay":
        return {"final": s["final"], "curves": None,
                "notes": f"Replayed over your logs ({s['steps']:,} logged rounds, {s['n_actions']} copies per pool at "
                         f"most): rejection sampling, kept rounds weighted by 1/propensity (self-normalized); "
                         f"reward={s['reward']}. The shop's own policy got {s['logging_value']:.4g}. No simulator, "
                         "so no regret: replay_value is each policy's estimated mean reward."}
    cols = ("policy", "cumulative_regret", "regret_per_1k_steps", "mean_reward", "steps_per_second")
    final = [{c: row.get(c) for c in cols} for row in s["final"]]
    return {"final": final, "curves": s["curves"],
            "notes": f"{s['env_id']}, reward={s['reward']}, {s['steps']:,} steps per policy; regret = expected "
                     "reward of the best copy variant minus that of the chosen one (oracle), summed."}


def _ope_section(ctx: StageContext) -> dict[str, Any]:
    if not ctx.has("ope"):
        return _missing(ctx, "ope")
    s = ctx.summary("ope")
    truth = "" if s.get("logging_truth") is None else f" (true {s['logging_truth']:.4g})"
    notes = (f"Reward: {s.get('reward', 'click')}. Evaluated on {s['n_eval']:,} held-out log rows ({s['n_actions']} "
             f"candidate copies per row at most: the copies logged for the row's item x placement); the logging "
             f"policy's observed value {s['logging_value']:.4g}{truth}. "
             f"Intervals: {s['confidence_level']:.0%} bootstrap. " + " ".join(s.get("notes", [])))
    out = {"policy": s["policy"], "truth": s["truth"], "estimates": s["estimates"], "notes": notes}
    if s.get("reward", "click") in RATE_REWARDS:
        out["bounds"] = [0.0, 1.0]
    return out


def _samples_section(ctx: StageContext, per_cell: int) -> dict[str, Any]:
    if not ctx.has("generation"):
        return _missing(ctx, "generation")
    gen = ctx.dir("generation")
    base, tuned = (pd.read_json(gen / f"{n}.jsonl", lines=True, dtype=False) for n in ("base", "tuned"))
    keys = ["item_id", "segment", "placement"]
    merged = base.merge(tuned, on=[*keys, "sample_idx"], suffixes=("_base", "_tuned"))
    titles = {}
    if ctx.has("validate"):
        cat = pd.read_parquet(ctx.dir("validate") / "catalog.parquet")
        titles = item_titles(cat)
    rows = []
    for (seg, plc), group in merged.sort_values(keys + ["sample_idx"]).groupby(["segment", "placement"], sort=True):
        for _, r in group.head(per_cell).iterrows():
            rows.append({"segment": seg, "placement": plc, "item": titles.get(str(r["item_id"]), r["item_id"]),
                         "base": r["copy_text_base"], "tuned": r["copy_text_tuned"]})
    return {"rows": rows}


def _logged_section(ctx: StageContext) -> dict[str, Any]:
    """Tuned and base copy against the shop's own logged copy for the same contexts: the oracle's
    true CTR (simulated data) or the reward model's predicted CTR (the user's logs)."""
    if not ctx.has("generation"):
        return _missing(ctx, "generation")
    g = ctx.summary("generation")
    cmp_, predicted = g.get("logged_truth") or g.get("predicted"), "predicted" in g
    if not cmp_:
        return {"unavailable": g.get("predicted_note", "this run's generation predates the logged-copy comparison")}
    buys = g.get("predicted_purchase" if predicted else "logged_truth_purchase") or {"means": {}, "ratios": {}}
    kind = "predicted" if predicted else "true"
    what = f"{kind} CTR" + (" (this run's reward model, first slot)" if predicted else " (oracle, first slot)")
    rows = [{"copy": name.replace("_", " "), what: value, f"{kind} purchase rate": buys["means"].get(name)}
            for name, value in cmp_["means"].items()]
    ratios = [{"comparison": f"{metric}: {name.replace('_', ' ')}", "ratio": r["ratio"], "95% CI low": r["low"],
               "95% CI high": r["high"], "contexts": r["n_contexts"]}
              for metric, block in (("CTR", cmp_), ("purchase rate", buys)) for name, r in block["ratios"].items()]
    notes = (f"{cmp_['n_contexts']} generation contexts with logged copy for their item x placement. mean logged = "
             "the logged copies mixed as the shop showed them (impression shares); best logged = the best of them "
             "per context by the same score. Ratios of means over contexts, 95% paired bootstrap over contexts.")
    if predicted:
        notes += (" No simulator: these are the reward model's predictions, not measured outcomes; only an A/B "
                  "test on your traffic measures the lift.")
        if (lift := cmp_.get("lift") or {}).get("ab_sample_size_per_arm"):
            notes += (f" Confirming the predicted {lift['lift']:+.1%} over the mean logged copy at your click rate "
                      f"{lift['base_ctr']:.2%} needs {lift['ab_sample_size_per_arm']:,} impressions per arm "
                      "(80% power, alpha 0.05).")
    out = {"rows": rows, "ratios": {"rows": ratios, "notes": ""}, "notes": notes}
    if checks := _checks_table(g.get("copy_checks")):
        out["checks"] = checks
    return out


def _checks_table(checks: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per generator: defects, claims the item's facts do not back, and one phrase written everywhere."""
    if not checks:
        return None
    rows = [{"generator": name, "flagged (any check)": _pct(c.get("flagged")),
             "any defect (shown)": _pct(c.get("any_defect")),
             "unbacked claim": _pct(c.get("unbacked_claim")),
             "most common unbacked": claim_counts_text(c.get("unbacked_top")) or "-",
             "unbacked, rejected": c.get("unbacked_rejected", 0), "distinct copies": _pct(c.get("distinct_share")),
             "most common template": f"{_pct(c.get('top_template_share'))}: {c.get('top_template')}"}
            for name, c in checks.items()]
    notes = ("Checks that need no truth (rlopt.generation.checks; `rlopt check` runs them on any copy file). "
             "flagged = share of shown copies failing any check: a misleading discount, an unbacked claim, a defect "
             "or over the placement's limit. unbacked claim = share of shown copies stating a number or a fact phrase "
             "('loved by', 'best seller', 'handmade', 'organic', 'free shipping', ...) that neither the item's catalog "
             "row nor the shop's logged copy of it contains (e.g. 'Loved by 10,000+ shoppers' for an item the shop never "
             "said it of; discount and price claims are the compliance rule's; a shop-wide fact goes in a catalog column); most common unbacked = those claims, with the number of "
             "shown copies stating each; 'unbacked, rejected' "
             "= samples [generation] claim_check kept from being shown (sampled again or the title shown). distinct "
             "copies = distinct texts / copies; most common template = the copy with its item's title taken out "
             "({title}): a tuned generator that writes one phrase for every item shows a large share here; '{title}' "
             "alone is the item title shown where no usable copy came out.")
    return {"rows": rows, "notes": notes}


def _health(ctx: StageContext) -> dict[str, Any] | None:
    if not ctx.has("reward"):
        return None
    from reward_models.health import read_health

    return read_health(ctx.dir("reward") / "model")


def _verdict(ctx: StageContext) -> dict[str, Any]:
    if ctx.config.data.logs:
        return _verdict_on_logs(ctx)
    ab = ctx.summary("ab") if ctx.has("ab") else None
    ev = (ctx.summary("generation").get("evaluation") or {}).get("tuned") if ctx.has("generation") else None
    over = None
    if ev and ev.get("over_limit_rate") is not None:
        over = int(round(ev["over_limit_rate"] * ev["n_copies"]))
    reason = "" if ab else _missing(ctx, "ab")["unavailable"]
    cfg = ctx.config.ab
    ab_in = None if ab is None else {"primary_metric": cfg.primary_metric, "metrics": ab["metrics"]}
    compliance = None
    if ev and ev.get("misleading_rate_raw") is not None and ev.get("compliance_changed") is not None:
        compliance = {"misleading_rate_raw": ev["misleading_rate_raw"], "changed": ev["compliance_changed"],
                      "n_copies": ev["n_copies"]}
    unbacked = _unbacked(ctx)
    verdict = decide(ab_in, misleading_rate=(ev or {}).get("misleading_rate"), over_limit=over, alpha=cfg.alpha,
                     max_misleading_rate=cfg.max_misleading_rate, unavailable_reason=reason, compliance=compliance,
                     unbacked=unbacked, max_unbacked_rate=cfg.max_unbacked_rate)
    numbers = {}
    if ab:  # the three numbers the decision reads: the primary lift, then its two guards
        shown = [(cfg.primary_metric, "primary")]
        if cfg.primary_metric != "ctr":
            shown.append(("ctr", "guard: not significantly down"))
        for name, role in shown:
            if m := ab["metrics"].get(name):
                numbers[f"A/B {name} tuned vs base ({role})"] = _ab_number(m)
    if ev and ev.get("misleading_rate") is not None:
        numbers[f"misleading-claim rate of the shown tuned copy (guard: at most {cfg.max_misleading_rate:.0%})"] = (
            f"{ev['misleading_rate']:.1%} of {ev.get('n_copies')} copies"
            + (f"; over the character limit: {over}" if over else ""))
    if unbacked:
        numbers[_unbacked_label(cfg.max_unbacked_rate)] = _unbacked_number(unbacked)
    for block, key, label in (("logged_truth", "tuned / mean_logged", "true CTR tuned / mean logged copy"),
                              ("logged_truth", "tuned / best_logged", "true CTR tuned / best logged copy"),
                              ("logged_truth_purchase", "tuned / mean_logged",
                               "true purchase rate tuned / mean logged copy")):
        r = ((ctx.summary("generation").get(block) or {}).get("ratios") or {}).get(key)
        if r:
            numbers[label + " (context)"] = f"{r['ratio']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
    return {"decision": verdict.decision, "reason": verdict.reason, "sentence": verdict.sentence(),
            "numbers": numbers}


def _unbacked(ctx: StageContext) -> dict[str, Any] | None:
    """The shown tuned copy's unbacked-claim share and top claims (the copy checks), None when not measured."""
    tuned = ((ctx.summary("generation") if ctx.has("generation") else {}).get("copy_checks") or {}).get("tuned")
    if not tuned or tuned.get("unbacked_claim") is None:
        return None
    return {"rate": tuned["unbacked_claim"], "top": tuned.get("unbacked_top") or {}, "n_copies": tuned.get("copies")}


def _unbacked_label(limit: float) -> str:
    return f"unbacked-claim rate of the shown tuned copy (guard: at most {limit:.0%})"


def _unbacked_number(unbacked: dict[str, Any]) -> str:
    top = claim_counts_text(unbacked["top"])
    return f"{unbacked['rate']:.1%} of {unbacked.get('n_copies')} copies" + (f"; most: {top}" if top else "")


def _ab_number(m: dict[str, Any]) -> str:
    """One A/B metric as the verdict's table shows it; a NaN relative lift says why."""
    rel = m["relative_lift"]
    if rel is None or _is_nan(rel):
        rel_text = "relative lift n/a" + (" (the base arm's rate is 0)" if m["control"] == 0 else "")
    else:
        rel_text = f"{rel:+.1%} relative"
    return (f"{rel_text} (diff {m['diff']:+.3g}, 95% CI [{m['ci_low']:+.3g}, {m['ci_high']:+.3g}], "
            f"p={m['pvalue']:.3g})")


def _verdict_on_logs(ctx: StageContext) -> dict[str, Any]:
    """The verdict on the user's logs: the reward model's predicted lift over the logged copy."""
    g = ctx.summary("generation") if ctx.has("generation") else {}
    predicted = g.get("predicted") or {}
    lift = predicted.get("lift")
    best = None
    if lift and (r := predicted["ratios"].get("tuned / best_logged")):
        best = {"lift": r["ratio"] - 1, "low": r["low"] - 1, "high": r["high"] - 1}
    reason = "" if lift else (g.get("predicted_note") or _missing(ctx, "generation")["unavailable"])
    health = _health(ctx)
    unbacked = _unbacked(ctx)
    verdict = decide_predicted(lift, health, best=best, unavailable_reason=reason, unbacked=unbacked,
                               max_unbacked_rate=ctx.config.ab.max_unbacked_rate)
    numbers = {}
    if lift and lift.get("lift") is not None:
        numbers["predicted CTR lift over your mean logged copy"] = (
            f"{lift['lift']:+.1%} [{lift['low']:+.1%}, {lift['high']:+.1%}]")
        if best:
            numbers["predicted CTR lift over your best logged copy"] = (
                f"{best['lift']:+.1%} [{best['low']:+.1%}, {best['high']:+.1%}]")
        numbers["A/B impressions per arm to confirm"] = lift.get("ab_sample_size_per_arm") or "n/a (no positive lift)"
    if unbacked:
        numbers[_unbacked_label(ctx.config.ab.max_unbacked_rate)] = _unbacked_number(unbacked)
    if health:
        numbers["reward model health"] = (f"{health.get('status')} (held-out click AUC {health.get('auc', float('nan')):.3f})")
    return {"decision": verdict.decision, "reason": verdict.reason, "sentence": verdict.sentence(),
            "numbers": numbers}


#: Per section: its stage, and what of the data it used (simulated data, the user's logs).
_USES = {
    "data": ("data", "simulated impressions, split by time", "your rows, validated and split by time"),
    "reward": ("reward", "trained on the train split, scored on the held-out split",
               "trained on your train split, scored on your held-out split"),
    "tuning": ("tuning", "preference pairs / rewards from the train split", "pairs / rewards from your train split"),
    "overopt": ("generation", "copy scored by the reward model (proxy) and the market's oracle (truth)",
                "copy scored by the reward model"),
    "logged": ("generation", "the oracle's truth for the same contexts", "the reward model's predictions, not outcomes"),
    "ab": ("ab", "simulated shoppers of this market", "no A/B is possible without a simulator"),
    "bandit": ("bandit", "online simulation of this market, oracle regret",
               "replayed over your logged rounds, no simulator"),
    "ope": ("ope", "held-out simulated logs, oracle truth for the evaluated policy", "your held-out rows, no truth"),
    "samples": ("generation", "the market's catalog", "your catalog"),
}


def _source_label(source: str, market: str) -> str:
    """``data_source`` with the packaged market named as such (``rlopt/market/default.toml``)."""
    if market == "default" and source == "simulated market default":
        return "packaged simulated market 'default' (rlopt/market/default.toml)"
    return source


def _with_sources(ctx: StageContext, sections: dict[str, Any]) -> dict[str, Any]:
    """Each section says which data it used: its stage's ``data_source`` (``"your logs (...)"``,
    ``"simulated market <name>"``, or the packaged market), the run's data when the stage does not
    record one, and what of it the section used (:data:`_USES`); the verdict's numbers too."""
    run_source = data_source(ctx.config)
    on_logs = bool(ctx.config.data.logs)
    for key, (stage, simulated, logs) in _USES.items():
        body = sections.get(key)
        if isinstance(body, dict):
            source = _source_label(ctx.summary(stage).get("data_source") or run_source, ctx.config.data.market)
            body["data_source"] = f"{source}; {logs if on_logs else simulated}"
    if isinstance(sections.get("verdict"), dict):
        sections["verdict"]["data_source"] = _source_label(run_source, ctx.config.data.market)
    return sections


def stage_report(ctx: StageContext) -> dict[str, Any]:
    """Write ``report.html`` (self-contained), ``report.md`` and ``figures/*.png``."""
    cfg = ctx.config
    stages = [{"name": name, "status": r.status, "wall_s": r.compute_wall_s, "reason": r.reason}
              for name, r in ctx.upstream.items()]
    data = {
        "title": cfg.report.title, "run_name": cfg.run.name, "config": cfg.source, "seed": cfg.run.seed,
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "stages": stages,
        "data": _data_section(ctx), "reward": _reward_section(ctx), "tuning": _tuning_section(ctx),
        "overopt": _overopt_section(ctx), "ab": _ab_section(ctx), "bandit": _bandit_section(ctx),
        "ope": _ope_section(ctx), "samples": _samples_section(ctx, cfg.report.examples_per_cell),
        "logged": _logged_section(ctx), "verdict": _verdict(ctx),
    }
    _with_sources(ctx, data)
    paths = write_report(data, ctx.work_dir)
    return {"verdict": data["verdict"], "files": sorted(str(p.relative_to(ctx.work_dir)) for p in paths.values()),
            "missing": sorted(k for k, v in data.items() if isinstance(v, dict) and "unavailable" in v)}
