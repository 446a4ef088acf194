"""Bandit policies: uniform, ε-greedy, UCB1, Bernoulli TS, LinUCB, linear TS, linear ε-greedy,
logistic TS.

All share :class:`Policy` (``select`` / ``select_batch``, ``update`` / ``update_batch``,
``action_probs``); build one from a spec string with :func:`make_policy`.
"""

from rlopt.policies.base import Policy, greedy_probs
from rlopt.policies.context_free import UCB1, BernoulliTS, EpsilonGreedy, UniformPolicy
from rlopt.policies.linear import LinearEpsilonGreedy, LinearTS, LinUCB
from rlopt.policies.logistic import LogisticTS
from rlopt.policies.registry import POLICIES, POLICY_NAMES, make_policy, parse_policy_spec, policy_params

__all__ = [
    "POLICIES", "POLICY_NAMES", "UCB1", "BernoulliTS", "EpsilonGreedy", "LinUCB", "LinearEpsilonGreedy",
    "LinearTS", "LogisticTS", "Policy", "UniformPolicy", "greedy_probs", "make_policy", "parse_policy_spec", "policy_params",
]
