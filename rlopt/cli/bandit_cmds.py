"""``rlopt bandit``: run bandit policies on a placement env (or replay them on a log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rlopt.cli._common import JsonOption, console, emit

_EPILOG = (
    "Examples:\n\n"
    "  rlopt bandit --env rlopt/PlacementBandit-v0 --policy linucb --steps 100000 --seed 0\n\n"
    "  rlopt bandit --env bandit --policy epsilon-greedy:epsilon=0.05 --policy linear-ts "
    "--steps 20000 --reward purchase --out runs/bandit --json\n\n"
    "  rlopt bandit --env slate --policy linucb --steps 5000\n\n"
    "  rlopt bandit --env replay --obd /work/shared/data/obd/random/all --policy bernoulli-ts\n\n"
    "  rlopt bandit --env replay --obd /work/shared/data/obd/bts/all --weighting ipw --policy linucb\n\n"
    "  rlopt bandit --env replay --logs sim/logs.parquet --catalog sim/catalog.parquet "
    "--placements sim/placements.json --policy linucb\n\n"
    "Policies: uniform, epsilon-greedy, ucb1, bernoulli-ts, linucb, linear-ts, linear-epsilon-greedy, logistic-ts, "
    "each optionally with parameters (name:key=value,...). Regret is pseudo-regret against the oracle's "
    "best expected reward. Writes regret.png (replay.png for replay) and results.json to --out."
)


def bandit(
    policy: Annotated[list[str], typer.Option("--policy", help="Policy spec; repeat to compare several.")],
    env: Annotated[str, typer.Option("--env", help="rlopt/PlacementBandit-v0 (bandit), rlopt/PlacementSlate-v0 "
                                     "(slate) or replay.")] = "rlopt/PlacementBandit-v0",
    steps: Annotated[int | None, typer.Option("--steps", help="Shoppers to serve (default 10000; replay: log "
                                              "rows to use, default all).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the env and policy streams.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Shoppers per policy call; it learns after "
                                            "each batch (1 = fully online).")] = 100,
    reward: Annotated[str, typer.Option("--reward", help="click | purchase | value.")] = "click",
    market: Annotated[Path | None, typer.Option("--market", help="Market config TOML or a simulation "
                                                "directory (default: the default market).")] = None,
    reward_source: Annotated[str, typer.Option("--reward-source", help="truth (oracle) or a reward model "
                                               "directory.")] = "truth",
    placement: Annotated[str | None, typer.Option("--placement", help="Only this placement's traffic.")] = None,
    n_shoppers: Annotated[int, typer.Option("--n-shoppers", help="Size of the precomputed shopper "
                                            "population.")] = 20_000,
    obd: Annotated[Path | None, typer.Option("--obd", help="Replay: Open Bandit Dataset directory.")] = None,
    logs: Annotated[Path | None, typer.Option("--logs", help="Replay: impression log in the contract.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Replay: catalog for --logs.")] = None,
    placements: Annotated[Path | None, typer.Option("--placements", help="Replay: placements for --logs.")]
    = None,
    weighting: Annotated[str, typer.Option("--weighting", help="Replay: uniform (Li et al.; unbiased under "
                                           "uniform logging) | ipw (kept rounds weighted by 1/pscore).")]
    = "uniform",
    out: Annotated[Path, typer.Option("--out", help="Directory for regret.png and results.json.")]
    = Path("runs/bandit"),
    as_json: JsonOption = False,
) -> None:
    """Run bandit policies for N steps: cumulative reward, regret vs the oracle, a regret plot."""
    from rlopt.cli._common import check_out_dir
    from rlopt.errors import InputError
    from rlopt.io_utils import write_json_atomic
    from rlopt.policies import parse_policy_spec

    check_out_dir(out)
    for spec in policy:  # fail on a bad spec before any expensive setup
        parse_policy_spec(spec)
    if env == "replay":
        result = _replay(policy, steps or 0, seed, batch_size, reward, obd, logs, catalog, placements, out,
                         weighting)
        emit(result, as_json, title="rlopt bandit (replay)") if as_json else _table(result, replay=True)
        return
    steps = 10_000 if steps is None else steps
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}", column="--steps", rule="steps >= 1")
    from envs.runner import curves_dict, run_policy, save_regret_plot

    env_kwargs: dict[str, Any] = {"reward": reward, "reward_source": reward_source, "n_shoppers": n_shoppers,
                                  "market": None if market is None else str(market)}
    if placement is not None:
        env_kwargs["placement"] = placement
    runs = []
    for spec in policy:
        runs.append(_with_progress(lambda cb, spec=spec: run_policy(
            env, spec, steps, seed=seed, batch_size=batch_size, progress=cb, **env_kwargs),
            total=steps, label=spec, quiet=as_json))
    plot = save_regret_plot(runs, out / "regret.png", title=f"{runs[0].env_id}, reward={reward}")
    write_json_atomic(out / "results.json", {"runs": [curves_dict(r) for r in runs]})
    result = {"env": runs[0].env_id, "reward": reward, "steps": steps, "seed": seed,
              "results": [r.summary() for r in runs], "plot": str(plot), "curves": str(out / "results.json")}
    emit(result, as_json, title="rlopt bandit") if as_json else _table(result)


def _with_progress(fn, total: int, label: str, quiet: bool):
    if quiet:
        return fn(None)
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        return fn(lambda done: bar.update(task, completed=done))


def _replay(policy, steps, seed, batch_size, reward, obd, logs, catalog, placements, out,
            weighting) -> dict[str, Any]:
    import numpy as np

    from envs.replay import ReplayData, replay_evaluate
    from rlopt.errors import InputError
    from rlopt.io_utils import atomic_path, write_json_atomic
    from rlopt.policies import make_policy

    if (obd is None) == (logs is None):
        raise InputError("--env replay needs exactly one of --obd DIR or --logs F (with --catalog)",
                         column="--obd/--logs", rule="one replay source")
    if obd is not None:
        data, source = ReplayData.from_obd(obd), str(obd)
    else:
        if catalog is None:
            raise InputError("--logs needs --catalog", column="--catalog", rule="catalog given with logs")
        from rlopt.data import read_catalog, read_logs, read_placements

        cat = read_catalog(catalog)
        plc = read_placements(placements) if placements is not None else _placements_from_logs(logs)
        frame = read_logs(logs, cat, placements=plc)
        data, source = ReplayData.from_logs(frame, cat, plc, reward=reward, source=str(logs)), str(logs)
    if 0 < steps < data.n_rounds:
        data = ReplayData(data.context[:steps], data.action[:steps], data.reward[:steps], data.n_actions,
                          None if data.pscore is None else data.pscore[:steps], data.source)
    rows = []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, spec in enumerate(policy):
        res = replay_evaluate(make_policy(spec, data.n_actions, data.dim, rng=np.random.SeedSequence(seed).spawn(
            len(policy))[i]), data, batch_size=batch_size, weighting=weighting)
        rows.append({"policy": spec, **res.to_dict()})
        ax.plot(np.arange(1, res.curve.size + 1), res.curve, label=spec)
    ax.set_xlabel("kept (matched) rounds")
    ax.set_ylabel("running replay estimate of mean reward")
    ax.legend()
    ax.grid(alpha=0.3)
    with atomic_path(out / "replay.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    logging_value = float(data.reward.mean())
    result = {"env": "replay", "source": source, "rows": data.n_rounds, "n_actions": data.n_actions,
              "logging_policy_value": logging_value, "results": rows, "plot": str(out / "replay.png"),
              "weighting": weighting,
              "note": ("rejection-sampling replay: unbiased only when the log was collected by uniform random "
                       "logging" if weighting == "uniform" else "kept rounds weighted by 1/pscore "
                       "(self-normalized): corrects a frozen policy for non-uniform logging, not learning "
                       "dynamics")}
    write_json_atomic(out / "results.json", result)
    return result


def _placements_from_logs(logs: Path):
    """Without --placements, use the simulation's placements.json next to the logs if present."""
    from rlopt.data import read_placements
    from rlopt.errors import InputError

    guess = Path(logs).parent / "placements.json"
    if guess.is_file():
        return read_placements(guess)
    raise InputError("--logs replay needs --placements (no placements.json next to the logs)",
                     file=str(logs), column="--placements", rule="placements known")


def _table(result: dict[str, Any], replay: bool = False) -> None:
    from rich.table import Table

    cols = (["policy", "value", "stderr", "n_matched", "match_rate"] if replay else
            ["policy", "cumulative_reward", "cumulative_regret", "regret_per_step", "oracle_expected_reward",
             "steps_per_second"])
    short = {"cumulative_reward": "reward", "cumulative_regret": "regret", "regret_per_step": "regret/step",
             "oracle_expected_reward": "oracle reward", "steps_per_second": "steps/s"}
    table = Table(title=f"rlopt bandit: {result['env']}")
    for c in cols:
        table.add_column(short.get(c, c))
    for row in result["results"]:
        table.add_row(*(f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]) for c in cols))
    console.print(table)
    console.print(f"plot: {result['plot']}")


def register(app: typer.Typer) -> None:
    """Add ``rlopt bandit`` to ``app``."""
    app.command("bandit", epilog=_EPILOG)(bandit)
