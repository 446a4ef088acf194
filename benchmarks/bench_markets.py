"""Foreign markets: what rlopt learns from three shops whose truth it did not write (issue 19 item 7).

Markets (each imports nothing from rlopt and keeps a truth that grades any copy in a context):

- ``small_shop`` (``experiments/markets/small_shop.py``): 3,000 training and 1,500 later holdout
  impressions of a hand-written shop, copy templates with known click multipliers;
- ``bazaar`` (``experiments/markets/bazaar.py``): an additive shop simulator, ``impressions`` logged,
  the latest ``holdout_fraction`` held out;
- ``atelier`` (``experiments/markets/atelier.py``): a shop whose truth is not additive in text
  features (diminishing returns of discount talk, template fatigue over each shopper's history,
  segment-specific voice), split the same way.

For each market, with rlopt's public API only, on the training logs:

1. **Reward model** (:func:`reward_models.train_reward_model`, the ``rlopt reward train`` defaults):
   holdout click AUC of the saved scorer, of the hashed n-gram baseline fitted beside it
   (:mod:`reward_models.baseline`) and of the market's truth used as a scorer on the same rows (the
   *oracle*; on atelier with each shopper's fatigue, and without it: ``oracle_fresh``), and the
   health verdict.
2. **Copy**: ``contexts`` seeded (item, segment, placement) contexts drawn from the holdout, ``num``
   copies each from the base generator and from the generator tuned with quick DPO
   (:func:`rlopt.tuning.tune_generator`, ``auto_relax`` on so a small log still gives pairs),
   sampled with :func:`rlopt.generation.generate_copies` (segment names only, as a foreign shop
   gives no descriptions).
3. **Grading by the market's truth** (first slot, a fresh shopper): true P(click) and
   P(purchase) per impression of each generator's copies against the shop's mean logged copy
   (weighted by how often it was shown) and its best logged copy per context
   (:mod:`rlopt.pipeline.logged_compare`, with the truth as the scorer), ratios with paired
   bootstrap intervals over contexts.
   Optional extra rows (off by default): ``base + few-shot`` and ``tuned + few-shot`` (the base and
   the DPO-tuned generator prompted with each context's ``--few-shot K`` best logged copies of the
   training logs, ``[generation] few_shot``), ``tuned + best-of-n`` and ``tuned + few-shot + best-of-n``
   (each shown copy the best of ``--best-of N`` samples by the reward model, examples repeated
   verbatim never shown) and ``grpo`` (quick GRPO against the reward model + guards, from the base
   or the DPO-tuned generator, ``--grpo base|dpo``; the CLI's health gate first; with
   ``--few-shot K`` also ``grpo + few-shot``; ``--grpo-seeds N`` trains it with N training seeds and
   grades each, ``grpo_seed_spread`` the ratios' spread). With ``--resample N`` (default 2) a copy that would fall back to the
   item title is sampled again; each row's ``(no resample)`` twin shows the title there instead
   (the same run's first-round samples). ``proxy_p_click``: the reward model's mean P(click) of
   each row's copies, beside the truth (what GRPO optimizes against what it gets).
4. **Copy quality**: defect rates (:mod:`rlopt.generation.quality`; ``incomplete`` among them) of
   the shown copy, and the misleading-discount rate (:func:`rlopt.generation.is_misleading`, list
   price known) of the shown copy and of what the model wrote before the repairs; ``diversity``
   (:mod:`rlopt.generation.diversity`): distinct copies, and the share of the most common template
   (the copy with its item's title taken out) — a generator that writes one phrase everywhere;
   ``unbacked_claim``: the share stating a claim (a number, or a fact phrase such as "loved by" or
   "free shipping") that neither the item's catalog row nor its logged training copy contains
   (:mod:`rlopt.generation.claims`), and ``unbacked_top``: the claims most often made up.
   ``quality_logged``: the same rules on the shop's own logged copy (per distinct copy and per
   impression), the rules' false-positive check.

Targets (issue 19) are recorded next to each number (``targets``); nothing is tuned to meet them.
Timings are wall seconds on a shared machine; the load average is recorded with them.

Run (one market at a time on a small machine; other markets already in ``--out`` are kept)::

    nice -n 10 python -m benchmarks.bench_markets --markets atelier
    python -m benchmarks.bench_markets --help

writes ``benchmarks/results/markets.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.machine import cpu_label

RESULTS = Path(__file__).parent / "results" / "markets.json"
MARKETS = ("small_shop", "bazaar", "atelier")
SMALL_SHOP_MAX_CHARS = 120  # the small shop has no character limits of its own


@dataclass
class Args:
    markets: tuple[str, ...] = MARKETS
    """Markets to run (small_shop, bazaar, atelier); others already in --out are kept."""
    impressions: int = 60_000
    """Impressions simulated for bazaar and atelier (the latest holdout_fraction held out)."""
    holdout_fraction: float = 0.2
    """Latest share of bazaar's and atelier's logs held out."""
    small_impressions: int = 3_000
    """The small shop's training impressions."""
    small_holdout: int = 1_500
    """The small shop's later holdout impressions."""
    contexts: int = 60
    """Generation contexts per market (seeded draw from the holdout's item x segment x placement)."""
    num: int = 2
    """Copies per context and generator."""
    generator: str = "default"
    """Base generator (default: SmolLM2-135M-Instruct; a local directory for smoke tests)."""
    encoder: str = "default"
    """Reward-model text encoder (default: the packaged MiniLM; a local directory for smoke tests)."""
    preset: str = "quick"
    """DPO preset."""
    dpo_steps: int | None = None
    """DPO steps (unset: the preset's)."""
    dpo_min_pairs: int | None = None
    """DPO's min_pairs (unset: the config's); only tiny smoke-test logs need it lower."""
    best_of: int = 1
    """With n > 1, also a "tuned + best-of-n" row: each shown copy the best of n tuned samples by the
    reward model (rlopt.generation.rerank.best_of_n, rerank_metric)."""
    rerank_metric: str = "reward"
    """Reward-model output best-of-n maximizes (reward, p_click, p_purchase, expected_revenue)."""
    claim_check: bool = True
    """Reject generated copy stating a claim (number or fact phrase) its item's catalog row and training-log copy do not back
    (rlopt.generation.claims, as [generation] claim_check); it is sampled again with --resample."""
    few_shot: int = 0
    """With k > 0, also "base + few-shot" and "tuned + few-shot" rows (and "tuned + few-shot + best-of-n"
    with --best-of, "grpo + few-shot" with --grpo): the generator prompted with each context's k best logged copies of the training logs
    by the reward model's P(click) (rlopt.generation.fewshot.add_examples, as [generation] few_shot)."""
    reward_max_epochs: int | None = None
    """Reward-model epochs cap (unset: TrainConfig's)."""
    resample: int = 2
    """Rounds of fresh samples for the copies that would fall back to the item title (generate_copies'
    resample; 0: the title at once). Each generator row then also gets a "<row> (no resample)" row: the
    same copies with the title where a resample was kept, i.e. what resample=0 shows."""
    grpo: str = "off"
    """A "grpo" row (quick GRPO against the market's reward model + guards, rlopt.tuning.tune_generator):
    "off", "base" (from the base generator) or "dpo" (from the DPO-tuned generator)."""
    grpo_steps: int | None = None
    """GRPO steps (unset: the preset's)."""
    grpo_seeds: int = 1
    """With n > 1, GRPO is trained n times (training seeds seed, seed+1, ...; the same contexts and sampling
    seed) and rows "grpo (seed +k)" (and "grpo + few-shot (seed +k)") are graded beside "grpo", with the
    spread of their ratios to the mean logged copy in ``grpo_seed_spread``: one GRPO run's ratio is one draw."""
    reward_only: bool = False
    """Only the reward-model stage: each market's ``reward_model`` section (and its targets) is replaced,
    the generation sections already in --out are kept as they were measured."""
    seed: int = 0
    """Seed of the markets, the context draw, training and sampling."""
    work: Path | None = None
    """Where models and copies go (kept); default: a temporary directory, removed afterwards. A DPO run
    already in <work>/<market>/dpo is resumed (tune_generator's rule): use a fresh folder after
    changing a market or a setting."""
    out: Path = RESULTS
    """Results JSON."""


@dataclass
class Market:
    """One foreign market as rlopt sees it (validated contract frames) plus its truth."""

    name: str
    catalog: pd.DataFrame
    train: pd.DataFrame
    holdout: pd.DataFrame
    placements: dict[str, Any]
    truth: Callable[[pd.DataFrame], pd.DataFrame]  # rows -> + p_click, p_purchase (first slot, fresh shopper)
    oracle_holdout: pd.DataFrame  # p_click, p_purchase of each holdout row as simulated
    oracle_fresh_holdout: pd.DataFrame | None = None  # the same without the shoppers' history (atelier)


def _read(sim: Path, logs_name: str, catalog_name: str, placements: Path):
    """The shop's files read and validated as ``rlopt validate`` does."""
    from rlopt.data import read_catalog, read_logs, read_placements

    catalog = read_catalog(sim / catalog_name)
    places = read_placements(placements)
    return catalog, read_logs(sim / logs_name, catalog, places), places


def _split(logs: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    from rlopt.data.split import split_logs

    train, holdout = split_logs(logs, holdout_fraction=fraction)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def load_small_shop(args: Args, tmp: Path) -> Market:
    from experiments.markets.small_shop import PLACEMENTS, make_small_shop

    shop = make_small_shop(args.small_impressions, args.small_holdout, seed=args.seed)
    sim = shop.write(tmp / "small_shop")
    (sim / "placements.json").write_text(json.dumps(
        {p: {"max_chars": SMALL_SHOP_MAX_CHARS, "slots": len(exam), "examination": list(exam)}
         for p, (exam, _) in PLACEMENTS.items()}))
    catalog, train, places = _read(sim, "train.csv", "catalog.csv", sim / "placements.json")
    _, holdout, _ = _read(sim, "holdout.csv", "catalog.csv", sim / "placements.json")
    truth = shop.truth()
    oracle = truth.evaluate(holdout)
    return Market("small_shop", catalog, train, holdout, places, truth.evaluate, oracle)


def load_bazaar(args: Args, tmp: Path) -> Market:
    from experiments.markets import bazaar

    sim = bazaar.simulate(tmp / "bazaar", args.impressions, seed=args.seed)
    catalog, logs, places = _read(sim, "train.parquet", "catalog.parquet", sim / "placements.json")
    train, holdout = _split(logs, args.holdout_fraction)
    truth = bazaar.Truth.from_dir(sim)
    return Market("bazaar", catalog, train, holdout, places, truth.evaluate, truth.evaluate(holdout))


def load_atelier(args: Args, tmp: Path) -> Market:
    from experiments.markets import atelier

    sim = atelier.simulate(tmp / "atelier", args.impressions, seed=args.seed)
    catalog, logs, places = _read(sim, "train.parquet", "catalog.parquet", sim / "placements.json")
    train, holdout = _split(logs, args.holdout_fraction)
    truth = atelier.Truth.from_dir(sim)
    # the shoppers' fatigue comes from their whole history, training rows included
    full = pd.concat([train, holdout], ignore_index=True)
    graded = truth.evaluate_logs(full).iloc[len(train):].reset_index(drop=True)
    return Market("atelier", catalog, train, holdout, places, truth.evaluate, graded, truth.evaluate(holdout))


LOADERS = {"small_shop": load_small_shop, "bazaar": load_bazaar, "atelier": load_atelier}
# The DPO-tuned generator's rows that issue 19's generator targets are checked on (when measured).
TUNED_ROUTES = ("tuned", "tuned + few-shot", "tuned + best-of-n", "tuned + few-shot + best-of-n")
#: The GRPO-tuned generator, plain and prompted with the same logged-copy examples as ``tuned + few-shot``.
GRPO_ROUTES = ("grpo", "grpo + few-shot")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def reward_model_case(market: Market, args: Args, out: Path) -> tuple[dict[str, Any], Any]:
    """Train the reward model on the market's training logs; AUCs on the holdout beside the oracle's."""
    from reward_models import train_reward_model
    from reward_models.evaluate import prediction_metrics

    overrides: dict[str, Any] = {"encoder": args.encoder}
    if args.reward_max_epochs is not None:
        overrides["max_epochs"] = args.reward_max_epochs
    start, load = time.perf_counter(), _load()
    model = train_reward_model(market.train, market.catalog, holdout=market.holdout, seed=args.seed,
                               progress=False, **overrides)
    model.save_pretrained(out)
    metrics = model.config["metrics"]
    y_click, y_buy = market.holdout["clicked"].to_numpy(), market.holdout["converted"].to_numpy()

    def oracle(frame: pd.DataFrame) -> dict[str, float]:
        m = prediction_metrics(y_click, y_buy, frame["p_click"].to_numpy(), frame["p_purchase"].to_numpy())
        return {k: float(m[k]) for k in ("click_auc", "click_logloss", "purchase_auc", "purchase_logloss")}

    keys = ("click_auc", "click_logloss", "purchase_auc", "purchase_logloss")
    # The fixed reference: hashed uni+bigram logistic regression with segment and placement
    # crosses, C chosen on the latest 15% of the training logs (it does not move with rlopt's baseline).
    from reward_models.baseline import HashedNgramBaseline
    from reward_models.train import time_split

    early, late = time_split(market.train, 0.15)
    reference = HashedNgramBaseline.fit_tuned(early, late, market.catalog, crosses=True, seed=args.seed)[0]
    ref_click, ref_buy = reference.predict(market.holdout, market.catalog)
    ref = prediction_metrics(y_click, y_buy, ref_click, ref_buy)
    selection = metrics.get("scorer_selection", {})
    case = {"n_train": len(market.train), "n_holdout": len(market.holdout),
            "saved": {k: float(metrics["holdout"][k]) for k in keys},
            "baseline": {k: float(metrics["holdout_baseline"][k]) for k in keys},
            "reference_baseline": {k: float(ref[k]) for k in keys},
            "components": {c: {k: float(metrics[f"holdout_{c}"][k]) for k in keys}
                           for c in ("encoder", "baseline", "blend") if f"holdout_{c}" in metrics},
            "scorer_cv_logloss": selection.get("cv_logloss"), "scorer_excess": selection.get("excess"),
            "train_config": {k: model.config.get(k) for k in ("exposure_window", "baseline_blocks", "max_epochs")},
            "machine": cpu_label(), "cpu_count": os.cpu_count(),
            "oracle": oracle(market.oracle_holdout), "scorer": metrics.get("scorer"),
            "health": model.config["health"], "wall_s": round(time.perf_counter() - start, 1),
            "load_avg_1m": [load, _load()]}
    if market.oracle_fresh_holdout is not None:
        case["oracle_fresh"] = oracle(market.oracle_fresh_holdout)
    case["click_auc_over_oracle"] = case["saved"]["click_auc"] / case["oracle"]["click_auc"]
    case["click_auc_minus_baseline"] = case["saved"]["click_auc"] - case["baseline"]["click_auc"]
    case["click_auc_minus_reference"] = case["saved"]["click_auc"] - case["reference_baseline"]["click_auc"]
    return case, model


def draw_contexts(market: Market, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct (item, segment, placement) contexts of the holdout, seeded, in a stable order."""
    seen = market.holdout[["item_id", "segment", "placement"]].astype(str).drop_duplicates()
    seen = seen.sort_values(["item_id", "segment", "placement"]).reset_index(drop=True)
    pick = np.random.default_rng(seed).choice(len(seen), size=min(n, len(seen)), replace=False)
    return seen.iloc[np.sort(pick)].reset_index(drop=True)


def generate(spec: str, name: str, market: Market, contexts: pd.DataFrame, args: Args,
             scorer: Callable[[pd.DataFrame], np.ndarray] | None = None) -> tuple[pd.DataFrame, dict]:
    """``num`` copies per context from generator ``spec`` (each the best of ``args.best_of`` by
    ``scorer`` when one is given); the copies and the wall time."""
    from rlopt.generation import generate_copies, resolve_generator
    from rlopt.generation.claims import ClaimSupport
    from rlopt.generation.rerank import best_of_n

    start, load = time.perf_counter(), _load()
    # as [generation] claim_check: the catalog and the shop's (training) logged copy back a shown claim
    support = ClaimSupport(market.catalog, market.train) if args.claim_check else None
    model, tokenizer = resolve_generator(spec, device="cpu")
    if scorer is None:
        copies = generate_copies(model, tokenizer, contexts, market.catalog, market.placements, {}, num=args.num,
                                 seed=args.seed, generator_name=name, resample=args.resample, claim_support=support)
    else:
        copies = best_of_n(model, tokenizer, contexts, market.catalog, market.placements, {}, n=args.best_of,
                           scorer=scorer, num=args.num, seed=args.seed, generator_name=name, claim_support=support)
    del model
    timing = {"wall_s": round(time.perf_counter() - start, 1), "load_avg_1m": [load, _load()]}
    if "examples" in copies.columns:
        from rlopt.generation.fewshot import verbatim_rate

        timing["verbatim_rate"] = verbatim_rate(copies)
    if "rerank" in copies.attrs:
        timing["rerank"] = dict(copies.attrs["rerank"])
    if "resample" in copies.attrs:
        timing["resample"] = dict(copies.attrs["resample"])
    return copies, timing


def without_resample(copies: pd.DataFrame, market: Market) -> pd.DataFrame:
    """``copies`` as ``resample=0`` shows them: the item title where a resampled copy was kept.

    The first round's samples do not depend on ``resample`` (same seed), so this is the same-run
    counterfactual of the resampling."""
    from rlopt.generation.postprocess import cap_length
    from rlopt.generation.prompts import max_chars_for

    out = copies.copy()
    redo = out["resample_round"].to_numpy() > 0 if "resample_round" in out.columns else np.zeros(len(out), bool)
    titles = market.catalog.set_index(market.catalog["item_id"].astype(str))["title"]
    out.loc[redo, "copy_text"] = [cap_length(str(titles[str(i)]), max_chars_for(market.placements, p))
                                  for i, p in zip(out.loc[redo, "item_id"], out.loc[redo, "placement"], strict=True)]
    out.loc[redo, "title_fallback"] = True
    out.attrs = {k: v for k, v in copies.attrs.items() if k != "resample"}
    out.attrs["title_fallbacks"] = int(out["title_fallback"].sum()) if "title_fallback" in out.columns else 0
    return out


def tune_grpo(market: Market, args: Args, out: Path, reward_dir: Path, start_from: str,
              seed: int | None = None) -> dict[str, Any]:
    """Quick GRPO from ``start_from`` against the market's reward model (the CLI's health gate first);
    ``seed``: the training seed (default ``args.seed``)."""
    from reward_models.health import require_usable
    from rlopt.tuning import tune_generator

    require_usable(reward_dir)  # as `rlopt tune --method grpo`: a no_signal reward model stops here (InputError)
    start, load = time.perf_counter(), _load()
    summary = tune_generator("grpo", logs=market.train, catalog=market.catalog, out=out, reward_model=str(reward_dir),
                             generator=start_from, placements=market.placements, segments={}, preset=args.preset,
                             max_steps=args.grpo_steps, seed=args.seed if seed is None else seed)
    metrics = summary.get("metrics", {})
    case = {"from": args.grpo, "wall_s": round(time.perf_counter() - start, 1), "load_avg_1m": [load, _load()],
            "steps": summary.get("steps"), "train_loss": metrics.get("train_loss"),
            "rewards": summary.get("data", {}).get("rewards"),
            "reward_weights": summary.get("data", {}).get("reward_weights")}
    curves = out / "curves.csv"
    if curves.is_file():  # the reward terms early and late in training: which term rose, which fell
        frame = pd.read_csv(curves)
        cols = [c for c in frame.columns if c.startswith("reward")]
        if cols and len(frame):
            k = max(1, len(frame) // 5)
            case["reward_terms_first_fifth"] = {c: float(frame[c].head(k).mean()) for c in cols}
            case["reward_terms_last_fifth"] = {c: float(frame[c].tail(k).mean()) for c in cols}
    return case


def seed_spread(graded: dict[str, Any], seeds: int) -> dict[str, Any]:
    """Per GRPO route, its CTR and purchase ratios to the mean logged copy over the training seeds
    (``grpo``, ``grpo (seed +1)``, ...): each value, their mean, min and max."""
    out: dict[str, Any] = {}
    for route in GRPO_ROUTES:
        rows = [route] + [f"{route} (seed +{k})" for k in range(1, seeds)]
        if not all(r in graded["ctr"]["means"] for r in rows):
            continue
        out[route] = {}
        for metric in ("ctr", "purchase"):
            values = [graded[metric]["ratios"][f"{r} / mean_logged"]["ratio"] for r in rows]
            out[route][metric] = {"ratios": values, "mean": float(np.mean(values)), "min": float(min(values)),
                                  "max": float(max(values))}
    return out


def proxy_means(copies: dict[str, pd.DataFrame], reward_model: Any, catalog: pd.DataFrame) -> dict[str, float]:
    """Mean reward-model P(click) of each row's shown copies (the proxy GRPO optimizes, beside the truth)."""
    from rlopt.generation.rerank import reward_model_scorer

    score = reward_model_scorer(reward_model, catalog, "p_click")
    return {name: float(np.mean(score(frame))) for name, frame in copies.items() if len(frame)}


def tune_dpo(market: Market, args: Args, out: Path) -> dict[str, Any]:
    """Quick DPO on the market's training logs (pairs mined from the logs); the tuning summary."""
    from rlopt.tuning import tune_generator

    start, load = time.perf_counter(), _load()
    summary = tune_generator("dpo", logs=market.train, catalog=market.catalog, out=out, generator=args.generator,
                             placements=market.placements, segments={}, preset=args.preset,
                             max_steps=args.dpo_steps, seed=args.seed, auto_relax=True,
                             **({} if args.dpo_min_pairs is None else {"min_pairs": args.dpo_min_pairs}))
    data = summary.get("data", {})
    config = summary.get("config", {})
    return {"wall_s": round(time.perf_counter() - start, 1), "load_avg_1m": [load, _load()],
            "steps": summary.get("steps"), "train_loss": summary.get("metrics", {}).get("train_loss"),
            **{k: data.get(k) for k in ("pairs", "train_pairs", "train_pairs_honesty", "pair_groups",
                                         "mean_pair_confidence", "mean_pair_gain")},
            # auto_relax may have lowered these: the values the pairs were mined with
            **{k: config.get(k) for k in ("min_confidence", "value_metric", "learning_rate", "max_steps")}}


def _verbatim_share(copies: pd.DataFrame) -> float | None:
    """Share of shown copies that repeat one of their prompt's few-shot examples (None: no examples)."""
    from rlopt.generation.fewshot import verbatim_rate

    rate = verbatim_rate(copies) if "examples" in copies.columns else float("nan")
    return None if np.isnan(rate) else rate


def copy_quality(copies: pd.DataFrame, catalog: pd.DataFrame, support: Any = None) -> dict[str, Any]:
    """Defect rates of the shown copy; misleading-discount rates of the shown and the written copy; its
    diversity (rlopt.generation.diversity: distinct copies, the most common template's share); with
    ``support`` (rlopt.generation.claims.ClaimSupport), the share stating a claim the item's facts and
    logged copy do not back, and the claims most often made up. The rules are ``rlopt check``'s
    (rlopt.generation.checks), so these numbers are the ones the report and the command show."""
    from rlopt.generation.checks import check_copies, checks_summary
    from rlopt.generation.diversity import DIVERSITY_KEYS

    shown = checks_summary(check_copies(copies, catalog, support), catalog, top=5)
    written = check_copies(copies.assign(copy_text=copies["raw_copy_text"]), catalog)["misleading"].map(bool)
    return {"defects": {**shown["defects"], "any": shown["any_defect"], "n": shown["copies"]},
            "misleading": shown["misleading"],
            "misleading_written": float(written.mean()) if len(written) else float("nan"),
            "title_fallback_share": float(copies.attrs.get("title_fallbacks", 0)) / max(len(copies), 1),
            # few-shot rows: shown copies that repeat one of their prompt's logged examples
            "verbatim_example_share": _verbatim_share(copies),
            "unbacked_claim": shown["unbacked_claim"],
            "unbacked_top": shown["unbacked_top"] if support is not None else None,
            "compliance": dict(copies.attrs.get("compliance", {})), "quality": dict(copies.attrs.get("quality", {})),
            # collapse onto one phrase ("<title> - Loved by 10,000+ shoppers" everywhere) shows here
            "diversity": {k: shown[k] for k in DIVERSITY_KEYS if k in shown}}


def logged_quality(market: Market) -> dict[str, Any]:
    """Defect and misleading-claim rates of the shop's own logged copy (the rules' false-positive check):
    per distinct (item, copy) and per impression; and the share of the shop's *held-out* distinct copy
    stating a claim its catalog row and training-log copy do not back (the claim rule's false positives
    on copy the shop wrote later: the rule cannot know a true claim it was never shown)."""
    from rlopt.generation.checks import check_copies, checks_summary
    from rlopt.generation.claims import ClaimSupport
    from rlopt.generation.compliance import price_terms
    from rlopt.generation.quality import defect_frame

    shown = market.train[["item_id", "copy_text"]].astype(str).value_counts().rename("n").reset_index()
    flags = defect_frame(shown["copy_text"])
    flags["any"] = flags.any(axis=1)
    terms = price_terms(market.catalog)
    flags["misleading"] = [terms[i].misleading(t) for i, t in zip(shown["item_id"], shown["copy_text"], strict=True)]
    w = shown["n"].to_numpy(float)
    later = market.holdout[["item_id", "copy_text"]].astype(str).drop_duplicates()
    held_out = checks_summary(check_copies(later, market.catalog, ClaimSupport(market.catalog, market.train)),
                              market.catalog, top=5)
    return {"distinct_copies": len(shown), "impressions": int(w.sum()),
            "holdout_unbacked_claim": held_out["unbacked_claim"], "holdout_unbacked_top": held_out["unbacked_top"],
            "per_copy": {c: float(flags[c].mean()) for c in flags.columns},
            "per_impression": {c: float((flags[c].to_numpy(float) * w).sum() / w.sum()) for c in flags.columns}}


def grade(market: Market, copies: dict[str, pd.DataFrame], contexts: pd.DataFrame, seed: int) -> dict[str, Any]:
    """True P(click) and P(purchase) per impression of each generator's copies against the shop's
    mean and best logged copy for the same contexts (:mod:`rlopt.pipeline.logged_compare`)."""
    from rlopt.pipeline.logged_compare import compare, context_values, logged_options
    from rlopt.tuning.evaluate import paired_ratio

    options = logged_options(market.train, contexts)
    out = {}
    for metric in ("p_click", "p_purchase"):
        def score(frame: pd.DataFrame, metric: str = metric) -> np.ndarray:
            return market.truth(frame.reset_index(drop=True))[metric].to_numpy()

        values = context_values(copies, options, score)
        result = compare(values, seed)
        frames = {c: values[[c]].rename(columns={c: "v"}).reset_index() for c in values.columns}
        for name in copies:  # every generator (extra rows too) against base and the logged copy
            for den in ("base", "mean_logged", "best_logged"):
                key = f"{name} / {den}"
                if name != den and key not in result["ratios"] and den in frames and len(values):
                    result["ratios"][key] = paired_ratio(frames[den], frames[name], "v", seed=seed)
        out["ctr" if metric == "p_click" else "purchase"] = result
    return out


def targets(case: dict[str, Any]) -> dict[str, Any]:
    """Issue 19's targets against this market's numbers: ``{name: {value, target, met}}``."""
    rm, t = case["reward_model"], {}
    big = rm["n_train"] + rm["n_holdout"] >= 50_000
    if big:
        t["rm_click_auc / oracle >= 0.97"] = {"value": rm["click_auc_over_oracle"], "met": rm["click_auc_over_oracle"] >= 0.97}
        t["rm_click_auc >= baseline"] = {"value": rm["click_auc_minus_baseline"], "met": rm["click_auc_minus_baseline"] >= 0}
        if "click_auc_minus_reference" in rm:  # the fixed n-gram + crosses baseline
            t["rm_click_auc >= reference baseline"] = {"value": rm["click_auc_minus_reference"],
                                                       "met": rm["click_auc_minus_reference"] >= 0}
    else:
        ok = rm["click_auc_minus_baseline"] >= 0 or rm["health"].get("status") != "ok"
        t["rm_click_auc >= baseline or health != ok"] = {"value": rm["click_auc_minus_baseline"],
                                                         "health": rm["health"].get("status"), "met": bool(ok)}
    graded = case.get("graded")
    # Every DPO route measured (plain, few-shot prompts, best-of-n): "base" is the untuned generator's
    # plain prompt, the "base model".
    routes = [r for r in TUNED_ROUTES if graded and r in graded["ctr"]["means"]]
    for route in routes:
        ctr, buy = graded["ctr"]["ratios"], graded["purchase"]["ratios"]
        for label, r, goal in ((f"{route} / base ctr >= 1.5", ctr[f"{route} / base"], 1.5),
                               (f"{route} / mean_logged ctr >= 1.0", ctr[f"{route} / mean_logged"], 1.0),
                               (f"{route} / mean_logged purchases >= 1.0", buy[f"{route} / mean_logged"], 1.0),
                               (f"stretch: {route} / best_logged ctr >= 1.0", ctr[f"{route} / best_logged"], 1.0)):
            t[label] = {"value": r["ratio"], "low": r["low"], "high": r["high"], "met": r["ratio"] >= goal}
    for route in [r for r in GRPO_ROUTES if graded and r in graded["ctr"]["means"]]:
        ctr = graded["ctr"]["ratios"]
        goals = [(f"{route} / base ctr >= 1.0", ctr[f"{route} / base"], 1.0)]
        if case.get("grpo", {}).get("from") == "dpo":
            goals.append((f"{route} (from dpo) / mean_logged ctr >= 1.0", ctr[f"{route} / mean_logged"], 1.0))
        for label, r, goal in goals:
            t[label] = {"value": r["ratio"], "low": r["low"], "high": r["high"], "met": r["ratio"] >= goal}
    return t


def run_market(name: str, args: Args, work: Path) -> dict[str, Any]:
    """Every stage on one market; the market's entry of the results file."""
    start = time.perf_counter()
    market = LOADERS[name](args, work / "data")
    case: dict[str, Any] = {"machine": cpu_label(), "cpu_count": os.cpu_count(),
                            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(args).items()
                                       if k not in ("out", "work")}}
    print(f"[{name}] reward model on {len(market.train)} impressions", flush=True)
    case["reward_model"], reward_model = reward_model_case(market, args, work / name / "reward_model")
    if args.reward_only:
        case["wall_s"] = round(time.perf_counter() - start, 1)
        return case
    contexts = draw_contexts(market, args.contexts, args.seed)
    case["contexts"], case["num"] = len(contexts), args.num
    print(f"[{name}] base generator on {len(contexts)} contexts x {args.num}", flush=True)
    copies, timing = {}, {}
    copies["base"], timing["generate_base"] = generate(args.generator, "base", market, contexts, args)
    shots = None
    if args.few_shot > 0:  # examples from the training logs only: the contexts come from the holdout
        from rlopt.generation.fewshot import add_examples
        from rlopt.generation.rerank import reward_model_scorer

        shots = add_examples(contexts, market.train, market.catalog, k=args.few_shot,
                             scorer=reward_model_scorer(reward_model, market.catalog, "p_click"))
        case["contexts_with_examples"] = int(sum(bool(e) for e in shots["examples"]))
        copies["base + few-shot"], timing["generate_base_few_shot"] = generate(
            args.generator, "base + few-shot", market, shots, args)
    print(f"[{name}] quick DPO", flush=True)
    from rlopt.errors import InputError

    try:
        case["dpo"] = tune_dpo(market, args, work / name / "dpo")
        copies["tuned"], timing["generate_tuned"] = generate(str(work / name / "dpo"), "tuned", market, contexts, args)
        from rlopt.generation.rerank import reward_model_scorer

        scorer = reward_model_scorer(reward_model, market.catalog, args.rerank_metric) if args.best_of > 1 else None
        if scorer is not None:
            copies["tuned + best-of-n"], timing["generate_tuned_best_of_n"] = generate(
                str(work / name / "dpo"), "tuned + best-of-n", market, contexts, args, scorer)
        if shots is not None:
            copies["tuned + few-shot"], timing["generate_tuned_few_shot"] = generate(
                str(work / name / "dpo"), "tuned + few-shot", market, shots, args)
            if scorer is not None:
                copies["tuned + few-shot + best-of-n"], timing["generate_tuned_few_shot_best_of_n"] = generate(
                    str(work / name / "dpo"), "tuned + few-shot + best-of-n", market, shots, args, scorer)
    except InputError as err:  # the logs could not give DPO its pairs: say so, grade the rest
        case["dpo"] = {"error": str(err)}
    if args.grpo != "off":
        print(f"[{name}] quick GRPO from {args.grpo}", flush=True)
        start_from = args.generator if args.grpo == "base" else str(work / name / "dpo")
        try:
            if args.grpo == "dpo" and "error" in case.get("dpo", {}):
                raise InputError("no DPO-tuned generator to start GRPO from (DPO failed: see 'dpo')")
            case["grpo"] = tune_grpo(market, args, work / name / "grpo", work / name / "reward_model", start_from)
            copies["grpo"], timing["generate_grpo"] = generate(str(work / name / "grpo"), "grpo", market, contexts, args)
            if shots is not None:
                copies["grpo + few-shot"], timing["generate_grpo_few_shot"] = generate(
                    str(work / name / "grpo"), "grpo + few-shot", market, shots, args)
        except InputError as err:  # the health gate (or no DPO) stopped it: say so, grade the rest
            case["grpo"] = {"from": args.grpo, "error": str(err)}
        for k in range(1, args.grpo_seeds if "grpo" in copies else 1):  # the same GRPO, other training seeds
            row, out = f"grpo (seed +{k})", work / name / f"grpo_seed{k}"
            print(f"[{name}] quick GRPO from {args.grpo}, training seed {args.seed + k}", flush=True)
            case.setdefault("grpo_other_seeds", {})[row] = tune_grpo(market, args, out, work / name / "reward_model",
                                                                     start_from, seed=args.seed + k)
            copies[row], timing[f"generate_grpo_seed{k}"] = generate(str(out), row, market, contexts, args)
            if shots is not None:
                copies[f"grpo + few-shot (seed +{k})"], timing[f"generate_grpo_few_shot_seed{k}"] = generate(
                    str(out), f"grpo + few-shot (seed +{k})", market, shots, args)
    if args.resample > 0:  # same run, same first-round samples: what showing the title at once would give
        for key in [k for k in copies if "resample_round" in copies[k].columns and "(seed +" not in k]:
            copies[f"{key} (no resample)"] = without_resample(copies[key], market)
    case["timing"] = timing
    print(f"[{name}] grading with the market's truth", flush=True)
    case["graded"] = grade(market, copies, contexts, args.seed)
    if "grpo_other_seeds" in case:
        case["grpo_seed_spread"] = seed_spread(case["graded"], args.grpo_seeds)
    case["proxy_p_click"] = proxy_means(copies, reward_model, market.catalog)
    case["quality_logged"] = logged_quality(market)
    from rlopt.generation.claims import ClaimSupport

    support = ClaimSupport(market.catalog, market.train)  # the training logs' copy backs a claim
    case["quality"] = {k: copy_quality(v, market.catalog, support) for k, v in copies.items()}
    case["samples"] = {k: v.drop_duplicates("copy_text")[["item_id", "segment", "placement", "copy_text"]]
                       .head(6).to_dict("records") for k, v in copies.items()}
    case["targets"] = targets(case)
    case["wall_s"] = round(time.perf_counter() - start, 1)
    for k, v in copies.items():
        v.to_json(work / name / f"copies_{k}.jsonl", orient="records", lines=True)
    return case


def main(args: Args) -> dict[str, Any]:
    from rlopt.io_utils import write_json_atomic

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    unknown = [m for m in args.markets if m not in LOADERS]
    if unknown:
        raise SystemExit(f"unknown market(s) {', '.join(unknown)}; valid: {', '.join(MARKETS)}")
    result: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="bench_markets_") as tmp:
        work = args.work or Path(tmp)
        for name in args.markets:
            (work / name).mkdir(parents=True, exist_ok=True)
            case = run_market(name, args, work)
            # re-read: another run may have written other markets (or sections) since this one started
            result = json.loads(args.out.read_text()) if args.out.is_file() else {}
            old = result.setdefault("markets", {}).get(name)
            if args.reward_only and old:  # keep the generation sections; the reward model is new
                old["reward_model"] = case["reward_model"]
                old["reward_model"]["config"] = case["config"]
                old["targets"] = targets(old)
                case = old
            result["markets"][name] = case
            write_json_atomic(args.out, result)  # after each market: a later failure keeps the earlier ones
            print(f"[{name}] done in {case.get('wall_s', case['reward_model']['wall_s'])} s -> {args.out}", flush=True)
    return result


if __name__ == "__main__":
    import tyro

    main(tyro.cli(Args))
