"""``rlopt ab``: a simulated A/B(/n) test of copy generators or placement policies."""

from __future__ import annotations

import json
import math
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from rlopt.cli._common import JsonOption, console, err_console
from rlopt.errors import InputError
from rlopt.io_utils import json_ready

_SPEC_HELP = "logging | pool-random | pool-best | copies:PATH.jsonl | policy:NAME"


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:+.1%}" if pct else f"{x:.3g}"


def _with_ci(x: float, ci, pct: bool = False) -> str:
    return f"{_fmt(x, pct)} [{_fmt(ci[0], pct)}, {_fmt(ci[1], pct)}]"


def _print_tables(result, show_sequential: bool) -> None:
    from rich.table import Table

    level = f"{1 - result.alpha:.0%}"
    legend = "; ".join(f"{a.name} = {a.label}" + (" (control)" if i == 0 else "") for i, a in enumerate(result.arms))
    scope = "" if result.traffic == "all" else " (only traffic the copies cover)"
    console.print(f"arms: {legend}; {result.n_impressions} impressions{scope}, seed {result.seed}", highlight=False)
    rows = result.rows()
    for metric in dict.fromkeys(r["metric"] for r in rows):
        table = Table(title=metric, title_justify="left")
        p_head = "p (Holm)" if len(result.comparisons) > 1 else "p"
        for col in ("arm", "estimate", "true", f"lift [{level} CI]", f"relative [{level} CI]", p_head, "verdict"):
            table.add_column(col, justify="left" if col in ("arm", "verdict") else "right")
        for r in (r for r in rows if r["metric"] == metric):
            if r["lift"] is None:
                table.add_row(r["arm"], _fmt(r["estimate"]), _fmt(r["true"]), "", "", "", "control")
                continue
            table.add_row(r["arm"], _fmt(r["estimate"]), _fmt(r["true"]), _with_ci(r["lift"], r["ci"]),
                          _with_ci(r["relative"], r["relative_ci"], True), f"{r['pvalue_adjusted']:.2g}", r["verdict"])
        console.print(table)
    srm = result.srm
    console.print(f"SRM check: users per arm {list(srm.observed)}, p = {srm.pvalue:.3g} -> "
                  f"{'MISMATCH' if srm.mismatch else 'ok'}", highlight=False)
    mde = result.mde
    console.print(f"{mde['metric']} minimum detectable effect (80% power): {_fmt(mde['relative'], True)} "
                  f"relative ({_fmt(mde['absolute'])} absolute; user-clustering design effect on CTR "
                  f"{mde['design_effect']:.2f})", highlight=False)
    others = ", ".join(f"{m} {_fmt(v['relative'], True)}" for m, v in mde.get("by_metric", {}).items())
    if others:
        console.print(f"MDE by metric (relative, from this run's standard errors): {others}", highlight=False)
    if show_sequential:
        for comp in result.comparisons:
            seq = comp.sequential
            name = f"sequential mSPRT on {result.primary_metric}, {comp.treatment} vs {comp.control}"
            if seq is None:
                console.print(f"{name}: no pre-period baseline, skipped")
                continue
            verdict = (f"stopped at look {seq.stop_look}/{len(seq.pvalues)}: {comp.treatment} "
                       f"{'>' if seq.estimate > 0 else '<'} {comp.control}" if seq.stopped
                       else f"no difference detected after {len(seq.pvalues)} looks")
            console.print(f"{name}: {verdict} (users {seq.n[0]} + {seq.n[1]}), always-valid p = {seq.pvalue:.3g}, "
                          f"lift {_with_ci(seq.estimate, seq.confidence_interval(1 - result.alpha))}",
                          highlight=False)


def ab_command(
    a: Annotated[str, typer.Option("--a", help=f"Control arm: {_SPEC_HELP}.")],
    b: Annotated[str, typer.Option("--b", help=f"Treatment arm: {_SPEC_HELP}.")],
    c: Annotated[str | None, typer.Option("--c", help="Optional third arm (compared with A).")] = None,
    market: Annotated[Path | None, typer.Option("--market", help="Market config TOML (default: the built-in "
                                                "rlopt/market/default.toml).")] = None,
    impressions: Annotated[int, typer.Option("--impressions", "-n", help="Experiment impressions, all arms.")]
    = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed: traffic, user split, copy choice, responses.")] = 0,
    split: Annotated[str | None, typer.Option("--split", help="Traffic weights per arm, e.g. 50,50 or 0.8,0.2.")]
    = None,
    pre_impressions: Annotated[int | None, typer.Option("--pre-impressions", help="Pre-period impressions for "
                                                        "CUPED (default: impressions / 2).")] = None,
    looks: Annotated[int, typer.Option("--looks", help="Interim looks of the sequential test.")] = 20,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    traffic: Annotated[str, typer.Option("--traffic", help="all: every impression (copies must cover every "
                                         "item and placement); covered: only impressions the copies cover.")]
    = "all",
    sequential: Annotated[bool, typer.Option("--sequential", help="Also print the mSPRT (always-valid) "
                                             "sequential decision with early stopping.")] = False,
    primary_metric: Annotated[str, typer.Option("--primary-metric", help="Decision metric (monitored by "
                                                   "the mSPRT, subject of the MDE warning): ctr, purchase_rate or "
                                                   "revenue_per_impression.")] = "ctr",
    out: Annotated[Path | None, typer.Option("--out", help="Also write the full result as JSON here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Simulated A/B test: randomize users between arms on the simulated market and compare them.

    Example:

        rlopt ab --market rlopt/market/default.toml --a logging --b copies:runs/tuned.jsonl --impressions 50000 --seed 0

    Metrics per arm: CTR, purchase rate and revenue per impression (delta-method tests, users are
    the randomization unit), clicks and revenue per user (CUPED with a pre-period covariate).
    Each row shows the estimate, the oracle's true value, the lift over A with a confidence interval,
    the relative lift, the p-value and the verdict. Also: sample-ratio-mismatch check, the CTR
    minimum detectable effect at this traffic (warned about when too large) and, with --sequential,
    the mSPRT decision under continuous monitoring. pool-best peeks at the truth: an upper reference.
    """
    from rlopt.ab.simulate import simulate_ab
    from rlopt.cli._common import check_out_file
    from rlopt.io_utils import write_json_atomic
    from rlopt.market import DEFAULT_MARKET, Marketplace

    if out is not None:
        check_out_file(out)
    arms = {"A": a, "B": b, **({"C": c} if c else {})}
    weights = None
    if split is not None:
        try:
            weights = [float(w) for w in split.split(",")]
        except ValueError:
            raise InputError(f"--split must be comma-separated numbers; got {split!r}.", column="--split",
                             rule="w1,w2[,w3]") from None
    mkt = Marketplace.from_toml(market or DEFAULT_MARKET)
    with err_console.status("simulating the A/B test", spinner="dots") if not as_json else nullcontext():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same notes come back in result.warnings, printed below
            result = simulate_ab(mkt, arms, impressions, seed, split=weights, pre_impressions=pre_impressions,
                                 alpha=alpha, looks=looks, traffic=traffic,
                                 primary_metric=primary_metric)
    payload = json_ready({"market": str(market or DEFAULT_MARKET), **result.to_dict()})
    if out is not None:
        write_json_atomic(out, payload)
    if as_json:
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        _print_tables(result, sequential)
    for note in result.warnings:  # stderr, so --json output stays clean
        err_console.print(Text.assemble(("warning:", "yellow"), f" {note}"), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``rlopt ab`` to ``app``."""
    app.command("ab", help=ab_command.__doc__)(ab_command)
