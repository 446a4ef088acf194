"""Click / conversion reward model for marketing copy.

A text encoder (default all-MiniLM-L6-v2) over the copy and the item, combined with context
features (segment, placement, category, price, discount, user features) into two heads,
P(click) and P(purchase | click), trained ESMM-style over all impressions with a slot bias that
is dropped at scoring. See the README.

Main names: :class:`RewardModel` (``from_pretrained``, ``save_pretrained``, ``score``),
:func:`train_reward_model`, :class:`TrainConfig`, :class:`RewardFunction` (a TRL reward),
:class:`RewardWeights`, :func:`evaluate_reward_model`.
"""

from reward_models.evaluate import evaluate_reward_model
from reward_models.model import RewardModel
from reward_models.scoring import RewardFunction
from reward_models.train import TrainConfig, train_reward_model
from reward_models.weights import RewardWeights

__all__ = [
    "RewardFunction",
    "RewardModel",
    "RewardWeights",
    "TrainConfig",
    "evaluate_reward_model",
    "train_reward_model",
]
