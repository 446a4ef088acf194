"""``rlopt run CONFIG.toml``: the whole loop with a stage cache, ending in the report."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import JsonOption, emit, err_console, note_output


def run(
    config: Annotated[Path, typer.Argument(help="Experiment TOML (see experiments/README.md).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Run directory (new, empty, or one rlopt made; one run at a time); overrides [run] out_dir.")] = None,
    force: Annotated[list[str] | None, typer.Option(
        "--force", help="Redo this stage (and everything downstream) even if cached; repeatable.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="SECTION.KEY=VALUE", help="Override one config key, e.g. --set tuning.learning_rate=1e-4 "
        "(value in TOML syntax, a bare word is a string); repeatable; checked like the file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the whole loop: simulate or read logs -> validate -> reward model -> tune -> generate ->
    A/B (base vs tuned) -> placement bandits -> OPE -> report.

    Each stage caches its outputs under the run directory and is skipped when its inputs (and
    rlopt's code and library versions) are unchanged; a crashed or killed run resumes where it
    stopped. rlopt refuses (exit 2) a non-empty directory it did not make and one another run is
    using.

    Example:

        rlopt run experiments/quickstart.toml --out runs/quickstart

        rlopt run experiments/quickstart.toml --set tuning.learning_rate=1e-4 --set tuning.min_confidence=0.8
    """
    from rlopt.live import live_progress
    from rlopt.logging_setup import output_is_verbose
    from rlopt.pipeline import load_config, run_pipeline

    cfg = load_config(config, out_dir=out, overrides=set_ or ())
    note_output(cfg.run.out_dir)  # a failure that names no file (disk full in a library) reports the run dir

    def log(line: str) -> None:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)

    # One transient live display (stage line, tuning bar): what stays on the console is one line per
    # stage and the summary; -v prints every detail line instead. <run>/log.txt has everything.
    with contextlib.nullcontext() if output_is_verbose() else live_progress(err_console):
        result = run_pipeline(cfg, force=force or (), log=log)
    report = result.results.get("report")
    summary = {
        "run_dir": str(result.run_dir),
        "report": str(result.run_dir / "report" / "report.html") if report and report.ok else None,
        "verdict": (report.summary.get("verdict") or {}).get("sentence") if report and report.ok else None,
        "total_wall_s": result.manifest.get("total_wall_s"),
        "stages": {name: {"status": r.status, "wall_s": round(r.wall_s, 2), "reason": r.reason}
                   for name, r in result.results.items()},
    }
    if as_json:
        emit(summary, True)
        return
    flat = {"run directory": summary["run_dir"], "report": summary["report"], "verdict": summary["verdict"],
            "wall time (s)": summary["total_wall_s"]}
    # Each stage's outcome was printed as it ended; the table names only those that did not finish.
    flat.update({f"stage {n}": s["status"] + (f" ({s['reason']})" if s["reason"] else "")
                 for n, s in summary["stages"].items() if s["status"] not in ("ran", "cached")})
    flat["log"] = str(result.run_dir / "log.txt")
    emit(flat, False, title="rlopt run")


def register(app: typer.Typer) -> None:
    """Add ``rlopt run`` to ``app``."""
    app.command("run")(run)
