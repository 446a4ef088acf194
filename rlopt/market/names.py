"""The market's fixed vocabularies: user features, copy-taste keys and brand tiers.

A module of its own because the config (:mod:`rlopt.market.config`), its checks
(:mod:`rlopt.market._checks`) and the simulation read them, and the config runs the checks.
"""

from __future__ import annotations

#: Numeric user features every simulated shopper has (in [0, 1]); same order everywhere.
USER_FEATURE_NAMES: tuple[str, ...] = ("price_sensitivity", "brand_loyalty", "urgency", "eco_affinity")
#: Copy lexicons a segment's ``taste`` can weight (see :mod:`rlopt.market.lexicon`), plus ``brand``
#: (the copy names the item's brand).
TASTE_KEYS: tuple[str, ...] = ("discount", "urgency", "quality", "eco", "family", "casual", "formal", "brand")
TIERS: tuple[str, ...] = ("budget", "mid", "premium")
