"""Hand-built catalog, placements and logs shared by the tuning tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlopt.data.schema import Placement

CATALOG = pd.DataFrame([
    dict(item_id="i1", title="Trail Running Shoes", category="shoes", brand="Stride", price=89.0,
         discount_pct=20.0, attributes={"key_attribute": "grippy outsole"}),
    dict(item_id="i2", title="Pour-Over Coffee Set", category="kitchen", brand="Brewly", price=39.0,
         discount_pct=0.0, attributes={"material": "ceramic"}),
])
PLACEMENTS = {"push": Placement("push", 40, 1, (1.0,)),
              "home_banner": Placement("home_banner", 60, 2, (1.0, 0.5))}
SEGMENTS = {"bargain": "bargain hunters who love discounts", "premium": "shoppers who value quality"}


def make_logs(spec, seed=0):
    """Logs from ``spec``: list of (item, segment, placement, copy, n, clicks, purchases)."""
    rows = []
    rng = np.random.default_rng(seed)
    for item, seg, place, text, n, clicks, buys in spec:
        clicked = np.zeros(n, int)
        clicked[:clicks] = 1
        converted = np.zeros(n, int)
        converted[:buys] = 1
        order = rng.permutation(n)
        for k in order:
            rows.append(dict(event_id=f"e{len(rows)}", timestamp=len(rows), user_id=f"u{len(rows)}",
                             segment=seg, item_id=item, placement=place, position=0, copy_text=text,
                             clicked=int(clicked[k]), converted=int(converted[k])))
    return pd.DataFrame(rows)


def training_logs():
    """A log with clear winners in several groups (enough pairs for min_pairs=2)."""
    spec = []
    for item in ("i1", "i2"):
        for seg in ("bargain", "premium"):
            spec += [(item, seg, "push", f"Great {item} for {seg}", 400, 80, 10),
                     (item, seg, "push", f"Meh {item}", 400, 20, 1),
                     (item, seg, "push", f"Bad {item} copy", 400, 4, 0)]
    return make_logs(spec)


def length_reward(prompts, completions, **kwargs):
    """Stand-in reward model: longer (up to 30 chars) is better."""
    from rlopt.tuning.rewards import completion_text

    return [min(len(completion_text(c)), 30) / 30.0 for c in completions]
