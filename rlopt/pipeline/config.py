"""Experiment configuration: one dataclass per TOML section, keys exactly the dataclass fields.

An experiment file (``experiments/*.toml``) has the sections ``[run] [data] [reward] [tuning]
[generation] [ab] [bandit] [ope] [report]``; every key is a field below, with the field's
docstring-style ``help`` saying what it does. Three sections are the area's own config, so the CLI,
the TOML and Python share one set of names: ``[reward]`` is :class:`reward_models.train.TrainConfig`
(the options of ``rlopt reward train``) plus the run's ``max_rows`` and ``allow_weak``; ``[tuning]``
is ``method``, ``preset`` and any field of the method's config (:class:`rlopt.tuning.config.RloptDPOConfig` / ``RloptGRPOConfig`` /
``RloptRLOOConfig``, the flags of ``rlopt tune``; the preset fills what is not given), and ``[ope]``
is :class:`rlopt.ope.config.OPEConfig` (the flags of ``rlopt ope``).

An unknown section or key, a wrong type, a missing file or a value a later stage would refuse (a
bandit policy or OPE policy spec, an estimator, a tuning field) raises
:class:`rlopt.errors.InputError` naming the file, the key and the valid ones, before any stage
runs. Relative paths are resolved against the config file's directory (so a config works from
any working directory). ``overrides`` (``rlopt run --set tuning.learning_rate=1e-4``) replace one
key each and are checked like the file.

Examples
--------
>>> cfg = config_from_dict({"run": {"seed": 3}, "tuning": {"method": "grpo"}})
>>> cfg.run.seed, cfg.tuning.method, cfg.reward.mode
(3, 'grpo', 'frozen')
>>> config_from_dict({"tuning": {"min_confidance": 0.8}})
Traceback (most recent call last):
...
rlopt.errors.InputError: <config>, key 'tuning.min_confidance': unknown key 'min_confidance' in section 'tuning'; did you mean min_confidence? valid keys: method, preset and every field of RloptDPOConfig (see `rlopt tune --method dpo --help`) (rule: keys are exactly the dataclass fields)
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from reward_models.train import TrainConfig
from rlopt.data.io import read_text_file
from rlopt.errors import InputError
from rlopt.ope.config import OPEConfig
from rlopt.ope.specs import parse_spec
from rlopt.policies.registry import parse_policy_spec
from rlopt.tuning.config import CONFIG_CLASSES, make_config

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
    threads: int = _f(0, "torch CPU threads; 0 = chosen from the cores free when tuning or generation starts (one per idle core, so a busy machine does not stall them); a positive count is used as it is.", minimum=0)
    engine: str = _f("local", "Where validation, the time split of external logs and generation run: 'local' (this process) or 'ray' (Ray tasks and actors; the same outputs, so changing it reruns nothing).", choices=("local", "ray"))
    ray_address: str = _f("", "Ray cluster for engine = 'ray': host:port, ray://host:port, 'auto' or 'local'; empty = $RAY_ADDRESS, else a local Ray.")


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


REWARD_RUN_VALUES = ("seed", "progress")  # the run sets these (stage seed, no progress bar) unless given


@dataclass
class RewardSection(TrainConfig):
    """``[reward]``: every field of :class:`reward_models.train.TrainConfig` (the options of
    ``rlopt reward train``, same names and defaults) plus two keys that belong to the run, not to the
    trainer: ``max_rows`` subsamples the run's training logs before the trainer sees them (on the
    command line you choose the file), and ``allow_weak`` is the tuning stage's gate on the model's
    health (``rlopt tune --allow-weak-reward-model``).

    ``seed`` and ``progress`` are the run's (the reward stage's seed, no progress bar) unless the
    table gives them; :meth:`train_config` makes the trainer's config.
    """

    max_rows: int = _f(0, "Train on at most this many log rows (seeded random subset); 0 = all.", minimum=0)
    allow_weak: bool = _f(False, "Let GRPO/RLOO train against a reward model whose health check says no_signal (held-out AUC not above 0.5, or scores that do not tell copies apart).")
    given: ClassVar[frozenset[str]] = frozenset()  # keys the table set (explicit values win over the run's)
    PATH_KEYS: ClassVar[tuple[str, ...]] = ("encoder",)  # resolved against the config file (TrainConfig's
    # field metadata goes to argparse, so it cannot carry the ``path`` flag the other sections use)

    def train_config(self, **run_values: Any) -> TrainConfig:
        """The trainer's config: the table's fields, ``run_values`` (e.g. the stage's seed) where the
        table did not give that key."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)}
        values.update({k: v for k, v in run_values.items() if k not in self.given})
        return TrainConfig(**values)


TUNING_METHODS = ("dpo", "grpo", "rloo")
TUNING_PRESETS = ("quick", "standard", "full")
TUNING_RUN_KEYS = ("output_dir",)  # set by the run (<run>/tuning.tmp/adapter), not by the config


@dataclass
class TuningSection:
    """``[tuning]``: the method, its preset and the fields given explicitly (any field of the method's
    config class; the preset and the class fill the rest, explicit values win).

    Not a second config: :meth:`build` makes the method's own config (``RloptDPOConfig`` ...) with
    :func:`rlopt.tuning.config.make_config`, exactly as ``rlopt tune`` does.
    """

    method: str = field(default="dpo", metadata={"help": "Tuning method: 'dpo' (offline pairs from logs), 'grpo' or 'rloo' (online, reward-model reward).", "choices": TUNING_METHODS})
    preset: str = field(default="quick", metadata={"help": "Preset of the method's fields: 'quick' (CPU), 'standard' (CPU, longer) or 'full' (GPU); explicit keys win.", "choices": TUNING_PRESETS})
    fields: dict[str, Any] = field(default_factory=dict, metadata={"help": "Any field of the method's config (RloptDPOConfig / RloptGRPOConfig / RloptRLOOConfig), e.g. max_steps, learning_rate, min_confidence; see `rlopt tune --method M --help`."})

    @property
    def generator(self) -> str:
        """The base generator (``default`` unless the ``generator`` field is given)."""
        return str(self.fields.get("generator", "default"))

    @property
    def needs_reward_model(self) -> bool:
        """GRPO/RLOO score with the reward model; DPO only with ``reward_pairs`` > 0."""
        return self.method in ("grpo", "rloo") or float(self.fields.get("reward_pairs", 0.0)) > 0

    def build(self, **run_values: Any):
        """The method's config: preset, then ``run_values`` (e.g. the stage's seed), then the explicit fields."""
        return make_config(self.method, self.preset, **{**run_values, **self.fields})

    def as_dict(self) -> dict[str, Any]:
        """``method``, ``preset``, ``generator`` and the explicit fields (the fingerprint and ``config.json``)."""
        return {"method": self.method, "preset": self.preset, "generator": self.generator, **self.fields}


@dataclass
class GenerationConfig:
    num_samples: int = _f(2, "Copies sampled per (item, placement) context and generator (base and tuned).", minimum=1)
    batch_size: int = _f(16, "Contexts per generation batch.", minimum=1)
    temperature: float = _f(0.8, "Sampling temperature (> 0; as `rlopt generate --temperature`, at least 0.01).", minimum=0.01)
    max_contexts: int = _f(256, "Most contexts generated for with external logs ([data] contexts, else the held-out contexts); more are cut by seeded sampling (recorded in the stage summary). 0 = no cap.", minimum=0)
    compliance: bool = _f(True, "Repair misleading discount claims in generated copy (wrong ones corrected, claims on undiscounted items removed, unrepairable copy replaced by the item title); the report gives the raw and shown rates.")
    best_of: int = _f(1, "Samples per shown copy: each shown copy is the reward model's best of this many (rlopt.generation.rerank; rejected, defective or example-repeating samples never shown). 1 = no reranking.", minimum=1)
    rerank_metric: str = _f("reward", "Reward-model column best_of maximizes: 'reward' (its weighted click + purchase score), 'p_click', 'p_purchase' or 'expected_revenue'.", choices=("reward", "p_click", "p_purchase", "expected_revenue"))
    claim_check: bool = _f(True, "Reject generated copy that states a claim (a number, or a fact phrase such as 'loved by', 'handmade', 'free shipping') its item's catalog row and the shop's logged copy of it do not contain ('Loved by 10,000+ shoppers' for an item nobody said it of; rlopt.generation.claims); the copy is sampled again with resample, else the title is shown.")
    resample: int = _f(1, "Rounds of fresh samples for copies that would fall back to the item title (cleaned to nothing, unrepairable claim, a defect or an unbacked claim); the title is shown only after every round failed (rlopt.generation.sample.generate_copies). 0 = none. Default 1: measured on the packaged market (benchmarks/results/generation_defaults.json).", minimum=0)
    few_shot: int = _f(3, "Logged copies of each context's item shown in the prompt as examples (the training logs' best by the reward model's P(click); rlopt.generation.fewshot); they lifted the tuned generator on every market measured (docs/guides/tuning.md). 0 = none.", minimum=0)


@dataclass
class ABConfig:
    impressions: int = _f(100_000, "Simulated impressions in the A/B test (split evenly between arms).", minimum=2)
    alpha: float = _f(0.05, "Significance level of the tests (two-sided).", minimum=0.0)
    primary_metric: str = _f("purchase_rate", "Decision metric: 'purchase_rate' (purchases per impression) or 'revenue_per_impression'.", choices=("purchase_rate", "revenue_per_impression"))
    max_misleading_rate: float = _f(0.01, "Guard: the tuned copy's misleading-claim rate must not exceed this.", minimum=0.0)
    max_unbacked_rate: float = _f(0.01, "Guard: the share of shown tuned copy stating a claim (a number, or a fact phrase such as 'loved by', 'free shipping') that the item's catalog row and the shop's logged copy do not back must not exceed this (rlopt.generation.claims; with [generation] claim_check on, such copy is not shown). Applies on your logs too.", minimum=0.0)


@dataclass
class BanditConfig:
    env_id: str = _f("rlopt/PlacementBandit-v0", "Gymnasium id of the placement environment (discrete actions).")
    policies: list[str] = _f(["uniform", "epsilon-greedy", "ucb1", "linucb", "linear-ts"], "Policy specs to compare, e.g. 'linucb:alpha=1.0' (see rlopt.policies.POLICY_NAMES).")
    steps: int = _f(20_000, "Environment steps (shoppers) per policy.", minimum=1)
    batch_size: int = _f(100, "Shoppers per vectorized step; policies update after each batch.", minimum=1)
    reward: str = _f("click", "Bandit reward: 'click', 'purchase' or 'value' (revenue).", choices=("click", "purchase", "value"))
    n_shoppers: int = _f(20_000, "Shopper population the environment draws from (scored once by the oracle).", minimum=1)


@dataclass
class ReportConfig:
    title: str = _f("rlopt experiment report", "Report title.")
    examples_per_cell: int = _f(1, "Sample copies shown per (segment, placement) before/after.", minimum=1)


@dataclass
class ExperimentConfig:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    reward: RewardSection = field(default_factory=RewardSection)
    tuning: TuningSection = field(default_factory=TuningSection)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    ab: ABConfig = field(default_factory=ABConfig)
    bandit: BanditConfig = field(default_factory=BanditConfig)
    ope: OPEConfig = field(default_factory=OPEConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    source: str = field(default="<config>", metadata={"help": "The file this config came from (not a TOML key)."})

    def section(self, name: str) -> dict[str, Any]:
        """The section ``name`` as a plain dict (for fingerprints and the manifest)."""
        value = getattr(self, name)
        return value.as_dict() if isinstance(value, TuningSection) else dataclasses.asdict(value)

    def to_dict(self) -> dict[str, Any]:
        """All sections as nested dicts (what the run directory's ``config.json`` holds)."""
        return {name: self.section(name) for name in SECTIONS}


SECTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source")
_NON_PATH_WORDS = {"default", ""}
_SECTION_TYPES: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(ExperimentConfig)
    if f.name != "source"
}
RULE_KEYS = "keys are exactly the dataclass fields"


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits the type hint ``hint`` (ints pass for floats; hints that are not
    types, such as type variables, pass: the dataclass's own checks decide)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple):
        item = args[0] if args else Any
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in [e.value for e in hint]
    if isinstance(hint, type):  # a class TOML cannot spell (e.g. accelerate's ParallelismConfig)
        return isinstance(value, hint)
    return True


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0]) if args else 'values'}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    return getattr(hint, "__name__", str(hint))


def _check_value(value: Any, hint: Any, fld: dataclasses.Field | None, key: str, source: str) -> Any:
    """Type- and range-check one TOML value against its field; return it normalized (ints -> floats)."""
    if not _type_ok(value, hint):
        raise InputError(f"expected {_type_name(hint)}, got {type(value).__name__}", rule="type", value=value,
                         file=source, key=key)
    if hint is float:
        value = float(value)
    meta = fld.metadata if fld is not None else {}
    choices, minimum = meta.get("choices"), meta.get("minimum")
    if choices and value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}", rule="choice", value=value, file=source, key=key)
    if minimum is not None and value < minimum:
        raise InputError(f"must be >= {minimum}", rule="range", value=value, file=source, key=key)
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
        file=source, key=f"{section}.{key}", rule="file exists", value=value,
    )


def _unknown_key(section: str, key: str, valid: list[str], source: str, *, long_list: str | None = None) -> InputError:
    """``unknown key`` naming close matches and the valid keys (or where a long list of them is)."""
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.75)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    listed = long_list or ", ".join(valid)
    return InputError(f"unknown key '{key}' in section '{section}'; {hint}valid keys: {listed}",
                      file=source, key=f"{section}.{key}", rule=RULE_KEYS)


def _rekey(err: InputError, section: str, source: str) -> InputError:
    """An area config's InputError (``key='lambda_'``) as the config file's (``key='ope.lambda_'``)."""
    key = f"{section}.{err.key}" if err.key else section
    return InputError(err.message, file=source, key=key, rule=err.rule, value=err.value)


def _tuning_section(raw: dict[str, Any], source: str, base_dir: Path | None) -> TuningSection:
    """``[tuning]``: method and preset checked, every other key a field of the method's config class,
    type-checked; the method's config is built once here so a bad value fails before any stage."""
    own = {f.name: f for f in dataclasses.fields(TuningSection) if f.name != "fields"}
    picked = {k: _check_value(raw[k], str, own[k], f"tuning.{k}", source) for k in own if k in raw}
    section = TuningSection(**picked)
    cls = CONFIG_CLASSES[section.method]
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        if key in own:
            continue
        if key in TUNING_RUN_KEYS:
            raise InputError(f"tuning.{key} is set by the run (its tuning stage writes <run>/tuning); remove it",
                             file=source, key=f"tuning.{key}", rule="set by the run")
        if key not in names:
            raise _unknown_key("tuning", key, ["method", "preset", *names], source, long_list=(
                f"method, preset and every field of {cls.__name__} (see `rlopt tune --method {section.method} "
                "--help`)"))
        value = _check_value(value, hints[key], None, f"tuning.{key}", source)
        if key == "generator":
            value = _resolve_path(value, base_dir, "tuning", key, source)
        values[key] = value
    section.fields = values
    try:
        section.build()
    except InputError as err:
        raise _rekey(err, "tuning", source) from None
    except (ValueError, TypeError) as err:  # TRL's / transformers' own checks
        raise InputError(f"{section.method} config: {err}", file=source, key="tuning",
                         rule=f"{cls.__name__} checks") from None
    return section


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
        close = difflib.get_close_matches(unknown[0], SECTIONS, n=1)
        raise InputError(
            f"unknown section '{unknown[0]}'; {f'did you mean {close[0]}? ' if close else ''}"
            f"valid sections: {', '.join(SECTIONS)}",
            file=source, rule="sections are exactly the ExperimentConfig fields",
        )
    sections = {}
    for name in SECTIONS:
        cls = _SECTION_TYPES[name]
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            raise InputError(f"section '{name}' must be a table of keys", file=source, key=name, rule="type")
        if cls is TuningSection:
            sections[name] = _tuning_section(raw, source, base_dir)
            continue
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key in raw:
            if key not in fields:
                raise _unknown_key(name, key, list(fields), source)
        values = {}
        for key, value in raw.items():
            value = _check_value(value, hints[key], fields[key], f"{name}.{key}", source)
            if fields[key].metadata.get("path") or key in getattr(cls, "PATH_KEYS", ()):
                value = _resolve_path(value, base_dir, name, key, source)
            values[key] = value
        if "out_dir" in fields and "out_dir" not in values and base_dir is not None:
            values["out_dir"] = _resolve_path(fields["out_dir"].default, base_dir, name, "out_dir", source)
        try:
            sections[name] = cls(**values)
        except InputError as err:  # the area's own checks (OPEConfig, TrainConfig)
            raise _rekey(err, name, source) from None
        if cls is RewardSection:
            sections[name].given = frozenset(values)
    cfg = ExperimentConfig(**sections, source=source)
    _check_consistency(cfg)
    _check_specs(cfg)
    return cfg


def _check_consistency(cfg: ExperimentConfig) -> None:
    """Rules that span several keys (kept apart from the per-key checks)."""
    if cfg.run.ray_address and cfg.run.engine != "ray":
        raise InputError("run.ray_address is only used with run.engine = 'ray'", file=cfg.source,
                         key="run.ray_address", rule="ray_address requires engine ray", value=cfg.run.ray_address)
    d = cfg.data
    if d.logs and not d.catalog:
        raise InputError("data.logs is set but data.catalog is not; external logs need their catalog",
                         file=cfg.source, key="data.catalog", rule="logs requires catalog")
    if not d.logs and (d.catalog or d.contexts):
        key = "catalog" if d.catalog else "contexts"
        raise InputError(f"data.{key} is set without data.logs; set logs too, or remove {key} to simulate",
                         file=cfg.source, key=f"data.{key}", rule=f"{key} requires logs")
    if not 0.0 < d.holdout_fraction < 1.0:
        raise InputError("must be in (0, 1)", file=cfg.source, key="data.holdout_fraction",
                         rule="range", value=d.holdout_fraction)
    if not 0.0 < cfg.ab.alpha < 1.0:
        raise InputError("must be in (0, 1)", file=cfg.source, key="ab.alpha", rule="range", value=cfg.ab.alpha)
    if not cfg.bandit.policies:
        raise InputError("list at least one policy", file=cfg.source, key="bandit.policies", rule="non-empty")


RUN_REWARD_MODEL = Path("<this run>") / "reward" / "model"  # stands in for the run's model when checking specs


def ope_policy_spec(spec: str, reward_model_dir: Path) -> str:
    """``[ope] policy`` as an ``rlopt.ope`` spec: ``reward-model`` without a directory means this run's
    reward model ``reward_model_dir`` (greedy on its scores).

    >>> ope_policy_spec("reward-model:epsilon=0.1", Path("/r/model"))
    'reward-model:/r/model:epsilon=0.1'
    >>> ope_policy_spec("logged-best", Path("/r/model"))
    'logged-best'
    """
    if not uses_run_reward_model(spec):
        return spec
    rest = spec.partition(":")[2]
    return f"reward-model:{reward_model_dir}" + (f":{rest}" if rest else "")


def data_source(config: ExperimentConfig) -> str:
    """Which data the stages learn from and are judged on, in the report's words: ``"your logs
    (<file>)"`` with ``[data] logs``, else ``"simulated market <name>"``.

    >>> cfg = ExperimentConfig()
    >>> data_source(cfg)
    'simulated market default'
    >>> cfg.data.logs = "shop/logs.csv"
    >>> data_source(cfg)
    'your logs (shop/logs.csv)'
    """
    if config.data.logs:
        return f"your logs ({config.data.logs})"
    return f"simulated market {Path(config.data.market).name if config.data.market != 'default' else 'default'}"


def uses_run_reward_model(spec: str) -> bool:
    """Whether ``[ope] policy`` is ``reward-model[:options]`` without a directory (this run's model)."""
    head, _, rest = spec.partition(":")
    return head == "reward-model" and not (rest and "=" not in rest.split(":")[0])


def _check_specs(cfg: ExperimentConfig) -> None:
    """The specs later stages parse, parsed now by the same functions (so a typo fails before the
    first stage, with the stage's message): ``[bandit] policies`` and ``[ope] policy``
    (``[ope] estimators`` are checked by :class:`OPEConfig` itself)."""
    for spec in cfg.bandit.policies:
        try:
            parse_policy_spec(spec)
        except InputError as err:
            raise InputError(err.message, file=cfg.source, key="bandit.policies", rule=err.rule,
                             value=spec) from None
    try:
        parse_spec(ope_policy_spec(cfg.ope.policy, RUN_REWARD_MODEL))
    except InputError as err:
        raise InputError(err.message, file=cfg.source, key="ope.policy", rule=err.rule,
                         value=cfg.ope.policy) from None


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``["tuning.learning_rate=1e-4", ...]`` as ``{section: {key: value}}``, values in TOML syntax.

    A value that is not valid TOML (``tuning.method=grpo``) is taken as a bare string.

    >>> parse_overrides(["tuning.learning_rate=1e-4", "tuning.method=grpo", "bandit.policies=['ucb1']"])
    {'tuning': {'learning_rate': 0.0001, 'method': 'grpo'}, 'bandit': {'policies': ['ucb1']}}
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not eq or not dot or not section or not key:
            raise InputError("--set takes section.key=value, e.g. --set tuning.learning_rate=1e-4",
                             key="--set", value=item, rule="section.key=value")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out.setdefault(section, {})[key] = value
    return out


def load_config(path: str | Path, *, out_dir: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment TOML file; ``out_dir`` (e.g. from ``--out``) overrides ``[run] out_dir``;
    ``overrides`` (``--set section.key=value``) replace keys before the whole config is checked."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", file=str(path), rule="file exists")
    try:
        data = tomllib.loads(read_text_file(path))  # non-UTF-8 -> InputError naming the byte offset
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML: {err}", file=str(path), rule="TOML syntax") from err
    given = parse_overrides(overrides)
    for section, values in given.items():
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table.update(values)
    try:
        cfg = config_from_dict(data, source=str(path), base_dir=path.resolve().parent)
    except InputError as err:
        keys = {f"{s}.{k}" for s, values in given.items() for k in values}
        if err.key in keys or (err.key is None and set(given) - set(SECTIONS)):
            raise InputError(err.message, file=f"{path} with --set", key=err.key, rule=err.rule,
                             value=err.value) from None
        raise
    if out_dir is not None:
        cfg.run.out_dir = str(Path(out_dir).expanduser().resolve())
    return cfg


def describe_fields() -> str:
    """Every section and key with its default and help, as Markdown (for experiments/README.md)."""
    lines = []
    for name in SECTIONS:
        lines.append(f"### [{name}]\n\n| key | default | what it does |\n|---|---|---|")
        for f in dataclasses.fields(_SECTION_TYPES[name]):
            if _SECTION_TYPES[name] is TuningSection and f.name == "fields":
                lines.append(f"| *any field of the method's config* | the preset's | {_cell(f.metadata['help'])} |")
                lines += _project_tuning_rows()
                continue
            lines.append(f"| `{f.name}` | `{_toml_default(f)}` | {_cell(f.metadata['help'])} |")
        lines.append("")
    return "\n".join(lines)


def _toml_default(f: dataclasses.Field) -> str:
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    if default is None:
        return "unset"  # TOML has no null: leave the key out
    return str(default).lower() if isinstance(default, bool) else repr(default)  # TOML spelling


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _project_tuning_rows() -> list[str]:
    """One row per field rlopt adds to TRL's configs (TRL's own are documented by TRL), with the methods
    that have it; defaults are the class's (a preset may set another)."""
    rows: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for method, cls in CONFIG_CLASSES.items():
        trl_base = next(c for c in cls.__mro__ if c.__module__.startswith("trl."))  # DPOConfig, ...
        trl_names = {f.name for f in dataclasses.fields(trl_base)}
        for f in dataclasses.fields(cls):
            if f.name not in trl_names and f.name != "preset":
                rows.setdefault(f.name, (f, []))[1].append(method)
    return [f"| `{n}` ({'/'.join(m)}) | `{_toml_default(f)}` | {_cell(f.metadata['help'])} |"
            for n, (f, m) in rows.items()]
