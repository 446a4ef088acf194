"""Refuse model directories rlopt will not load, and explain the ones that fail to load.

Generators, encoders and tuned adapters come from directories users hand over. Three things in
such a directory are refused *before* loading, each with one :class:`~rlopt.errors.InputError`
naming the directory and the file:

- custom code: an ``auto_map`` in ``config.json`` / ``tokenizer_config.json`` /
  ``adapter_config.json`` asks for ``trust_remote_code``, i.e. running Python shipped with the
  model; rlopt never does;
- pickle-only weights (``pytorch_model.bin``, ``*.pt``, ``*.ckpt`` ...): unpickling can run
  arbitrary code, so only safetensors weights are loaded (loaders are called with
  ``use_safetensors=True``);
- a config file that is not a JSON object.

What still fails while loading -- random bytes in ``model.safetensors``, weights whose shapes do
not match ``config.json``, a missing tokenizer file -- is turned into one paragraph by
:func:`load_error`; a chat template that the sandboxed Jinja renderer rejects (``SecurityError``)
or that cannot render a plain conversation is caught by :func:`check_chat_template`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rlopt.errors import InputError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
CONFIG_FILES = ("config.json", "tokenizer_config.json", "adapter_config.json")
_SHAPE_WORDS = ("size mismatch", "mismatched_sizes", "shape mismatch", "mismatch")
F = TypeVar("F", bound=Callable[..., Any])


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    from rlopt.data.io import read_text_file

    try:
        value = json.loads(read_text_file(path))
    except json.JSONDecodeError as err:
        raise InputError(f"{what}: {path.name} is not valid JSON ({err.msg} at line {err.lineno}, column "
                         f"{err.colno})", file=str(path), rule="model config is a JSON object") from None
    if not isinstance(value, dict):
        raise InputError(f"{what}: {path.name} holds a JSON {type(value).__name__}, not an object",
                         file=str(path), rule="model config is a JSON object")
    return value


def check_model_dir(path: str | Path, what: str) -> None:
    """Refuse a local model directory that asks for custom code or holds only pickled weights.

    Parameters
    ----------
    path : path
        A local directory (a generator, an encoder, a tuned adapter).
    what : str
        How messages name it, e.g. ``"generator"``, ``"reward model encoder"``.

    Raises
    ------
    InputError
        ``auto_map`` in a config (``trust_remote_code``), pickle weights without safetensors, or a
        config that is not a JSON object; the message names the directory and the file.
    """
    root = Path(path)
    if not root.is_dir():
        return
    for name in CONFIG_FILES:
        cfg_path = root / name
        if not cfg_path.is_file():
            continue
        cfg = _read_json_object(cfg_path, f"{what} directory {root}")
        if cfg.get("auto_map"):
            raise InputError(
                f"the {what} directory {root} asks to run its own Python code ({name} has 'auto_map', which "
                "needs trust_remote_code); rlopt never runs code shipped with a model. Use a model whose "
                "architecture transformers knows, or remove 'auto_map' if the code is not needed",
                file=str(cfg_path), column="auto_map", rule="no remote code (trust_remote_code)")
    files = [p for p in root.iterdir() if p.is_file()]
    if any(p.suffix == ".safetensors" for p in files):
        return
    pickles = sorted(p.name for p in files if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise InputError(
            f"the {what} directory {root} holds its weights only as pickle ({', '.join(pickles)}); rlopt "
            "never unpickles, since loading a pickle can run arbitrary code. Convert the weights to "
            "safetensors (e.g. model.save_pretrained(DIR, safe_serialization=True) where the file is trusted)",
            file=str(root / pickles[0]), rule="weights are safetensors, not pickle")


def load_error(err: BaseException, path: str | Path, what: str) -> InputError | None:
    """The InputError for ``err`` raised while loading the model in ``path``; None when the cause is
    not the directory (out of memory, interrupted) and ``err`` should propagate as it is."""
    import torch

    if isinstance(err, (MemoryError, torch.OutOfMemoryError, KeyboardInterrupt)):
        return None
    if isinstance(err, InputError):
        return err
    text = " ".join(str(err).split())
    low = text.lower()
    if type(err).__name__ == "SafetensorError" or "deserializ" in low or "header too" in low:
        reason = (f"a .safetensors file is not readable -- corrupt, truncated or not safetensors at all "
                  f"({text[:200]})")
    elif any(w in low for w in _SHAPE_WORDS):
        detail = "" if "ignore_mismatched_sizes" in text else f"; {text[:200]}"  # transformers' text only
        reason = f"the weights' shapes do not match config.json (a config from another model size?){detail}"
    else:                                                                       # points at its log table
        reason = f"{type(err).__name__}: {text[:300]}"
    return InputError(f"cannot load the {what} in this directory: {reason}", file=str(path),
                      rule=f"a loadable {what} directory")


def check_chat_template(tokenizer: Any, path: str | Path, what: str = "generator") -> None:
    """Render a two-message conversation with the tokenizer's chat template, if it has one.

    transformers renders templates in a sandboxed Jinja environment; a template that reaches for
    Python internals raises ``jinja2.exceptions.SecurityError`` there. Rendering once at load
    time turns that -- or any template that cannot render a plain conversation -- into one
    InputError naming the directory, instead of a traceback in the middle of generation.
    """
    if not getattr(tokenizer, "chat_template", None):
        return
    import jinja2

    probe = [{"role": "system", "content": "You write marketing copy."}, {"role": "user", "content": "Hi"}]
    try:
        tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except jinja2.exceptions.SecurityError as err:
        raise InputError(f"the chat template of the {what} in {path} was refused by the sandbox: {err}; "
                         "rlopt does not render templates that reach for Python internals", file=str(path),
                         column="chat_template", rule="chat template renders in the sandbox") from None
    except (jinja2.exceptions.TemplateError, ValueError, TypeError, KeyError, IndexError) as err:
        raise InputError(f"the chat template of the {what} in {path} cannot render a system + user "
                         f"conversation ({type(err).__name__}: {err})", file=str(path), column="chat_template",
                         rule="chat template renders a conversation") from None


def explains_load_errors(what: str, config_name: str) -> Callable[[F], F]:
    """Decorate a ``from_pretrained(cls, model_dir, ...)``: any failure is one InputError naming the directory.

    A ``KeyError`` means ``config_name`` lacks a key the loader needs (a hand-edited or foreign
    config); everything else goes through :func:`load_error` (corrupt safetensors, shapes that
    do not match the config ...). Out-of-memory errors pass through unchanged.
    """
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(cls: Any, model_dir: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(cls, model_dir, *args, **kwargs)
            except KeyError as err:
                key = err.args[0] if err.args else "?"
                raise InputError(f"cannot load the {what} in {model_dir}: {config_name} lacks the key {key!r} "
                                 "(written by another program or version, or edited by hand?)",
                                 file=str(Path(model_dir) / config_name), column=str(key),
                                 rule=f"{config_name} holds every key the loader needs") from None
            except Exception as err:
                if (mapped := load_error(err, model_dir, what)) is None:
                    raise
                raise mapped from err
        return wrapper  # type: ignore[return-value]
    return decorate
