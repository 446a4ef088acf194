"""The simulated marketplace: catalog, shoppers, placements, copy pools and the logging policy."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.data.schema import Placement
from rlopt.errors import InputError
from rlopt.market._columns import numbered_strings, take_strings
from rlopt.market.catalog import generate_catalog
from rlopt.market.config import MarketConfig, Segment
from rlopt.market.copy_pool import build_pool
from rlopt.market.logging_policy import LoggingPolicy
from rlopt.market.names import USER_FEATURE_NAMES
from rlopt.market.simulation import simulate
from rlopt.seeding import RNGLike, as_rng

#: The default market config (a Path): ``rlopt/market/default.toml``, packaged with rlopt, so a
#: checkout and an installed copy read the same file.
DEFAULT_MARKET = Path(__file__).resolve().with_name("default.toml")


class Marketplace:
    """A simulated marketplace built deterministically from a :class:`MarketConfig`.

    Parameters
    ----------
    config : MarketConfig
        Read one with :meth:`from_toml`; ``config.seed`` fixes the catalog, the user population,
        the copy pools and the logging policy's prior noise (impressions take their own seed).

    Examples
    --------
    >>> market = Marketplace.from_toml(DEFAULT_MARKET)
    >>> len(market.catalog) >= 40, sorted(market.placements)[:2]
    (True, ['email_subject', 'home_banner'])
    >>> sim = market.simulate(2000, seed=0)
    >>> bool((sim.logs["converted"] <= sim.logs["clicked"]).all())
    True
    """

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.source: Path | None = None

    @classmethod
    def from_toml(cls, path: str | Path = DEFAULT_MARKET) -> Marketplace:
        """Build the market described by a TOML file (unknown keys raise ``InputError``)."""
        market = cls(MarketConfig.from_toml(path))
        market.source = Path(path)
        return market

    # ------------------------------------------------------------------ the world
    @cached_property
    def catalog(self) -> pd.DataFrame:
        """Contract catalog; ``attributes`` dicts hold ``key_attribute, benefit, noun, tier``."""
        return generate_catalog(self.config.catalog, self.config.seed)

    @cached_property
    def placements(self) -> dict[str, Placement]:
        """Contract placements by name."""
        return {name: Placement(name, p.max_chars, p.slots, tuple(p.examination))
                for name, p in self.config.placements.items()}

    @property
    def segments(self) -> dict[str, Segment]:
        """Shopper segments by name (``.name``, ``.description``, tastes)."""
        return self.config.segments

    @property
    def pool_size(self) -> int:
        """Number of copies in every pool."""
        return self.config.pool_size

    @cached_property
    def pools(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """``(item_id, placement) -> [(kind, text), ...]`` for every item and placement."""
        out = {}
        for i, item in enumerate(self.catalog.to_dict("records")):
            for j, (name, spec) in enumerate(self.config.placements.items()):
                out[(item["item_id"], name)] = build_pool(item, spec.max_chars, self.pool_size,
                                                          [self.config.seed, 2, i, j])
        return out

    def copy_pool(self, item_id: str, placement: str) -> list[str]:
        """The logging policy's copy for ``item_id`` in ``placement`` (``pool_size`` texts)."""
        key = (item_id, placement)
        if key not in self.pools:
            what = "placement" if item_id in set(self.catalog["item_id"]) else "item_id"
            raise InputError(f"unknown {what} '{key[1] if what == 'placement' else key[0]}'", column=what,
                             rule=f"{what} known to the market")
        return [text for _, text in self.pools[key]]

    def copy_kinds(self, item_id: str, placement: str) -> list[str]:
        """Template kind of each pool copy (strong, bland, weak, misleading, overlong, ...)."""
        self.copy_pool(item_id, placement)
        return [kind for kind, _ in self.pools[(item_id, placement)]]

    @cached_property
    def pool_text_array(self) -> np.ndarray:
        """All pool texts, shape (n_items * n_placements, pool_size), item-major like the policy's rows."""
        return np.array([[t for _, t in pool] for pool in self.pools.values()], dtype=object)

    @cached_property
    def logging_policy(self) -> LoggingPolicy:
        """The stochastic logging policy over the pools (``.choose(impressions, rng)``)."""
        pools = {key: [t for _, t in pool] for key, pool in self.pools.items()}
        return LoggingPolicy(pools, self.config.logging_policy, self.config.seed)

    @cached_property
    def truth(self):
        """The ground-truth response model (the world; evaluators use :mod:`rlopt.market.oracle`)."""
        from rlopt.market.truth import GroundTruth

        return GroundTruth(self.config, self.catalog)

    @cached_property
    def users(self) -> pd.DataFrame:
        """The fixed user population: ``user_id, segment`` and one column per user feature.

        Features are drawn around the segment's ``user_means`` with sd ``simulation.user_feature_sd``,
        clipped to [0, 1] and rounded to 4 decimals.
        """
        sim = self.config.simulation
        rng = np.random.default_rng([self.config.seed, 4])
        names = list(self.segments)
        shares = np.array([self.segments[s].share for s in names])
        seg = rng.choice(len(names), size=sim.n_users, p=shares / shares.sum())
        means = np.array([[self.segments[s].user_means.get(f, 0.5) for f in USER_FEATURE_NAMES]
                          for s in names])
        feats = np.clip(means[seg] + rng.normal(0.0, sim.user_feature_sd, size=(sim.n_users, len(means[0]))),
                        0.0, 1.0).round(4)
        frame = pd.DataFrame(feats, columns=list(USER_FEATURE_NAMES))
        frame.insert(0, "segment", np.array(names, dtype=object)[seg])
        frame.insert(0, "user_id", [f"u{i:06d}" for i in range(sim.n_users)])
        return frame

    def segment_mean_features(self, segment: str) -> dict[str, float]:
        """The segment's mean user features (used for generation contexts)."""
        means = self.segments[segment].user_means
        return {f: float(means.get(f, 0.5)) for f in USER_FEATURE_NAMES}

    # ------------------------------------------------------------------ traffic
    def sample_impressions(self, n: int, rng: RNGLike = None, *, start_index: int = 0) -> pd.DataFrame:
        """Draw ``n`` shoppers-in-slots (no copy yet).

        Users are drawn uniformly from :attr:`users`; items with probability proportional to
        ``exp(2 * category_affinity[segment, category])``; placements by ``traffic_share``; positions
        uniformly over the placement's slots; timestamps strictly increasing from
        ``simulation.start_timestamp`` with exponential gaps of mean ``simulation.mean_gap_ms``.

        Returns
        -------
        DataFrame, n rows: ``event_id, timestamp, user_id, segment, user_features (dict), item_id,
        placement, position``
        """
        return self.impressions_frame(self.sample_codes(n, rng), start_index)

    def sample_codes(self, n: int, rng: RNGLike = None) -> dict[str, np.ndarray]:
        """:meth:`sample_impressions` as integer codes (the simulator's fast path).

        Returns
        -------
        dict of arrays, shape (n,): ``user`` (row of :attr:`users`), ``segment`` (index into
        ``list(segments)``), ``item`` (catalog row), ``placement`` (index into ``list(placements)``),
        ``position``, ``timestamp`` (epoch ms)
        """
        from rlopt.market._time import parse_timestamp

        rng = as_rng(rng)
        sim = self.config.simulation
        seg_names = list(self.segments)
        user = rng.integers(0, len(self.users), size=n)
        seg_code = self._user_segment_codes[user]
        categories = list(self.config.catalog.categories)
        cat_idx = self.catalog["category"].map({c: i for i, c in enumerate(categories)}).to_numpy()
        item = np.empty(n, dtype=np.int64)
        u = rng.random(n)
        for s, name in enumerate(seg_names):
            aff = np.array([self.segments[name].category_affinity.get(c, 0.0) for c in categories])
            weights = np.exp(2.0 * aff[cat_idx])
            cum = np.cumsum(weights / weights.sum())
            mask = seg_code == s
            item[mask] = np.minimum(np.searchsorted(cum, u[mask], side="right"), len(cum) - 1)
        plc_names = list(self.config.placements)
        shares = np.array([self.config.placements[p].traffic_share for p in plc_names])
        plc = rng.choice(len(plc_names), size=n, p=shares / shares.sum())
        slots = np.array([self.config.placements[p].slots for p in plc_names])[plc]
        position = np.floor(rng.random(n) * slots).astype(np.int64)
        gaps = np.maximum(np.ceil(rng.exponential(sim.mean_gap_ms, size=n)), 1).astype(np.int64)
        timestamp = parse_timestamp(sim.start_timestamp) + np.cumsum(gaps)
        return {"user": user, "segment": seg_code, "item": item, "placement": plc, "position": position,
                "timestamp": timestamp}

    @cached_property
    def _user_segment_codes(self) -> np.ndarray:
        return pd.Categorical(self.users["segment"], categories=list(self.segments)).codes.astype(np.int64)

    @cached_property
    def user_feature_matrix(self) -> np.ndarray:
        """User features of :attr:`users` as an array, shape (n_users, len(user_feature_names))."""
        return self.users[list(USER_FEATURE_NAMES)].to_numpy(dtype=float)

    @cached_property
    def _user_feature_dicts(self) -> np.ndarray:
        out = np.empty(len(self.users), dtype=object)
        out[:] = [dict(zip(USER_FEATURE_NAMES, map(float, row), strict=True)) for row in self.user_feature_matrix]
        return out

    def impressions_frame(self, codes: dict[str, np.ndarray], start_index: int = 0) -> pd.DataFrame:
        """The contract columns of impressions drawn by :meth:`sample_codes`."""
        n = len(codes["user"])
        return pd.DataFrame({
            "event_id": numbered_strings("ev", start_index, n),
            "timestamp": codes["timestamp"],
            "user_id": take_strings(self.users["user_id"], codes["user"]),
            "segment": take_strings(list(self.segments), codes["segment"]),
            "user_features": self._user_feature_dicts[codes["user"]],
            "item_id": take_strings(self.catalog["item_id"], codes["item"]),
            "placement": take_strings(list(self.config.placements), codes["placement"]),
            "position": codes["position"],
        })

    def simulate(self, n_impressions: int, seed: int = 0, progress=None):
        """Simulate ``n_impressions`` logged impressions; see :func:`rlopt.market.simulation.simulate`."""
        return simulate(self, n_impressions, seed, progress=progress)
