"""The market configuration: dataclasses read from a strict TOML file.

Every section of ``rlopt/market/default.toml`` maps onto one dataclass below. An unknown key
at any level is an :class:`~rlopt.errors.InputError` naming the key, its section and the valid keys,
so a typo never silently falls back to a default.

Sections
--------
``[market]``            name, seed (catalog, pools and logging-policy priors derive from it), pool_size
``[catalog]``           item count, discount levels, ``[catalog.brands]`` (name -> tier) and
                        ``[catalog.categories.<name>]`` (nouns, price range, attributes, benefits, brands)
``[segments.<name>]``   share, description, purchase propensity, category/tier affinities,
                        ``taste`` (weights over copy lexicons) and ``user_means`` (numeric user features)
``[placements.<name>]`` max_chars, slots, examination (per slot), traffic_share
``[logging_policy]``    temperature, epsilon, prior_noise
``[truth]``             weights of the ground-truth response model (see :mod:`rlopt.market.truth`);
                        ``copy_defect`` > 0 is market version 2 (defective copy loses clicks), opt-in
``[simulation]``        holdout_fraction, n_users, start_timestamp, mean_gap_ms, n_contexts, user_feature_sd
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlopt.errors import InputError
from rlopt.market._checks import check_config
from rlopt.market.names import TASTE_KEYS, TIERS, USER_FEATURE_NAMES  # noqa: F401  (also imported from here)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib



@dataclass(frozen=True)
class CategorySpec:
    """One product category: what its items are called and what they offer."""

    name: str
    nouns: tuple[str, ...]
    price_range: tuple[float, float]
    attributes: tuple[str, ...]
    benefits: tuple[str, ...]
    brands: tuple[str, ...]
    model_names: tuple[str, ...] = ("Aero", "Nova", "Core", "Flex", "Prime", "Terra", "Pulse", "Edge")
    #: attribute -> phrases that count as mentioning it ("keeps you dry" for "waterproof")
    attribute_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogConfig:
    """How the catalog is generated (deterministically from ``MarketConfig.seed``)."""

    n_items: int = 60
    discount_share: float = 0.45
    discount_levels: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0, 30.0, 40.0)
    brands: dict[str, str] = field(default_factory=dict)
    categories: dict[str, CategorySpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """A group of shoppers with shared tastes.

    Attributes
    ----------
    name : str
    share : float
        Fraction of the user population in this segment.
    description : str
        Plain English, used in generation prompts.
    purchase_propensity : float
        Additive logit of P(purchase | click).
    price_weight : float
        How strongly a high price lowers P(purchase | click) (logit per log-price unit).
    category_affinity : dict[str, float]
        Logit added to clicks (and half of it to purchases) per category; also steers which items the
        segment is shown. Missing categories count 0.
    tier_affinity : dict[str, float]
        Logit per brand tier (budget, mid, premium).
    taste : dict[str, float]
        Weights over copy lexicons (keys in ``TASTE_KEYS``).
    user_means : dict[str, float]
        Mean of each numeric user feature (keys in ``USER_FEATURE_NAMES``), each in [0, 1].
    """

    name: str
    share: float
    description: str
    purchase_propensity: float = 0.0
    price_weight: float = 0.3
    category_affinity: dict[str, float] = field(default_factory=dict)
    tier_affinity: dict[str, float] = field(default_factory=dict)
    taste: dict[str, float] = field(default_factory=dict)
    user_means: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PlacementSpec:
    """A placement as the market sees it: the contract ``Placement`` plus its share of traffic."""

    name: str
    max_chars: int
    slots: int
    examination: tuple[float, ...]
    traffic_share: float = 0.25


@dataclass(frozen=True)
class LoggingPolicyConfig:
    """softmax(prior / temperature) mixed with epsilon-uniform over each copy pool."""

    temperature: float = 0.7
    epsilon: float = 0.1
    prior_noise: float = 0.6


@dataclass(frozen=True)
class TruthConfig:
    """Weights of the ground-truth response model (logit units; see :mod:`rlopt.market.truth`)."""

    placement_base: dict[str, float] = field(default_factory=dict)
    relevance: float = 1.3
    off_topic: float = 1.6
    benefit: float = 0.7
    cta: float = 0.6
    claim: float = 3.0
    lexicon: float = 0.6
    truncated: float = 1.4
    repetition: float = 3.0
    gibberish: float = 4.0
    too_short: float = 0.8
    stuffing: float = 3.0
    shouting: float = 1.5
    underfill: float = 0.6
    mixed_message: float = 1.5
    other_brand: float = 0.8
    #: Click logit lost per copy defect a shopper sees (rlopt.generation.quality: leaked instructions,
    #: invented URL / contact, punctuation junk, ending mid-phrase without a cut; see
    #: rlopt.market.truth). Market version 2; 0 (the default, so configs written before it keep their
    #: behaviour) leaves it out.
    copy_defect: float = 0.0
    empty: float = -9.0
    user_gain: float = 2.0
    purchase_base: float = -2.6
    purchase_relevance: float = 0.8
    real_discount: float = 2.5
    accurate_claim: float = 0.3
    overclaim_flat: float = 1.2
    overclaim: float = 8.0


@dataclass(frozen=True)
class SimulationConfig:
    """Traffic: who shops, when, and how the logs are split."""

    holdout_fraction: float = 0.2
    n_users: int = 5000
    start_timestamp: str = "2026-01-05T00:00:00Z"
    mean_gap_ms: float = 500.0
    n_contexts: int = 200
    user_feature_sd: float = 0.12


@dataclass(frozen=True)
class MarketConfig:
    """The whole market: catalog, shoppers, placements, logging policy, truth and traffic."""

    name: str = "default"
    seed: int = 7
    pool_size: int = 8
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    segments: dict[str, Segment] = field(default_factory=dict)
    placements: dict[str, PlacementSpec] = field(default_factory=dict)
    logging_policy: LoggingPolicyConfig = field(default_factory=LoggingPolicyConfig)
    truth: TruthConfig = field(default_factory=TruthConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_toml(cls, path: str | Path) -> MarketConfig:
        """Read and check a market TOML file (unknown keys are errors)."""
        path = Path(path)
        try:
            from rlopt.data.io import read_text_file  # non-UTF-8 -> InputError naming the byte offset

            data = tomllib.loads(read_text_file(path))
        except FileNotFoundError:
            raise InputError("market config not found", file=str(path)) from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"not valid TOML: {err}", file=str(path), rule="TOML syntax") from None
        return cls.from_dict(data, file=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str | None = None) -> MarketConfig:
        """Build a config from the nested dict of a TOML file; see the module docstring."""
        _check_keys(data, {"market", "catalog", "segments", "placements", "logging_policy", "truth",
                           "simulation"}, "top level", file)
        market = dict(data.get("market", {}))
        _check_keys(market, {"name", "seed", "pool_size"}, "[market]", file)
        cat_data = dict(data.get("catalog", {}))
        _check_keys(cat_data, {f.name for f in dataclasses.fields(CatalogConfig)}, "[catalog]", file)
        categories = {
            name: _build(CategorySpec, spec, f"[catalog.categories.{name}]", file, name)
            for name, spec in _table(cat_data.pop("categories", {}), "[catalog.categories]", file).items()
        }
        brands = cat_data.pop("brands", {})
        if not isinstance(brands, dict) or not all(isinstance(v, str) for v in brands.values()):
            raise InputError("[catalog.brands] must map brand names to tiers", file=file, column="brands",
                             rule="brand = \"tier\"")
        catalog = _build(CatalogConfig, {**cat_data, "brands": brands, "categories": categories},
                         "[catalog]", file)
        segments = {
            name: _build(Segment, spec, f"[segments.{name}]", file, name)
            for name, spec in _table(data.get("segments", {}), "[segments]", file).items()
        }
        placements = {
            name: _build(PlacementSpec, spec, f"[placements.{name}]", file, name)
            for name, spec in _table(data.get("placements", {}), "[placements]", file).items()
        }
        config = cls(
            name=str(market.get("name", "default")),
            seed=int(market.get("seed", 7)),
            pool_size=int(market.get("pool_size", 8)),
            catalog=catalog,
            segments=segments,
            placements=placements,
            logging_policy=_build(LoggingPolicyConfig, data.get("logging_policy", {}), "[logging_policy]",
                                  file),
            truth=_build(TruthConfig, data.get("truth", {}), "[truth]", file),
            simulation=_build(SimulationConfig, data.get("simulation", {}), "[simulation]", file),
        )
        check_config(config, file)
        return config

    # ------------------------------------------------------------------ writing
    def to_dict(self) -> dict[str, Any]:
        """The nested dict that :meth:`from_dict` reads back (names live in the table keys)."""

        def strip(obj: Any) -> Any:
            if dataclasses.is_dataclass(obj):
                return {f.name: strip(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                        if f.name != "name"}
            if isinstance(obj, dict):
                return {k: strip(v) for k, v in obj.items()}
            if isinstance(obj, tuple):
                return [strip(v) for v in obj]
            return obj

        out = {"market": {"name": self.name, "seed": self.seed, "pool_size": self.pool_size}}
        for key in ("catalog", "segments", "placements", "logging_policy", "truth", "simulation"):
            out[key] = strip(getattr(self, key))
        return out

    def to_toml(self) -> str:
        """This config as TOML text (round-trips through :meth:`from_toml`)."""
        from rlopt.market._toml import dumps

        return dumps(self.to_dict())


# ---------------------------------------------------------------------- helpers
def _check_keys(data: dict[str, Any], valid: set[str], section: str, file: str | None) -> None:
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise InputError(
            f"unknown key '{unknown[0]}' in {section}; valid keys: {', '.join(sorted(valid))}",
            file=file, column=unknown[0], rule="known market-config keys",
        )


def _table(value: Any, section: str, file: str | None) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InputError(f"{section} must be a table of tables", file=file, rule="TOML table")
    return value


def _build(cls: type, data: Any, section: str, file: str | None, name: str | None = None) -> Any:
    """Instantiate dataclass ``cls`` from ``data``, coercing lists to tuples and checking key names.

    ``name`` (the table's key) fills the dataclass's ``name`` field; it is not a valid key inside.
    """
    if not isinstance(data, dict):
        raise InputError(f"{section} must be a table", file=file, rule="TOML table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(data, set(fields) - {"name"}, section, file)
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        origin = typing.get_origin(hint)
        try:
            if origin is tuple:
                item_type = typing.get_args(hint)[0]
                if not isinstance(value, (list, tuple)):
                    raise TypeError("expected a list")
                value = tuple(item_type(v) for v in value)
            elif origin is dict:
                if not isinstance(value, dict):
                    raise TypeError("expected a table")
                if typing.get_args(hint)[1] is float:
                    value = {str(k): float(v) for k, v in value.items()}
            elif hint in (int, float, str):
                if isinstance(value, (dict, list)):
                    raise TypeError(f"expected a {hint.__name__}")
                value = hint(value)
        except (TypeError, ValueError) as err:
            raise InputError(f"bad value for '{key}' in {section}: {err}", file=file, column=key,
                             rule=f"{key}: {getattr(hint, '__name__', hint)}", value=value) from None
        kwargs[key] = value
    if name is not None:
        kwargs["name"] = name
    return cls(**kwargs)
