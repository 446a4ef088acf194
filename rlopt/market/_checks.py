"""Semantic checks of a market config (run once by ``MarketConfig.from_dict``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlopt.errors import InputError
from rlopt.market.names import TASTE_KEYS, TIERS, USER_FEATURE_NAMES

if TYPE_CHECKING:
    from rlopt.market.config import MarketConfig


def _fail(message: str, file: str | None, column: str, rule: str, value: object = None) -> None:
    raise InputError(message, file=file, column=column, rule=rule, value=value)


def check_config(config: MarketConfig, file: str | None = None) -> None:
    """Raise :class:`InputError` for the first inconsistency in ``config``."""
    from rlopt.data.schema import Placement

    cat = config.catalog
    if config.pool_size < 2:
        _fail("pool_size must be at least 2", file, "pool_size", "pool_size >= 2", config.pool_size)
    if not cat.categories:
        _fail("[catalog.categories] is empty; define at least one category", file, "categories",
              "non-empty")
    if cat.n_items < len(cat.categories):
        _fail("n_items must be at least the number of categories", file, "n_items",
              "n_items >= categories", cat.n_items)
    if not 0.0 <= cat.discount_share <= 1.0:
        _fail("discount_share must be in [0, 1]", file, "discount_share", "in [0, 1]", cat.discount_share)
    if any(not 0 < d <= 95 for d in cat.discount_levels) or not cat.discount_levels:
        _fail("discount_levels must be non-empty values in (0, 95]", file, "discount_levels", "in (0, 95]",
              cat.discount_levels)
    for brand, tier in cat.brands.items():
        if tier not in TIERS:
            _fail(f"brand '{brand}' has unknown tier; valid tiers: {', '.join(TIERS)}", file, brand,
                  "brand tier", tier)
    for spec in cat.categories.values():
        where = f"[catalog.categories.{spec.name}]"
        for key in ("nouns", "attributes", "benefits", "brands", "model_names"):
            if not getattr(spec, key):
                _fail(f"{where} '{key}' must not be empty", file, key, "non-empty list")
        lo, hi = (spec.price_range + (0.0, 0.0))[:2]
        if len(spec.price_range) != 2 or not 0 < lo <= hi:
            _fail(f"{where} price_range must be [low, high] with 0 < low <= high", file, "price_range",
                  "0 < low <= high", spec.price_range)
        unknown = sorted(set(spec.attribute_synonyms) - set(spec.attributes))
        if unknown:
            _fail(f"unknown key '{unknown[0]}' in {where[:-1]}.attribute_synonyms]; valid keys: "
                  f"{', '.join(spec.attributes)}", file, unknown[0], "known market-config keys")
        for brand in spec.brands:
            if brand not in cat.brands:
                _fail(f"{where} brand '{brand}' is not in [catalog.brands]; known: "
                      f"{', '.join(sorted(cat.brands))}", file, "brands", "brand declared")
    if not config.segments:
        _fail("[segments] is empty; define at least one segment", file, "segments", "non-empty")
    for seg in config.segments.values():
        where = f"[segments.{seg.name}]"
        if seg.share <= 0:
            _fail(f"{where} share must be > 0", file, "share", "share > 0", seg.share)
        for key, valid in (("category_affinity", tuple(cat.categories)), ("tier_affinity", TIERS),
                           ("taste", TASTE_KEYS), ("user_means", USER_FEATURE_NAMES)):
            unknown = sorted(set(getattr(seg, key)) - set(valid))
            if unknown:
                _fail(f"unknown key '{unknown[0]}' in {where[:-1]}.{key}]; valid keys: {', '.join(valid)}",
                      file, unknown[0], "known market-config keys")
        for key, value in seg.user_means.items():
            if not 0.0 <= value <= 1.0:
                _fail(f"{where} user_means.{key} must be in [0, 1]", file, key, "in [0, 1]", value)
    if not config.placements:
        _fail("[placements] is empty; define at least one placement", file, "placements", "non-empty")
    for spec in config.placements.values():
        try:
            Placement(spec.name, spec.max_chars, spec.slots, spec.examination)
        except ValueError as err:
            _fail(str(err), file, spec.name, "placement")
        if spec.traffic_share <= 0:
            _fail(f"[placements.{spec.name}] traffic_share must be > 0", file, "traffic_share", "> 0",
                  spec.traffic_share)
    unknown = sorted(set(config.truth.placement_base) - set(config.placements))
    if unknown:
        _fail(f"unknown key '{unknown[0]}' in [truth.placement_base]; valid keys: "
              f"{', '.join(config.placements)}", file, unknown[0], "known market-config keys")
    lp = config.logging_policy
    if lp.temperature <= 0 or not 0 <= lp.epsilon <= 1 or lp.prior_noise < 0:
        _fail("[logging_policy] needs temperature > 0, epsilon in [0, 1], prior_noise >= 0", file,
              "logging_policy", "logging policy ranges")
    sim = config.simulation
    if not 0 < sim.holdout_fraction < 1:
        _fail("[simulation] holdout_fraction must be in (0, 1)", file, "holdout_fraction", "in (0, 1)",
              sim.holdout_fraction)
    if sim.n_users < 1 or sim.n_contexts < 1 or sim.mean_gap_ms <= 0 or sim.user_feature_sd < 0:
        _fail("[simulation] needs n_users >= 1, n_contexts >= 1, mean_gap_ms > 0, user_feature_sd >= 0",
              file, "simulation", "simulation ranges")
    from rlopt.market._time import parse_timestamp

    parse_timestamp(sim.start_timestamp, file)
