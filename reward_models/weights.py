"""The reward's weights: how ``p_click``, ``p_purchase`` and expected revenue add up to one scalar.

    reward = w_click * p_click + w_purchase * p_purchase + w_revenue * expected_revenue / price_scale

with ``price_scale`` the median effective price of the training catalog rows (so the revenue term
is on the same order as a probability). The default weights favour purchases (``w_click=0.2,
w_purchase=1.0, w_revenue=0.0``): copy that earns clicks without purchases (clickbait) gains little.

A module of its own because the model (:mod:`reward_models.model`), the trainer and the TRL reward
function (:mod:`reward_models.scoring`) all use it, and the reward function loads the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the scalar reward (see the module docstring).

    >>> RewardWeights().combine(np.array([0.5]), np.array([0.1]), np.array([0.0]), price_scale=10.0)
    array([0.2])
    """

    click: float = 0.2
    purchase: float = 1.0
    revenue: float = 0.0

    def combine(self, p_click: np.ndarray, p_purchase: np.ndarray, revenue: np.ndarray,
                price_scale: float) -> np.ndarray:
        """The reward per row, shape ``(n,)`` from inputs of shape ``(n,)``."""
        return self.click * p_click + self.purchase * p_purchase + self.revenue * revenue / max(price_scale, 1e-9)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)
