"""One config dataclass per tuning method, each subclassing TRL's own config.

Only project fields are added (which generator, LoRA shape, pair mining, guard weights); every
TRL/Trainer field keeps its meaning. These dataclasses are the one config of the area: ``rlopt tune``
makes a flag of every field (:mod:`rlopt.cli.tune_cmds`, with ``HfArgumentParser`` as TRL's scripts
do), the ``[tuning]`` table of an experiment accepts exactly the same keys, and Python callers pass
them to :func:`make_config` or :func:`rlopt.tuning.api.tune_generator`.

Presets (``quick``, ``standard``, ``full``) are plain dicts of field overrides, applied by
:func:`make_config`; explicit values win over the preset's. ``quick`` is sized for SmolLM2-135M +
LoRA on a 2-core CPU; ``standard`` is quick with three times the DPO pairs and steps, and for
GRPO/RLOO quick's steps with twice the prompts per batch (more steps over-optimized the reward
model); ``full`` is for a GPU. Timings and the measured effect of each preset are on the results
page (``docs/results.md``), not here.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from trl import DPOConfig, GRPOConfig, RLOOConfig

from rlopt.errors import InputError
from rlopt.tuning.pairs import PAIR_SCOPES
from rlopt.tuning.rewards import ENSEMBLE_REDUCTIONS
from rlopt.tuning.support import check_support_quantile, check_support_top_share

METHODS = ("dpo", "grpo", "rloo")
PRESETS = ("quick", "standard", "full")
VALUE_METRICS = ("ctr", "purchase", "combined")


@dataclass
class _LoraFields:
    """Project fields of every method (a mixin: list it *before* the TRL config class).

    Listed first in the bases, its fields come after all of TRL's (dataclass fields are collected in
    reverse MRO order), and its ``__post_init__`` runs TRL's before checking the LoRA fields.
    """

    generator: str = field(default="default", metadata={
        "help": "Base generator: 'default' (SmolLM2-135M-Instruct), a local directory or a HF id."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha (update scale alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA branch."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Module names that get LoRA adapters."})
    preset: str = field(default="", metadata={"help": "Name of the preset these values came from (recorded)."})
    compact_lm_head: bool = field(default=True, metadata={
        "help": "On the CPU, project only the completion's positions through TRL's fused LM head, as TRL "
                "does on CUDA (rlopt.tuning.lm_head; same losses, faster steps); false: TRL's "
                "CPU path, which projects every position."})

    def __post_init__(self):
        super().__post_init__()  # the TRL config's (next in the MRO)
        if self.lora_r < 1:
            raise InputError(f"lora_r ({self.lora_r}) must be >= 1", key="lora_r")
        if not self.lora_target_modules:
            raise InputError("lora_target_modules is empty; name at least one module, e.g. q_proj",
                             key="lora_target_modules")


@dataclass
class OnlineFields(_LoraFields):
    """Project fields of the online methods (GRPO, RLOO): the LoRA fields, prompts and reward weights."""

    max_contexts: int = field(default=256, metadata={
        "help": "Contexts (item x segment x placement) drawn from the logs as training prompts."})
    reward_model_weight: float = field(default=1.0, metadata={
        "help": "Weight of the reward model's term (see reward_model_scale)."})
    reward_model_scale: str = field(default="log", metadata={
        "help": "'log': log of the reward model's scalar reward (twice the value = +0.69, on the guards' "
                "scale in any market); 'linear': the raw value (~0.01-0.05; needs a weight ~20-200)."})
    reward_ensemble: str = field(default="mean", metadata={
        "help": "With several reward models (an ensemble: --reward-model given more than once), how their "
                "scores combine per copy: 'mean', or 'min' (pessimistic: high only where every member "
                "agrees, so one member's errors are not worth exploiting)."})
    stop_at_newline: bool = field(default=True, metadata={
        "help": "End each sampled completion at its first line break: the copy is the first line "
                "(post-processing drops the rest), so later tokens would share its advantage unscored."})
    rlopt_sampling: bool = field(default=True, metadata={
        "help": "Sample completions with rlopt's decoder (prompt encoded once per group, finished rows "
                "dropped; same distribution) where that is exact (one process, text prompts, no vLLM); "
                "false: TRL's transformers.generate."})
    discount_penalty: float = field(default=1.0, metadata={
        "help": "Weight of the penalty for claiming a discount that differs from the real one."})
    claim_penalty: float = field(default=1.0, metadata={
        "help": "Weight of the penalty for stating a claim (a number, or a fact phrase such as 'loved by', "
                "'handmade', 'free shipping') that the item's catalog row and its logged copy do not contain "
                "('Loved by 10,000+ shoppers' for an item the shop never said it of; rlopt.generation.claims)."})
    length_penalty: float = field(default=1.0, metadata={
        "help": "Weight of the penalty for copy longer than the placement's character limit."})
    repetition_penalty_weight: float = field(default=0.5, metadata={
        "help": "Weight of the penalty for repeated word n-grams."})
    quality_penalty: float = field(default=1.0, metadata={
        "help": "Weight of the copy-quality penalty: -1 per defect of the shown copy (incomplete, leaked "
                "instructions, invented URL/contact, punctuation junk, repetition; rlopt.generation.quality)."})
    support_penalty: float = field(default=0.0, metadata={
        "help": "Weight of the support guard (rlopt.tuning.support): a penalty for copy unlike every logged "
                "copy of its item in MiniLM sentence space, where the reward model has no data; 0 = off."})
    support_quantile: float = field(default=0.25, metadata={
        "help": "The support guard's threshold: this quantile of logged copies' similarity to the nearest "
                "other logged copy of their item (copy at least that similar is free); lower is more lenient."})
    support_top_share: float = field(default=1.0, metadata={
        "help": "Value-weighted support: the share of each item's logged copies, ranked by logged value lift "
                "(honest copies only when < 1), that count as support; 1 = every logged copy."})

    def __post_init__(self):
        super().__post_init__()
        if self.max_contexts < 1:
            raise InputError(f"max_contexts ({self.max_contexts}) must be >= 1", key="max_contexts")
        if self.reward_model_scale not in ("log", "linear"):
            raise InputError(f"reward_model_scale ({self.reward_model_scale!r}) must be 'log' or 'linear'",
                             key="reward_model_scale")
        if self.reward_ensemble not in ENSEMBLE_REDUCTIONS:
            raise InputError(f"reward_ensemble ({self.reward_ensemble!r}) must be one of "
                             f"{', '.join(ENSEMBLE_REDUCTIONS)}", key="reward_ensemble")
        check_support_quantile(self.support_quantile)
        check_support_top_share(self.support_top_share)
        if self.support_top_share < 1.0 and not self.support_penalty:
            raise InputError("support_top_share chooses the support guard's reference copies; it needs "
                             "support_penalty > 0 (the guard is off without it)", key="support_top_share",
                             value=self.support_top_share)
        for name in ("reward_model_weight", "discount_penalty", "claim_penalty", "length_penalty",
                     "repetition_penalty_weight", "support_penalty", "quality_penalty"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} ({getattr(self, name)}) must be >= 0", key=name)
        if self.use_vllm and not vllm_installed():
            raise InputError("use_vllm is true but vLLM is not installed (TRL would fail when the trainer is "
                             "built); install vllm on a machine with a CUDA GPU (pip install vllm), or set "
                             "use_vllm = false to sample with transformers", key="use_vllm",
                             rule="use_vllm needs the vllm package")


def vllm_installed() -> bool:
    """Whether the ``vllm`` package can be imported (found on the path; not imported here)."""
    return importlib.util.find_spec("vllm") is not None


@dataclass
class RloptDPOConfig(_LoraFields, DPOConfig):
    """DPO on preference pairs mined from feedback logs (TRL's ``DPOConfig`` + project fields).

    Project fields: ``generator``, ``lora_*``, ``preset`` (see :class:`_LoraFields`), and

    min_confidence : float, default 0.9
        Keep a pair only when P(value(chosen) > value(rejected)) >= this.
    value_metric : {"ctr", "purchase", "combined"}, default "combined"
        What "beats" means: click rate, purchases per impression, or ctr + purchase_weight * purchases.
    purchase_weight : float, default 5.0
        Weight of purchases per impression in the ``combined`` value.
    max_pairs_per_group : int, default 20
        Cap on pairs from one item x segment x placement group (the most confident are kept).
    min_impressions : int, default 3
        A copy shown fewer times than this in its group is not compared.
    pair_scope : {"context", "item"}, default "context"
        Compare copies per item x segment x placement, or per item over all its impressions, each
        counted by its context's expected clicks (COEC; :mod:`rlopt.tuning.pairs`), for logs with
        few impressions per context; a pooled pair is emitted for each context its chosen copy was
        shown in, its weight split over them.
    prior_strength : float, default 20.0
        Pseudo-impressions of the empirical-Bayes prior at the placement's pooled rate.
    min_pairs : int, default 16
        Fewer confident pairs than this is an error (DPO on a handful of pairs only memorizes them)
        naming, for these logs, the settings that would give enough (:mod:`rlopt.tuning.pairs`).
    auto_relax : bool, default False
        Instead of that error, try ``pair_scope="item"`` at the same ``min_confidence``, then lower
        ``min_confidence`` step by step (then try ``value_metric="ctr"``) until ``min_pairs`` pairs
        pass, with a warning naming the values used.
    num_train_pairs : int, default 0
        Pairs drawn with probability proportional to weight = gain x confidence (with replacement) as
        the training set; 0 means as many as there are pairs. This is how pair weights enter DPO
        (CTR-driven preference optimization, Chen et al. 2025, arXiv 2507.20227): TRL's DPOTrainer
        has no per-example weight, and sampling proportional to weight gives the same expected gradient.
    guard_pairs : bool, default True
        Drop pairs whose chosen copy claims a wrong discount or exceeds the placement's limit.
    honesty_pairs : float, default 0.25
        Share of the training pairs drawn from honesty pairs (chosen = the repaired copy, rejected
        = a logged copy with a misleading discount claim, same prompt; see
        :func:`rlopt.tuning.pairs.honesty_pairs`); 0 turns them off. The guard only keeps the
        generator from *learning* misleading copy; honesty pairs teach it to write the true claim.
    reward_pairs : float, default 0.0
        Share of the training pairs from the base generator's own samples ranked by the reward
        model (:mod:`rlopt.tuning.ranked_pairs`: ``reward_pairs_samples`` copies for each of
        ``reward_pairs_contexts`` logged contexts; chosen = the best copy that passes every guard,
        rejected = the worst, kept when their score gap is at least ``reward_pairs_min_gain``).
        Needs a reward model; 0 turns them off.
    """

    min_confidence: float = field(default=0.9, metadata={
        "help": "Keep a pair only when P(chosen beats rejected) >= this (Beta posteriors)."})
    value_metric: str = field(default="combined", metadata={
        "help": "What 'beats' means: ctr, purchase (per impression) or combined."})
    purchase_weight: float = field(default=5.0, metadata={
        "help": "Weight of purchases per impression in the combined value."})
    max_pairs_per_group: int = field(default=20, metadata={
        "help": "At most this many (most confident) pairs per item x segment x placement."})
    min_impressions: int = field(default=3, metadata={
        "help": "Compare only copies shown at least this many times in their item x segment x placement."})
    prior_strength: float = field(default=20.0, metadata={
        "help": "Pseudo-impressions of the empirical-Bayes prior (at the placement's pooled rate)."})
    pair_scope: str = field(default="context", metadata={
        "help": "'context': compare copies per item x segment x placement; 'item': per item over all its "
                "impressions, each counted by its context's expected clicks (COEC), for small logs."})
    min_pairs: int = field(default=16, metadata={
        "help": "Error out with fewer confident pairs than this (the error says which settings would give "
                "enough on these logs)."})
    auto_relax: bool = field(default=False, metadata={
        "help": "With too few pairs, try pair_scope item, then lower min_confidence step by step (then try "
                "value_metric ctr) until min_pairs pass, with a warning naming the values used, instead of "
                "stopping."})
    num_train_pairs: int = field(default=0, metadata={
        "help": "Training pairs drawn with probability proportional to gain x confidence; 0 = number of pairs."})
    guard_pairs: bool = field(default=True, metadata={
        "help": "Drop pairs whose chosen copy claims a wrong discount or exceeds the placement's limit."})
    honesty_pairs: float = field(default=0.25, metadata={
        "help": "Share of training pairs that are honesty pairs (repaired copy chosen over the logged "
                "misleading copy); 0 = off."})
    reward_pairs: float = field(default=0.0, metadata={
        "help": "Share of training pairs from the base generator's own samples ranked by the reward model "
                "(best guard-passing copy over the worst, rlopt.tuning.ranked_pairs); needs a reward model; "
                "0 = off."})
    reward_pairs_contexts: int = field(default=96, metadata={
        "help": "Training contexts the base generator writes samples for (reward-ranked pairs)."})
    reward_pairs_samples: int = field(default=4, metadata={
        "help": "Samples per context ranked by the reward model (reward-ranked pairs)."})
    reward_pairs_min_gain: float = field(default=0.25, metadata={
        "help": "Least score gap (log reward units, guards included) between chosen and rejected sample."})

    def __post_init__(self):
        super().__post_init__()  # TRL's checks, then the LoRA fields' (_LoraFields)
        if not 0.5 <= self.min_confidence < 1.0:
            raise InputError(f"min_confidence ({self.min_confidence}) must be in [0.5, 1); lower it to mine "
                             "more pairs, raise it for cleaner ones", key="min_confidence")
        if self.value_metric not in VALUE_METRICS:
            raise InputError(f"value_metric ({self.value_metric!r}) must be one of {', '.join(VALUE_METRICS)}",
                             key="value_metric")
        if self.pair_scope not in PAIR_SCOPES:
            raise InputError(f"pair_scope ({self.pair_scope!r}) must be one of {', '.join(PAIR_SCOPES)}",
                             key="pair_scope")
        if not 0.0 <= self.honesty_pairs < 1.0:
            raise InputError(f"honesty_pairs ({self.honesty_pairs}) must be in [0, 1): the share of training "
                             "pairs that are honesty pairs", key="honesty_pairs")
        if not 0.0 <= self.reward_pairs < 1.0 or self.honesty_pairs + self.reward_pairs >= 1.0:
            raise InputError(f"reward_pairs ({self.reward_pairs}) must be in [0, 1) and honesty_pairs + "
                             f"reward_pairs ({self.honesty_pairs + self.reward_pairs}) below 1: logged pairs "
                             "keep the rest of the training set", key="reward_pairs")
        if self.reward_pairs_contexts < 1 or self.reward_pairs_samples < 2:
            raise InputError("reward_pairs_contexts must be >= 1 and reward_pairs_samples >= 2 (a pair needs "
                             f"two samples; got {self.reward_pairs_contexts}, {self.reward_pairs_samples})",
                             key="reward_pairs_samples")
        for name, low in (("min_pairs", 1), ("max_pairs_per_group", 1), ("num_train_pairs", 0),
                          ("min_impressions", 1)):
            if getattr(self, name) < low:
                raise InputError(f"{name} ({getattr(self, name)}) must be >= {low}", key=name)
        if not self.prior_strength > 0:
            raise InputError(f"prior_strength ({self.prior_strength}) must be > 0", key="prior_strength")


@dataclass
class RloptGRPOConfig(OnlineFields, GRPOConfig):
    """GRPO with the reward model + guards (TRL's ``GRPOConfig`` + project fields).

    GRPO carries the PPO clipped objective: ``epsilon`` clips the ratio, ``num_iterations`` > 1 runs
    several PPO epochs per generated batch, ``beta`` > 0 adds a KL penalty to the reference (the base
    model, adapter disabled). Project fields: ``generator``, ``lora_*``, ``preset``, ``max_contexts``
    and the reward terms ``reward_model_weight``, ``reward_model_scale``, ``discount_penalty``, ``claim_penalty``,
    ``length_penalty``, ``repetition_penalty_weight``, ``reward_ensemble``.
    """


@dataclass
class RloptRLOOConfig(OnlineFields, RLOOConfig):
    """RLOO (REINFORCE leave-one-out) with the reward model + guards (TRL's ``RLOOConfig`` + project fields).

    Same project fields as :class:`RloptGRPOConfig`.
    """


CONFIG_CLASSES = {"dpo": RloptDPOConfig, "grpo": RloptGRPOConfig, "rloo": RloptRLOOConfig}

_COMMON = {"report_to": "none", "logging_steps": 1, "save_strategy": "steps", "save_total_limit": 2,
           "disable_tqdm": True}
# Quick: 40 optimizer steps, 2 per generated batch (num_iterations = 2, PPO-style reuse: a step
# without sampling costs less than half of one with it on CPU), so 20 batches of 2 prompts x 4 samples.
_ONLINE_QUICK = {"max_completion_length": 32, "num_generations": 4, "per_device_train_batch_size": 8,
                 "temperature": 0.9, "max_steps": 40, "save_steps": 10, "learning_rate": 5e-4,
                 "beta": 0.02, "epsilon": 0.2, "num_iterations": 2, "max_contexts": 240}
# Standard: 4 prompts x 4 samples per batch (twice quick's), same 40 steps: each update averages over
# twice the contexts (80 in all against 40), so less of it follows one prompt's reward-model noise.
_ONLINE_STANDARD = {**_ONLINE_QUICK, "per_device_train_batch_size": 16}
_ONLINE_FULL = {"max_completion_length": 40, "num_generations": 8, "per_device_train_batch_size": 16,
                "temperature": 0.9, "max_steps": 300, "save_steps": 50, "learning_rate": 5e-5,
                "beta": 0.04, "epsilon": 0.2, "num_iterations": 2, "max_contexts": 4000}
# DPO + an SFT term on the chosen copy (RPO, Pang et al. 2024): plain DPO can lower the likelihood of
# both copies of a pair; the SFT term keeps the chosen (high-value) copy likely.
_RPO = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5]}
# Quick DPO is budget-bound (40 steps; the standard preset's 3x steps gained far more), so it takes a
# larger step (5e-4 against 2e-4; the comparison is on the results page). Standard keeps 2e-4, the rate
# its recorded runs used.
_DPO_QUICK = {**_COMMON, **_RPO, "max_length": 160, "per_device_train_batch_size": 4, "max_steps": 40,
              "save_steps": 10, "learning_rate": 5e-4, "beta": 0.1, "num_train_pairs": 160, "honesty_pairs": 0.25}
PRESET_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "dpo": {
        "quick": _DPO_QUICK,
        "standard": {**_DPO_QUICK, "max_steps": 120, "num_train_pairs": 480, "learning_rate": 2e-4},
        "full": {**_COMMON, **_RPO, "max_length": 256, "per_device_train_batch_size": 16, "max_steps": 600,
                 "save_steps": 100, "learning_rate": 1e-4, "beta": 0.1, "num_train_pairs": 9600,
                 "honesty_pairs": 0.25,
                 "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                         "down_proj"]},
    },
    # standard = quick with twice the prompts per batch, same steps: more steps over-optimized (module docstring)
    "grpo": {"quick": {**_COMMON, **_ONLINE_QUICK}, "standard": {**_COMMON, **_ONLINE_STANDARD},
             "full": {**_COMMON, **_ONLINE_FULL}},
    "rloo": {"quick": {**_COMMON, **_ONLINE_QUICK, "beta": 0.05},
             "standard": {**_COMMON, **_ONLINE_STANDARD, "beta": 0.05},
             "full": {**_COMMON, **_ONLINE_FULL, "beta": 0.05}},
}


def _precision_defaults() -> dict[str, Any]:
    """bf16 mixed precision where the hardware does bf16 natively (:mod:`rlopt.precision`), else fp32.

    TRL defaults to ``bf16=True`` and fails on a CPU without ``use_cpu``; on a CPU with native
    bf16 (AVX512-BF16 / AMX) autocast makes a DPO step faster at the same loss (see the results page).
    Activation (gradient) checkpointing, TRL's default, is off: the models here are small, and it slows
    CPU steps. It is set by the name the installed transformers has (:func:`checkpointing_field`).
    """
    import torch

    from rlopt.precision import native_bf16

    cuda = torch.cuda.is_available()
    bf16 = native_bf16("cuda" if cuda else "cpu")
    return {"bf16": bf16, "fp16": False, checkpointing_field(): False, "use_cpu": bool(bf16 and not cuda)}


def checkpointing_field() -> str:
    """The ``TrainingArguments`` field that switches activation checkpointing.

    ``activation_checkpointing`` where transformers has it (``gradient_checkpointing`` is then a
    deprecated alias that warns); ``gradient_checkpointing`` in earlier 5.x releases (5.17 has no
    ``activation_checkpointing`` field, and passing it is a TypeError).
    """
    names = {f.name for f in dataclasses.fields(DPOConfig)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def make_config(method: str, preset: str = "quick", **overrides: Any):
    """Build the config for ``method`` from a preset plus explicit overrides (``None`` values skipped).

    Raises
    ------
    InputError
        Unknown method, preset or field (naming the valid ones); a value TRL's or transformers' own
        checks reject (e.g. GPU-only precision without a GPU), with their message.
    """
    if method not in CONFIG_CLASSES:
        raise InputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}",
                         key="method", value=method)
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}", key="preset")
    cls = CONFIG_CLASSES[method]
    names = field_names(method)
    values = {**PRESET_VALUES[method][preset], "preset": preset, **_precision_defaults()}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in names:
            raise InputError(unknown_field_message(method, key), key=key)
        values[key] = value
    try:
        return cls(**values)
    except InputError:
        raise
    except (ValueError, TypeError) as err:  # TRL's / transformers' own checks (bf16 on a GPU, tf32, ...)
        raise InputError(f"{method} config: {err}{_no_gpu_hint(values)}", rule=f"{cls.__name__} checks") from None


def _no_gpu_hint(values: dict[str, Any]) -> str:
    """Where no CUDA GPU is visible and the fields ask for one: which fields to leave unset."""
    import torch

    if torch.cuda.is_available() or not any(values.get(k) for k in ("bf16", "fp16", "tf32")) or values.get("use_cpu"):
        return ""
    return ("; no CUDA GPU is visible to torch here: leave bf16, fp16, tf32 and use_cpu unset (rlopt picks them "
            "for this machine) or set use_cpu = true")


def field_names(method: str) -> list[str]:
    """Every field of ``method``'s config class, in declaration order (TRL's first, then rlopt's)."""
    return [f.name for f in dataclasses.fields(CONFIG_CLASSES[method])]


def unknown_field_message(method: str, key: str) -> str:
    """``unknown dpo config field 'x'``, with close matches and where the full list is.

    >>> unknown_field_message("dpo", "min_confidance")
    "unknown dpo config field 'min_confidance'; did you mean min_confidence? (every field: rlopt tune --method dpo --help)"
    """
    close = difflib.get_close_matches(key.replace("-", "_"), field_names(method), n=3, cutoff=0.75)
    elsewhere = [m for m in METHODS if m != method and key in field_names(m)]
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    if elsewhere and not close:
        hint = f"; it is a field of {'/'.join(elsewhere)}, not {method}"
    return f"unknown {method} config field {key!r}{hint} (every field: rlopt tune --method {method} --help)"
