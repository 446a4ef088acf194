"""Precomputed shopper tables: everything an env step needs, so stepping is pure NumPy indexing.

A :class:`ShopperTable` is a fixed population of ``M`` shoppers (drawn once from the
marketplace's traffic, with real user features) and, for every shopper and each of the ``K``
copy variants of the shopper's item/placement pool, the true response probabilities. An env
step draws a shopper index uniformly, so the env's shopper distribution is the empirical
distribution of the table; with the default ``M = 20_000`` that is close to the market's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng

REWARDS = ("click", "purchase", "value")


@dataclass(frozen=True, eq=False)
class ShopperTable:
    """Response probabilities of ``M`` shoppers for ``K`` actions.

    Attributes
    ----------
    obs : ndarray of float32, shape (M, d)
        Observation of each shopper (see :mod:`envs.features`).
    p_click : ndarray, shape (M, K)
        P(click) of each action, position bias included.
    p_purchase_given_click : ndarray, shape (M, K)
        P(purchase | click).
    value_per_purchase : ndarray, shape (M, K)
        Revenue of a purchase (the item's net price).
    feature_names : tuple of str, length d
    logging_probs : ndarray, shape (M, K), optional
        The market logging policy's action probabilities (rows sum to 1).
    examination : ndarray, shape (M,)
        P(examined) of each shopper's slot (``p_click / examination`` is the attractiveness).
    meta : DataFrame, optional
        ``segment, item_id, placement, position`` of each shopper (for debugging and reports).
    type_names : tuple of str
        When not empty, the last ``K`` columns of ``obs`` are each action's type code (the
        copy's template kind) indexing this tuple; linear policies share a model per type.
    """

    obs: np.ndarray
    p_click: np.ndarray
    p_purchase_given_click: np.ndarray
    value_per_purchase: np.ndarray
    feature_names: tuple[str, ...]
    logging_probs: np.ndarray | None = None
    examination: np.ndarray | None = None
    meta: pd.DataFrame | None = field(default=None, repr=False)
    source: str = "table"
    type_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m, k = self.p_click.shape
        for name in ("p_purchase_given_click", "value_per_purchase"):
            if getattr(self, name).shape != (m, k):
                raise ValueError(f"{name} must have shape {(m, k)}")
        if self.obs.shape[0] != m or self.obs.shape[1] != len(self.feature_names):
            raise ValueError("obs must have one row per shopper and one column per feature name")
        if self.logging_probs is not None and self.logging_probs.shape != (m, k):
            raise ValueError(f"logging_probs must have shape {(m, k)}")

    @property
    def n_shoppers(self) -> int:
        return int(self.p_click.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.p_click.shape[1])

    @property
    def dim(self) -> int:
        return int(self.obs.shape[1])

    def expected(self, reward: str) -> np.ndarray:
        """Expected reward per shopper and action, shape ``(M, K)`` (see :func:`expected_reward`)."""
        return expected_reward(reward, self.p_click, self.p_purchase_given_click, self.value_per_purchase)


def check_reward(reward: str) -> str:
    """Return ``reward`` if it is one of :data:`REWARDS`, else raise :class:`rlopt.errors.InputError`."""
    if reward not in REWARDS:
        raise InputError(f"unknown reward '{reward}'; valid: {', '.join(REWARDS)}", column="reward",
                         rule="reward in click|purchase|value", value=reward)
    return reward


def expected_reward(reward: str, p_click: np.ndarray, p_purchase_given_click: np.ndarray,
                    value_per_purchase: np.ndarray) -> np.ndarray:
    """Expected reward of showing copy, for every env and reward kind; arrays of one shape.

    ``click``: ``p_click``; ``purchase``: ``p_click * P(purchase | click)``; ``value``:
    ``p_click * P(purchase | click) * value_per_purchase``. ``p_click`` may be the click
    probability of a slot or the attractiveness (P(click | examined)), as the caller needs.
    """
    check_reward(reward)
    if reward == "click":
        return p_click
    if reward == "purchase":
        return p_click * p_purchase_given_click
    return p_click * p_purchase_given_click * value_per_purchase


def draw_response(u: np.ndarray, p_click: np.ndarray, p_purchase_given_click: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Sampled ``(clicked, purchased)`` booleans from uniforms ``u`` of shape ``(2, *shape)``.

    ``clicked = u[0] < p_click``; ``purchased = clicked & (u[1] < P(purchase | click))``. The
    caller draws ``u`` from its own generator, so each env keeps its random stream.
    """
    clicked = u[0] < p_click
    return clicked, clicked & (u[1] < p_purchase_given_click)


def outcome_reward(reward: str, clicked: np.ndarray, purchased: np.ndarray,
                   value_per_purchase: np.ndarray) -> np.ndarray:
    """Realised reward of responses, float64 of the responses' shape.

    ``click``: 1 per click; ``purchase``: 1 per purchase; ``value``: ``value_per_purchase``
    where a purchase happened, else 0.
    """
    check_reward(reward)
    if reward == "click":
        return np.asarray(clicked, dtype=np.float64)
    if reward == "purchase":
        return np.asarray(purchased, dtype=np.float64)
    return np.where(purchased, value_per_purchase, 0.0)


def synthetic_table(n_shoppers: int = 5000, n_actions: int = 8, dim: int = 10, seed: RNGLike = 0,
                    scale: float = 1.0) -> ShopperTable:
    """A linear-logistic world with known truth, independent of the marketplace (tests, benchmarks).

    Contexts ``x ~ Bernoulli(0.3)^d`` (one-hot-like binary features); P(click) =
    ``sigmoid(-2.5 + scale * x·w_a)`` with ``w_a ~ N(0, 1)``; P(purchase | click) =
    ``sigmoid(-1 + x·u_a)``; value 1 per purchase; logging policy uniform.
    """
    rng = as_rng(seed)
    x = (rng.random((n_shoppers, dim)) < 0.3).astype(np.float32)
    w = rng.standard_normal((dim, n_actions))
    u = rng.standard_normal((dim, n_actions)) * 0.5
    p_click = 1.0 / (1.0 + np.exp(2.5 - scale * x @ w))
    p_buy = 1.0 / (1.0 + np.exp(1.0 - x @ u))
    return ShopperTable(
        obs=x, p_click=p_click, p_purchase_given_click=p_buy,
        value_per_purchase=np.ones((n_shoppers, n_actions)),
        feature_names=tuple(f"x{i}" for i in range(dim)),
        logging_probs=np.full((n_shoppers, n_actions), 1.0 / n_actions),
        examination=np.ones(n_shoppers), source="synthetic",
    )


def resolve_market(market: object = None):
    """``None`` -> the default market; a path -> ``Marketplace.from_toml``; a Marketplace as is."""
    from rlopt.market import DEFAULT_MARKET, Marketplace

    if market is None:
        return Marketplace.from_toml(DEFAULT_MARKET)
    if isinstance(market, (str, os.PathLike)):
        path = Path(market)
        if path.is_dir():
            path = path / "market.toml"
        if not path.is_file():
            raise InputError(f"market config '{market}' does not exist", file=str(market),
                             rule="a market TOML file or a simulation directory with market.toml")
        return Marketplace.from_toml(path)
    return market


def build_market_table(market: object = None, *, reward_source: str = "truth", placement: str | None = None,
                       n_shoppers: int = 20_000, seed: int = 0, logging_policy: bool = False,
                       position: int | None = None, pool_features: bool = False,
                       variant_kinds: bool = True) -> ShopperTable:
    """Draw ``n_shoppers`` shoppers from the market and score every copy variant for each.

    Parameters
    ----------
    market : None, path or Marketplace
        The simulator (None: the default market config).
    reward_source : ``"truth"`` or a reward model directory
        ``truth`` scores with the market's ground-truth oracle; a directory scores with a
        trained :class:`reward_models.RewardModel` (its ``p_click, p_purchase,
        expected_revenue``), so the env then simulates the model's beliefs.
    placement : str or None
        Keep only shoppers in this placement (None: all placements, by traffic share).
    n_shoppers : int
        Table size ``M``.
    seed : int
        Seed of the shopper draw (the env's own RNG later chooses among them).
    logging_policy : bool
        Also compute the market logging policy's probabilities of every action.
    position : int or None
        Force every shopper onto this slot (the slate env scores at slot 0).
    pool_features : bool
        Append the one-hot of the shopper's copy pool (item x placement) to the observation.
    variant_kinds : bool
        Append, per action, the code of the copy's template kind (``market.copy_kinds``: the
        family the variant was written from, e.g. discount, urgency, eco; metadata of the pool,
        not of the response model), so learners can share what they learn across pools.
    """
    from envs.features import ContextEncoder

    market = resolve_market(market)
    rng = as_rng(seed)
    placements = market.placements
    if placement is not None and placement not in placements:
        raise InputError(f"unknown placement '{placement}'; known: {', '.join(placements)}",
                         column="placement", rule="placement in the market config", value=placement)
    shoppers = _draw_shoppers(market, n_shoppers, placement, rng)
    if position is not None:
        shoppers["position"] = position
    k = int(market.pool_size)
    # One row per (shopper, action): the pool variant ``a`` of the shopper's item/placement.
    pools = {key: market.copy_pool(*key) for key in set(zip(shoppers["item_id"], shoppers["placement"], strict=True))}
    rows = shoppers.loc[shoppers.index.repeat(k)].reset_index(drop=True)
    rows["action"] = np.tile(np.arange(k), len(shoppers))
    rows["copy_text"] = [pools[(i, p)][a] for i, p, a in zip(rows["item_id"], rows["placement"], rows["action"], strict=True)]
    p_click, p_pgc, value = _score(market, rows, reward_source)
    shape = (len(shoppers), k)
    encoder = ContextEncoder(tuple(market.segments), tuple(_user_feature_names()), placements, market.catalog,
                             pools=tuple(sorted(market.pools)) if pool_features else ())
    exam = np.array([placements[p].examination[int(s)] for p, s in zip(shoppers["placement"], shoppers["position"], strict=True)])
    log_probs = _logging_probs(market, shoppers, k) if logging_policy else None
    obs, names, type_names = encoder.encode(shoppers, source="market"), encoder.feature_names, ()
    if variant_kinds:
        kinds = {key: market.copy_kinds(*key) for key in pools}
        type_names = tuple(sorted({kind for ks in kinds.values() for kind in ks}))
        code = {kind: j for j, kind in enumerate(type_names)}
        types = np.array([[code[c] for c in kinds[key]] for key in zip(shoppers["item_id"], shoppers["placement"],
                                                                       strict=True)], dtype=np.float32)
        obs = np.concatenate([obs, types], axis=1)
        names = (*names, *(f"kind[{a}]" for a in range(k)))
    return ShopperTable(
        obs=obs, type_names=type_names,
        p_click=p_click.reshape(shape), p_purchase_given_click=p_pgc.reshape(shape),
        value_per_purchase=value.reshape(shape), feature_names=names,
        logging_probs=log_probs, examination=exam,
        meta=shoppers[["segment", "item_id", "placement", "position"]].reset_index(drop=True),
        source=str(reward_source),
    )


def _user_feature_names() -> list[str]:
    from rlopt.market import user_feature_names

    return list(user_feature_names() if callable(user_feature_names) else user_feature_names)


def _draw_shoppers(market, n: int, placement: str | None, rng: np.random.Generator) -> pd.DataFrame:
    """Sample impressions until ``n`` shoppers in ``placement`` (or any placement) are drawn."""
    frames, have = [], 0
    for _ in range(200):
        batch = market.sample_impressions(max(n, 1000) if placement else n, rng)
        if placement is not None:
            batch = batch[batch["placement"] == placement]
        frames.append(batch)
        have += len(batch)
        if have >= n:
            break
    return pd.concat(frames, ignore_index=True).iloc[:n].reset_index(drop=True)


def _score(market, rows: pd.DataFrame, reward_source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``p_click, P(purchase | click), revenue per purchase`` per row, from the oracle or a model."""
    if reward_source in (None, "truth"):
        from rlopt.market.oracle import Oracle

        scored = Oracle(market).evaluate(rows)
        p_click = scored["p_click"].to_numpy(dtype=np.float64)
        p_pgc = scored["p_purchase_given_click"].to_numpy(dtype=np.float64)
        p_buy = p_click * p_pgc
    else:
        path = Path(reward_source)
        if not path.is_dir():
            raise InputError(f"reward_source must be 'truth' or a reward model directory; '{reward_source}' "
                             "is neither", file=str(reward_source), rule="reward_source = truth | model dir")
        from reward_models import RewardModel

        scored = RewardModel.from_pretrained(path).score(rows, market.catalog)
        # The model scores copy without slot bias: add the slot's examination probability.
        exam = np.array([market.placements[p].examination[int(s)]
                         for p, s in zip(rows["placement"], rows["position"], strict=True)])
        p_click = scored["p_click"].to_numpy(dtype=np.float64) * exam
        p_buy = scored["p_purchase"].to_numpy(dtype=np.float64)
        p_pgc = np.divide(p_buy, p_click, out=np.zeros_like(p_buy), where=p_click > 0)
    revenue = scored["expected_revenue"].to_numpy(dtype=np.float64)
    value = np.divide(revenue, p_buy, out=np.zeros_like(revenue), where=p_buy > 0)
    if value.max(initial=0) == 0:  # no purchase anywhere: fall back to the catalog net price
        price = market.catalog.set_index("item_id").loc[rows["item_id"]]
        value = (price["price"] * (1 - price["discount_pct"] / 100)).to_numpy(dtype=np.float64)
    return np.clip(p_click, 0, 1), np.clip(p_pgc, 0, 1), value


def _logging_probs(market, shoppers: pd.DataFrame, k: int) -> np.ndarray:
    probs = np.asarray(market.logging_policy.action_probs(shoppers), dtype=np.float64)
    if probs.shape != (len(shoppers), k):
        raise ValueError(f"logging policy probs have shape {probs.shape}, expected {(len(shoppers), k)}")
    return probs / probs.sum(axis=1, keepdims=True)
