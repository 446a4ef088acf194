"""EVALUATION ONLY — the oracle: the simulated market's true response to any copy.

    +--------------------------------------------------------------------------------------+
    |  Training code must NEVER import this module (or rlopt.market.truth):                 |
    |  reward_models/, rlopt/tuning/ trainers and rlopt/policies/ learn from logs only.     |
    |  Evaluators may: reward eval, rlopt.tuning.evaluate, A/B simulation, envs, OPE truth. |
    |  tests/market/test_oracle_boundary.py scans the source tree and fails otherwise.      |
    +--------------------------------------------------------------------------------------+

The oracle wraps :class:`rlopt.market.truth.GroundTruth` with the names evaluators use. All inputs
are equal-length arrays (or scalars, broadcast); ``user_features`` may be None (segment means), one
dict, a sequence of dicts / JSON strings, or an ``(n, len(user_feature_names))`` array.

Examples
--------
>>> from rlopt.market import DEFAULT_MARKET, Marketplace
>>> oracle = Oracle(Marketplace.from_toml(DEFAULT_MARKET))
>>> item = oracle.market.catalog.iloc[0]
>>> good = f"{item.title}: {item.attributes['key_attribute']}. Shop now"
>>> p = oracle.click_prob([good, "xqzv blorp"], item.item_id, "bargain_hunters", "push", 0)
>>> bool(p[0] > p[1])
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.seeding import RNGLike, as_rng


def _broadcast(*values):
    arrays = [np.asarray(v, dtype=object) if not isinstance(v, np.ndarray) else v for v in values]
    n = max((a.size if a.ndim else 1) for a in arrays)
    out = []
    for a in arrays:
        if a.ndim == 0:
            out.append(np.full(n, a.item(), dtype=object if a.dtype == object else a.dtype))
        elif a.size == n:
            out.append(a.reshape(-1))
        else:
            raise InputError(f"inputs must have equal lengths (got {a.size} and {n})", rule="equal lengths")
    return out


class Oracle:
    """True P(click) and P(purchase) of a market — for evaluation only (see the module docstring).

    Parameters
    ----------
    market : Marketplace
    """

    def __init__(self, market) -> None:
        self.market = market
        self.truth = market.truth

    @classmethod
    def from_dir(cls, sim_dir: str | Path) -> Oracle:
        """Rebuild the oracle of a simulation output directory (reads its ``market.toml``)."""
        from rlopt.market.marketplace import Marketplace

        path = Path(sim_dir) / "market.toml"
        if not path.is_file():
            raise InputError("no market.toml here; pass the output directory of `rlopt simulate`",
                             file=str(path), rule="simulation directory")
        return cls(Marketplace.from_toml(path))

    def attractiveness(self, copy_text, item_id, segment, placement, user_features=None) -> np.ndarray:
        """P(click | examined), shape (n,)."""
        t, i, s, p = _broadcast(copy_text, item_id, segment, placement)
        return self.truth.attractiveness(t, i, s, p, user_features)

    def click_prob(self, copy_text, item_id, segment, placement, position=0, user_features=None) -> np.ndarray:
        """P(click) = ``examination[placement][position] * attractiveness``, shape (n,)."""
        t, i, s, p, pos = _broadcast(copy_text, item_id, segment, placement, position)
        return self.truth.probabilities(t, i, s, p, user_features, pos.astype(np.int64))["p_click"]

    def purchase_prob(self, copy_text, item_id, segment, placement, user_features=None) -> np.ndarray:
        """P(purchase | click), shape (n,)."""
        t, i, s, p = _broadcast(copy_text, item_id, segment, placement)
        return self.truth.probabilities(t, i, s, p, user_features)["p_purchase_given_click"]

    def candidate_click_probs(self, feedback) -> np.ndarray:
        """True P(click) of every candidate copy on every logged impression, shape (n_rounds, n_actions).

        ``feedback`` is a :class:`rlopt.ope.contract.ContractFeedback` (its ``frame``, ``group``,
        ``pool_texts`` and ``valid``): candidate ``a`` of round ``i`` is copy ``a`` of that round's
        pool, shown to the same shopper in the logged slot. Padding candidates (``valid`` False) get 0.
        """
        n, k = feedback.valid.shape
        texts = np.array([list(feedback.pool_texts[g]) + [""] * (k - len(feedback.pool_texts[g]))
                          for g in feedback.group], dtype=object)
        rows = feedback.frame.loc[feedback.frame.index.repeat(k)].reset_index(drop=True)
        valid = feedback.valid.reshape(-1)
        sub = rows[valid]
        features = sub["user_features"].tolist() if "user_features" in sub else None
        p = np.zeros(n * k)
        p[valid] = self.click_prob(texts.reshape(-1)[valid], sub["item_id"], sub["segment"], sub["placement"],
                                   sub["position"], features)
        return p.reshape(n, k)

    def policy_value(self, feedback, action_dist: np.ndarray, p_click: np.ndarray | None = None) -> float:
        """True click rate of a policy on the logged shoppers: ``mean_i sum_a pi(a | x_i) P(click | a, x_i)``.

        Parameters
        ----------
        feedback : ContractFeedback
            The logged rounds and their candidate pools (see :meth:`candidate_click_probs`).
        action_dist : ndarray, shape (n_rounds, n_actions) or (n_rounds, n_actions, len_list)
            The policy's probabilities; with a slot axis, slot 0's (the policy does not depend on the slot).
        p_click : ndarray, shape (n_rounds, n_actions), optional
            :meth:`candidate_click_probs` already computed (to value several policies at the cost of one).
        """
        dist = action_dist[:, :, 0] if action_dist.ndim == 3 else action_dist
        p = self.candidate_click_probs(feedback) if p_click is None else p_click
        return float(np.mean(np.sum(dist * p, axis=1)))

    def evaluate(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add ``p_click, p_purchase_given_click, p_purchase, expected_revenue`` to a copy of ``df``.

        ``df`` needs ``copy_text, item_id, segment, placement``; ``position`` defaults to 0 and
        ``user_features`` to the segment means. ``expected_revenue = p_purchase * net price``.
        """
        missing = [c for c in ("copy_text", "item_id", "segment", "placement") if c not in df.columns]
        if missing:
            raise InputError(f"missing column '{missing[0]}' (need copy_text, item_id, segment, placement)",
                             column=missing[0], rule="required column")
        position = df["position"].to_numpy(np.int64) if "position" in df.columns else np.zeros(len(df), np.int64)
        feats = df["user_features"].tolist() if "user_features" in df.columns else None
        probs = self.truth.probabilities(df["copy_text"].to_numpy(object), df["item_id"].to_numpy(object),
                                         df["segment"].to_numpy(object), df["placement"].to_numpy(object),
                                         feats, position)
        cat = self.market.catalog.set_index("item_id")
        net = (cat["price"] * (1.0 - cat["discount_pct"] / 100.0)).reindex(df["item_id"]).to_numpy()
        out = df.copy()
        out["p_click"] = probs["p_click"]
        out["p_purchase_given_click"] = probs["p_purchase_given_click"]
        out["p_purchase"] = out["p_click"] * out["p_purchase_given_click"]
        out["expected_revenue"] = out["p_purchase"] * net
        return out

    def claimed_discount(self, df: pd.DataFrame) -> np.ndarray:
        """The discount each copy claims as the truth reads it, in percent of the list price, shape (n,).

        The truth's own parser (:mod:`rlopt.market.text_features`) on the visible text (cut to the
        placement's ``max_chars`` when ``df`` has a ``placement`` column): the largest of a percent
        claim ("30% off", "half price" = 50), an amount off ("$20 off" -> 100 x 20 / price) and a
        claimed price ("only $29.99" -> 100 x (1 - 29.99 / price)), clipped to [0, 95]; 0 when the
        copy claims nothing. This is the ``claim`` of :mod:`rlopt.market.truth` (kept in step by
        ``tests/market/test_oracle.py``). ``df`` needs ``copy_text`` and ``item_id``.

        Examples
        --------
        >>> from rlopt.market import DEFAULT_MARKET, Marketplace
        >>> oracle = Oracle(Marketplace.from_toml(DEFAULT_MARKET))
        >>> item = oracle.market.catalog.iloc[0]
        >>> df = pd.DataFrame({"copy_text": ["Save 30% today", f"Only ${item.price / 2:.2f}", "Shop now"],
        ...                    "item_id": item.item_id})
        >>> [round(float(c)) for c in oracle.claimed_discount(df)]
        [30, 50, 0]
        """
        from rlopt.market.text_features import TEXT_FEATURES, cut_to_limit, text_feature_matrix

        for col in ("copy_text", "item_id"):
            if col not in df.columns:
                raise InputError(f"missing column '{col}' (need copy_text, item_id)", column=col,
                                 rule="required column")
        texts = [str(t) for t in df["copy_text"]]
        if "placement" in df.columns:
            limits = self.truth.max_chars[self.truth._codes(df["placement"].to_numpy(object),
                                                            self.truth.placement_index, "placement")]
            texts = [cut_to_limit(t, int(m))[0] for t, m in zip(texts, limits, strict=True)]
        items = self.truth._codes(df["item_id"].to_numpy(object), self.truth.item_index, "item_id")
        tf = text_feature_matrix(texts, self.truth.vocab, self.truth._text_cache)
        f = {name: i for i, name in enumerate(TEXT_FEATURES)}
        price = self.truth.price[items]
        claimed_price = tf[:, f["price_claim"]]
        claim = np.maximum.reduce([
            tf[:, f["claim"]],
            100.0 * tf[:, f["dollars_off"]] / price,
            np.where(claimed_price > 0, 100.0 * (1.0 - claimed_price / price), 0.0),
        ])
        return np.clip(claim, 0.0, 95.0)

    def overclaims(self, df: pd.DataFrame, margin: float = 2.0) -> np.ndarray:
        """True where the copy claims more than the item's real discount + ``margin`` points, shape (n,).

        The truth's over-claim (it cuts purchases: the product page shows the real price).
        """
        items = self.truth._codes(df["item_id"].to_numpy(object), self.truth.item_index, "item_id")
        claim = self.claimed_discount(df)
        return (claim > 0) & (claim > self.truth.discount[items] + margin)

    def respond(self, df: pd.DataFrame, rng: RNGLike = None) -> pd.DataFrame:
        """:meth:`evaluate` plus sampled ``clicked, converted, revenue`` (converted only if clicked)."""
        rng = as_rng(rng)
        out = self.evaluate(df)
        clicked = rng.random(len(out)) < out["p_click"].to_numpy()
        converted = clicked & (rng.random(len(out)) < out["p_purchase_given_click"].to_numpy())
        cat = self.market.catalog.set_index("item_id")
        net = (cat["price"] * (1.0 - cat["discount_pct"] / 100.0)).round(2).reindex(out["item_id"]).to_numpy()
        out["clicked"] = clicked.astype(np.int64)
        out["converted"] = converted.astype(np.int64)
        out["revenue"] = np.where(converted, net, 0.0)
        return out
