"""The simulated marketplace: catalog, shoppers, placements, copy pools, logging policy, ground truth.

The ground truth lives in :mod:`rlopt.market.truth` and is exposed to evaluators only through
:mod:`rlopt.market.oracle` (EVALUATION ONLY: training code must never import either).

Examples
--------
>>> from rlopt.market import DEFAULT_MARKET, Marketplace
>>> market = Marketplace.from_toml(DEFAULT_MARKET)
>>> sorted(market.segments)[:2]
['bargain_hunters', 'brand_loyalists']
"""

from rlopt.market.config import USER_FEATURE_NAMES, MarketConfig, PlacementSpec, Segment
from rlopt.market.logging_policy import LoggingPolicy
from rlopt.market.marketplace import DEFAULT_MARKET, Marketplace
from rlopt.market.simulation import Simulation, simulate

#: Numeric user features every simulated shopper has, same order everywhere.
user_feature_names: list[str] = list(USER_FEATURE_NAMES)

__all__ = [
    "DEFAULT_MARKET",
    "LoggingPolicy",
    "MarketConfig",
    "Marketplace",
    "PlacementSpec",
    "Segment",
    "Simulation",
    "simulate",
    "user_feature_names",
]
