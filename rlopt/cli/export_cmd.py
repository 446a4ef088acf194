"""``rlopt export``: a tuned generator as a directory to hand on (merged for serving, or adapter + base)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import JsonOption, emit, err_console

_EPILOG = (
    "Examples:\n\n"
    "  rlopt export --merge runs/tuned-dpo runs/tuned-dpo-merged\n\n"
    "  rlopt export runs/tuned-grpo shipped/grpo-adapter --json\n\n"
    "--merge folds the LoRA adapter (and any adapter it was tuned on) into the base weights and writes a "
    "plain safetensors causal LM with tokenizer and generation config: transformers' "
    "AutoModelForCausalLM.from_pretrained(OUT), vLLM and TGI load it without PEFT or rlopt. Without "
    "--merge OUT holds the adapter plus the exact base it was tuned on in OUT/base; rlopt loads OUT "
    "wherever it is moved. Both carry a model card (README.md); neither holds a pickle (checkpoints "
    "are not exported)."
)


def export(
    tuned: Annotated[Path, typer.Argument(help="A tuned generator directory (the --out of `rlopt tune`).")],
    out: Annotated[Path, typer.Argument(help="New directory to write.")],
    merge: Annotated[bool, typer.Option("--merge", help="Write one merged model (for serving) instead of "
                                        "adapter + base.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Export a tuned generator: a merged safetensors model (--merge) or a self-contained adapter."""
    from rlopt.cli._common import check_out_dir
    from rlopt.errors import InputError
    from rlopt.tuning.export import export_generator

    check_out_dir(out)
    if out.exists():
        raise InputError("already exists; export writes a new directory (remove it or pick another name)",
                         file=str(out), column="OUT")
    with err_console.status(f"exporting {tuned} ({'merged' if merge else 'adapter + base'})"):
        result = export_generator(tuned, out, merge=merge)
    emit({**{k: v for k, v in result.items() if k != "files"}, "files": len(result["files"])}, as_json,
         title="rlopt export")


def register(app: typer.Typer) -> None:
    """Add ``export`` to ``app``."""
    app.command("export", epilog=_EPILOG)(export)
