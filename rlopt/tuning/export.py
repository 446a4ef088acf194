"""Portable, servable tuned generators: the finished output directory and ``rlopt export``.

A tuning run's output directory (:func:`publish_tuned_dir`, after training):

- ``adapter_config.json`` names its base by a portable reference (:func:`portable_base`), not by
  the absolute path the weights were read from (``~/.cache/rlopt/...`` for ``default``);
- ``README.md`` is rlopt's model card (:mod:`rlopt.tuning.model_card`);
- the Trainer's ``training_args.bin`` (a pickle of the arguments object) is replaced by
  ``training_args.json``. No file outside ``checkpoint-*/`` needs unpickling; checkpoints hold the
  optimizer/scheduler/RNG state as torch pickles, for resuming only (trusted-only, documented in the
  card).

``rlopt export`` (:func:`export_generator`) makes a directory to hand on:

- ``--merge``: the LoRA chain folded into the base (``merge_and_unload``), saved as a plain
  safetensors causal LM with tokenizer and generation config: ``AutoModelForCausalLM
  .from_pretrained(OUT)``, vLLM and TGI load it with no PEFT and no rlopt;
- no merge: the adapter, plus the exact base it was tuned on copied to ``OUT/base/`` (for a
  generator tuned from a tuned generator, that base is the merged chain). ``tuning.json`` names
  ``base``, which rlopt resolves inside ``OUT`` wherever it is moved; ``adapter_config.json``
  names the hub id where the base has one (``default`` and hub ids: plain PEFT loads it from the
  hub or its cache), else ``base`` (plain PEFT then needs ``OUT/base`` passed explicitly, as the
  card shows: PEFT resolves a relative base against the working directory, not the adapter's).
  Why not always ``base``: a hub id keeps the common case a one-liner on any machine with the hub.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rlopt.errors import InputError
from rlopt.io_utils import write_json_atomic, write_text_atomic

BASE_SUBDIR = "base"
# Files of a tuned directory that the unmerged export carries (weights, tokenizer, provenance).
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "chat_template.jinja", "generation_config.json", "segments.json",
                 "training_args.json", "curves.csv", "curves.png")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle")


def portable_base(spec: str) -> str:
    """What a tuned directory records as its base for tools other than rlopt.

    ``default`` -> its hub id (:data:`rlopt.generation.models.DEFAULT_GENERATOR_HUB_ID`); anything
    else (a hub id, a local or tuned directory) as the user gave it. A tuned directory as base
    cannot be stacked by plain PEFT; the card points to ``rlopt export`` for that case.
    """
    from rlopt.generation.models import DEFAULT_GENERATOR, DEFAULT_GENERATOR_HUB_ID

    return DEFAULT_GENERATOR_HUB_ID if str(spec) == DEFAULT_GENERATOR else str(spec)


def _set_adapter_base(out: Path, base: str) -> None:
    path = out / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base
    write_json_atomic(path, config)


def publish_tuned_dir(trainer, summary: dict[str, Any]) -> dict[str, Any]:
    """Make a finished tuning output portable and pickle-free; return ``summary`` unchanged.

    Writes ``training_args.json`` (the Trainer's arguments), removes the ``training_args.bin``
    that ``trainer.save_model`` just wrote, points ``adapter_config.json`` at
    :func:`portable_base` and writes the model card ``README.md``.
    """
    from rlopt.tuning.model_card import model_card

    out = Path(summary["out"])
    args = json.loads(trainer.args.to_json_string())
    args["output_dir"] = "."  # the folder this file is in, wherever it was moved to
    if isinstance(args.get("logging_dir"), str) and Path(args["logging_dir"]).is_relative_to(out):
        args["logging_dir"] = Path(args["logging_dir"]).relative_to(out).as_posix()
    write_json_atomic(out / "training_args.json", args)
    (out / "training_args.bin").unlink(missing_ok=True)  # written by this run's save_model
    base = portable_base(summary["generator"])
    if (out / "adapter_config.json").is_file():
        _set_adapter_base(out, base)
    write_text_atomic(out / "README.md", model_card(summary, base))
    return summary


def _read_summary(src: Path) -> dict[str, Any]:
    from rlopt.generation.models import is_adapter_dir

    if not src.is_dir() or not is_adapter_dir(src):
        raise InputError(f"{src}: not a tuned generator directory (no adapter_config.json); export takes "
                         "the --out of `rlopt tune`", file=str(src), rule="tuned generator layout")
    if not (src / "adapter_model.safetensors").is_file():
        raise InputError(f"{src}: adapter_config.json is here but no adapter_model.safetensors",
                         file=str(src), rule="tuned generator layout")
    meta = src / "tuning.json"
    if not meta.is_file():
        return {"generator": json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
                .get("base_model_name_or_path", "?"), "method": "?", "out": str(src)}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(f"tuning.json is not valid JSON ({err})", file=str(meta)) from err


def _save_model(model, tokenizer, out: Path) -> None:
    """``save_pretrained`` of model (safetensors), generation config and tokenizer into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))


def export_generator(src: str | Path, out: str | Path, merge: bool = False) -> dict[str, Any]:
    """Export the tuned generator ``src`` to ``out`` (merged full model, or adapter + exact base).

    The model is loaded in float32 on the CPU, as tuned; ``out`` is written in a temporary
    sibling directory and renamed at the end, so a failure leaves no half export.

    Returns
    -------
    dict
        ``out``, ``merged``, ``base`` (what the config names as base), ``files``.
    """
    import torch

    from rlopt.generation.models import adapter_base_spec, resolve_generator
    from rlopt.tuning.model_card import model_card

    src, out = Path(src), Path(out)
    summary = _read_summary(src)
    if out.exists():
        raise InputError(f"{out} already exists; export writes a new directory", file=str(out))
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():  # our own leftover from an interrupted export (the name says so)
        shutil.rmtree(tmp)
    try:
        if merge:
            model, tokenizer = resolve_generator(str(src), device="cpu", dtype=torch.float32)
            _save_model(model, tokenizer, tmp)
            base = portable_base(summary.get("generator", "?"))
            write_text_atomic(tmp / "README.md", model_card(summary, base, merged=True))
        else:
            base_model, base_tokenizer = resolve_generator(adapter_base_spec(src), device="cpu", dtype=torch.float32)
            _save_model(base_model, base_tokenizer, tmp / BASE_SUBDIR)
            for name in ADAPTER_FILES:
                if (src / name).is_file():
                    shutil.copy2(src / name, tmp / name)
            spec = str(summary.get("generator", ""))
            from rlopt.generation.models import DEFAULT_GENERATOR

            hub_id = spec == DEFAULT_GENERATOR or not (Path(spec).exists() or spec.startswith((".", "/", "~")))
            base = portable_base(spec) if hub_id else BASE_SUBDIR
            _set_adapter_base(tmp, base)
            write_json_atomic(tmp / "tuning.json", {**summary, "generator": BASE_SUBDIR, "exported_from": str(src),
                                                    "original_generator": spec})
            write_text_atomic(tmp / "README.md", model_card({**summary, "generator": spec}, base,
                                                            base_dir=BASE_SUBDIR))
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return {"out": str(out), "merged": merge, "base": base, "files": files}


def pickle_files(directory: str | Path) -> list[str]:
    """Files under ``directory`` (outside ``checkpoint-*/``) whose suffix is a pickle format's."""
    root = Path(directory)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and p.suffix in PICKLE_SUFFIXES
                  and not any(part.startswith("checkpoint-") for part in p.relative_to(root).parts))
