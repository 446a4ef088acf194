"""rlopt: make e-commerce marketing copy earn more clicks and purchases, and prove it offline.

Subpackages
-----------
data        the data contract: readers, writers, validation, quarantine, splits
market      the simulated marketplace (catalog, segments, placements, ground truth, logging policy)
generation  copy generator resolution, prompts, sampling, post-processing
tuning      preference-pair mining and TRL wrappers (DPO, GRPO, RLOO)
policies    bandit policies
ope         off-policy estimators with confidence intervals
ab          A/B test statistics and simulated A/B comparisons
"""

__version__ = "0.1.0"
