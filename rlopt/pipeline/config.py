"""Experiment configuration: one dataclass per TOML section, keys exactly the dataclass fields.

An experiment file (``experiments/*.toml``) has the sections ``[run] [data] [reward] [tuning]
[generation] [ab] [bandit] [ope] [report]``; every key is a field below, with the field's
docstring-style ``help`` saying what it does. An unknown section or key, a wrong type or a missing
file raises :class:`rlopt.errors.InputError` naming the file, the section, the key and the valid
keys. Relative paths are resolved against the config file's directory (so a config works from any
working directory).

Examples
--------
>>> cfg = config_from_dict({"run": {"seed": 3}, "tuning": {"method": "grpo"}})
>>> cfg.run.seed, cfg.tuning.method, cfg.reward.mode
(3, 'grpo', 'frozen')
>>> config_from_dict({"tuning": {"methd": "dpo"}})
Traceback (most recent call last):
...
rlopt.errors.InputError: <config>: unknown key 'methd' in section 'tuning'; valid keys: method, preset, generator, max_steps, learning_rate, num_train_pairs, max_contexts (rule: keys are exactly the dataclass fields)
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlopt.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _f(default: Any, help: str, *, path: bool = False, choices: tuple[str, ...] = (), minimum=None):
    """A dataclass field with a one-line ``help`` and validation metadata."""
    meta = {"help": help, "path": path, "choices": choices, "minimum": minimum}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    seed: int = _f(0, "Run seed; every stage derives its own seed from it and the stage name.")
    out_dir: str = _f("runs/experiment", "Run directory (stage outputs, manifest, report); relative to the config file.", path=True)
    name: str = _f("experiment", "Experiment name, shown in the report and the manifest.")
    threads: int = _f(0, "torch CPU threads; 0 = torch's default. 1 is fastest on a busy shared machine.", minimum=0)


@dataclass
class DataConfig:
    market: str = _f("default", "Market config TOML ('default' = the packaged market); simulates the logs and is the A/B/OPE ground truth.", path=True)
    impressions: int = _f(150_000, "Impressions to simulate when no external `logs` are given.", minimum=1)
    logs: str = _f("", "External impression log (Parquet/JSONL/CSV); empty = simulate from `market`.", path=True)
    catalog: str = _f("", "External catalog; required with `logs`.", path=True)
    placements: str = _f("", "Placements file (TOML/JSON) overriding the market's, for external logs.", path=True)
    contexts: str = _f("", "Generation contexts (JSONL) for external logs; empty = held-out impressions' contexts.", path=True)
    holdout_fraction: float = _f(0.2, "Share of external logs held out (by time) for evaluation.", minimum=0.0)
    on_error: str = _f("quarantine", "What validation does with bad rows: 'fail' stops, 'quarantine' sets them aside and counts them.", choices=("fail", "quarantine"))


@dataclass
class RewardConfig:
    encoder: str = _f("default", "Text encoder: 'default' (MiniLM), a local directory or a Hugging Face id.", path=True)
    mode: str = _f("frozen", "'frozen' trains only the heads on cached embeddings; 'lora' / 'full' also tune the encoder.", choices=("frozen", "lora", "full"))
    max_epochs: int = _f(10, "Most training epochs (early stopping on a validation slice may stop sooner).", minimum=1)
    patience: int = _f(0, "Epochs without validation improvement before stopping; 0 = the trainer's default.", minimum=0)
    batch_size: int = _f(0, "Training batch size; 0 = the trainer's default for the mode.", minimum=0)
    lr: float = _f(0.0, "Learning rate of the heads; 0 = the trainer's default.", minimum=0.0)
    max_rows: int = _f(0, "Train on at most this many log rows (random subset); 0 = all.", minimum=0)


@dataclass
class TuningConfig:
    method: str = _f("dpo", "Tuning method: 'dpo' (offline pairs from logs), 'grpo' or 'rloo' (online, reward-model reward).", choices=("dpo", "grpo", "rloo"))
    preset: str = _f("quick", "Hyper-parameter preset of the tuning method: 'quick' (CPU, < 10 min), 'standard' (CPU, DPO ~25 min, GRPO/RLOO ~18-22 min) or 'full' (GPU).", choices=("quick", "standard", "full"))
    generator: str = _f("default", "Base generator: 'default' (SmolLM2-135M-Instruct), a local directory or a Hugging Face id.", path=True)
    max_steps: int = _f(0, "Optimizer steps; 0 = the preset's.", minimum=0)
    learning_rate: float = _f(0.0, "Learning rate; 0 = the preset's.", minimum=0.0)
    num_train_pairs: int = _f(0, "DPO: training pairs drawn from the mined pairs; 0 = the preset's.", minimum=0)
    max_contexts: int = _f(0, "GRPO/RLOO: training prompts drawn from the logs; 0 = the preset's.", minimum=0)


@dataclass
class GenerationConfig:
    num_samples: int = _f(2, "Copies sampled per (item, placement) context and generator (base and tuned).", minimum=1)
    batch_size: int = _f(16, "Contexts per generation batch.", minimum=1)
    temperature: float = _f(0.8, "Sampling temperature.", minimum=0.0)
    compliance: bool = _f(True, "Repair misleading discount claims in generated copy (wrong ones corrected, claims on undiscounted items removed, unrepairable copy replaced by the item title); the report gives the raw and shown rates.")


@dataclass
class ABConfig:
    impressions: int = _f(100_000, "Simulated impressions in the A/B test (split evenly between arms).", minimum=2)
    alpha: float = _f(0.05, "Significance level of the tests (two-sided).", minimum=0.0)
    primary_metric: str = _f("purchase_rate", "Decision metric: 'purchase_rate' (purchases per impression) or 'revenue_per_impression'.", choices=("purchase_rate", "revenue_per_impression"))
    max_misleading_rate: float = _f(0.01, "Guard: the tuned copy's misleading-claim rate must not exceed this.", minimum=0.0)


@dataclass
class BanditConfig:
    env_id: str = _f("rlopt/PlacementBandit-v0", "Gymnasium id of the placement environment (discrete actions).")
    policies: list[str] = _f(["uniform", "epsilon-greedy", "ucb1", "linucb", "linear-ts"], "Policy specs to compare, e.g. 'linucb:alpha=1.0' (see rlopt.policies.POLICY_NAMES).")
    steps: int = _f(20_000, "Environment steps (shoppers) per policy.", minimum=1)
    batch_size: int = _f(100, "Shoppers per vectorized step; policies update after each batch.", minimum=1)
    reward: str = _f("click", "Bandit reward: 'click', 'purchase' or 'value' (revenue).", choices=("click", "purchase", "value"))
    n_shoppers: int = _f(20_000, "Shopper population the environment draws from (scored once by the oracle).", minimum=1)


@dataclass
class OPEConfig:
    policy: str = _f("reward-model", "Policy to evaluate off-policy: 'reward-model[:epsilon=E]' (greedy on this run's reward model), 'logged-best[:epsilon=E]', 'uniform', or 'reward-model:DIR'.")
    estimators: list[str] = _f(["ipw", "snipw", "dm", "dr", "sndr"], "Estimators (OBP names: ipw, snipw, dm, dr, sndr, switch-dr, dr-os).")
    confidence_level: float = _f(0.95, "Level of the bootstrap confidence intervals.", minimum=0.0)
    n_bootstrap: int = _f(500, "Bootstrap resamples per estimator.", minimum=10)
    n_folds: int = _f(3, "Cross-fitting folds of the reward regression used by DM/DR.", minimum=2)
    max_eval_rows: int = _f(30_000, "Held-out rows the estimators use (random subset); 0 = all.", minimum=0)


@dataclass
class ReportConfig:
    title: str = _f("rlopt experiment report", "Report title.")
    examples_per_cell: int = _f(1, "Sample copies shown per (segment, placement) before/after.", minimum=1)


@dataclass
class ExperimentConfig:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    ab: ABConfig = field(default_factory=ABConfig)
    bandit: BanditConfig = field(default_factory=BanditConfig)
    ope: OPEConfig = field(default_factory=OPEConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    source: str = field(default="<config>", metadata={"help": "The file this config came from (not a TOML key)."})

    def section(self, name: str) -> dict[str, Any]:
        """The section ``name`` as a plain dict (for fingerprints and the manifest)."""
        return dataclasses.asdict(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """All sections as nested dicts (what the run directory's ``config.json`` holds)."""
        return {name: self.section(name) for name in SECTIONS}


SECTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source")
_NON_PATH_WORDS = {"default", ""}


def _check_value(value: Any, fld: dataclasses.Field, section: str, source: str) -> Any:
    """Type- and range-check one TOML value against its dataclass field; return it normalized."""
    hint = typing.get_type_hints(_SECTION_TYPES[section])[fld.name]
    where = dict(file=source, column=f"{section}.{fld.name}")
    if hint is bool or hint is str:
        ok = isinstance(value, hint)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:  # list[str]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        name = "list of str" if typing.get_origin(hint) is list else hint.__name__
        raise InputError(f"expected {name}, got {type(value).__name__}", rule="type", value=value, **where)
    choices, minimum = fld.metadata.get("choices"), fld.metadata.get("minimum")
    if choices and value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}", rule="choice", value=value, **where)
    if minimum is not None and value < minimum:
        raise InputError(f"must be >= {minimum}", rule="range", value=value, **where)
    return value


def _resolve_path(value: str, base: Path | None, section: str, key: str, source: str) -> str:
    """Resolve a path field against ``base``; a file that is not there is an error naming it.

    ``out_dir`` may not exist yet; ``encoder``/``generator``/``market`` accept words
    (``default``) and Hugging Face ids, which are left alone when no such path exists.
    """
    if value in _NON_PATH_WORDS:
        return value
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if key == "out_dir":
        return str(path.resolve())
    if path.exists():
        return str(path.resolve())
    looks_like_hub_id = key in ("encoder", "generator") and value.count("/") == 1 and not value.startswith(".")
    if looks_like_hub_id:
        return value
    raise InputError(
        f"the file named by {section}.{key} does not exist: {path}",
        file=source, column=f"{section}.{key}", rule="file exists", value=value,
    )


_SECTION_TYPES: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(ExperimentConfig)
    if f.name != "source"
}


def config_from_dict(data: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig` from parsed TOML, checking every section and key.

    Parameters
    ----------
    data : dict
        ``{section: {key: value}}`` as ``tomllib`` returns it.
    source : str
        Name of the file, used in error messages.
    base_dir : Path, optional
        Directory that relative paths are resolved against (the config file's directory).
    """
    unknown = [name for name in data if name not in SECTIONS]
    if unknown:
        raise InputError(
            f"unknown section '{unknown[0]}'; valid sections: {', '.join(SECTIONS)}",
            file=source, rule="sections are exactly the ExperimentConfig fields",
        )
    sections = {}
    for name in SECTIONS:
        cls = _SECTION_TYPES[name]
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise InputError(f"section '{name}' must be a table of keys", file=source, column=name, rule="type")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in fields:
                raise InputError(
                    f"unknown key '{key}' in section '{name}'; valid keys: {', '.join(fields)}",
                    file=source, rule="keys are exactly the dataclass fields",
                )
        values = {}
        for key, value in raw.items():
            value = _check_value(value, fields[key], name, source)
            if fields[key].metadata.get("path"):
                value = _resolve_path(value, base_dir, name, key, source)
            values[key] = value
        if "out_dir" in fields and "out_dir" not in values and base_dir is not None:
            values["out_dir"] = _resolve_path(fields["out_dir"].default, base_dir, name, "out_dir", source)
        sections[name] = cls(**values)
    cfg = ExperimentConfig(**sections, source=source)
    _check_consistency(cfg)
    return cfg


def _check_consistency(cfg: ExperimentConfig) -> None:
    """Rules that span several keys (kept apart from the per-key checks)."""
    d = cfg.data
    if d.logs and not d.catalog:
        raise InputError("data.logs is set but data.catalog is not; external logs need their catalog",
                         file=cfg.source, column="data.catalog", rule="logs requires catalog")
    if not d.logs and (d.catalog or d.contexts):
        key = "catalog" if d.catalog else "contexts"
        raise InputError(f"data.{key} is set without data.logs; set logs too, or remove {key} to simulate",
                         file=cfg.source, column=f"data.{key}", rule=f"{key} requires logs")
    if not 0.0 < d.holdout_fraction < 1.0:
        raise InputError("must be in (0, 1)", file=cfg.source, column="data.holdout_fraction",
                         rule="range", value=d.holdout_fraction)
    for key, value in (("ab.alpha", cfg.ab.alpha), ("ope.confidence_level", cfg.ope.confidence_level)):
        if not 0.0 < value < 1.0:
            raise InputError("must be in (0, 1)", file=cfg.source, column=key, rule="range", value=value)
    if not cfg.bandit.policies:
        raise InputError("list at least one policy", file=cfg.source, column="bandit.policies", rule="non-empty")
    if not cfg.ope.estimators:
        raise InputError("list at least one estimator", file=cfg.source, column="ope.estimators", rule="non-empty")


def load_config(path: str | Path, *, out_dir: str | Path | None = None) -> ExperimentConfig:
    """Read an experiment TOML file; ``out_dir`` (e.g. from ``--out``) overrides ``[run] out_dir``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", file=str(path), rule="file exists")
    try:
        from rlopt.data.io import read_text_file  # non-UTF-8 -> InputError naming the byte offset

        data = tomllib.loads(read_text_file(path))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", file=str(path), rule="TOML syntax") from err
    cfg = config_from_dict(data, source=str(path), base_dir=path.resolve().parent)
    if out_dir is not None:
        cfg.run.out_dir = str(Path(out_dir).expanduser().resolve())
    return cfg


def describe_fields() -> str:
    """Every section and key with its default and help, as Markdown (for experiments/README.md)."""
    lines = []
    for name in SECTIONS:
        lines.append(f"### [{name}]\n\n| key | default | what it does |\n|---|---|---|")
        for f in dataclasses.fields(_SECTION_TYPES[name]):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
            shown = str(default).lower() if isinstance(default, bool) else repr(default)  # TOML spelling
            lines.append(f"| `{f.name}` | `{shown}` | {f.metadata['help']} |")
        lines.append("")
    return "\n".join(lines)
