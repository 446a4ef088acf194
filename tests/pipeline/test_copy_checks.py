"""The generation stage's copy checks (no truth needed): defects, claims the item's facts do not back, diversity."""

from __future__ import annotations

import pandas as pd

from rlopt.generation.claims import ClaimSupport
from rlopt.pipeline.report_stage import _checks_table
from rlopt.pipeline.stages_model import copy_checks

CATALOG = pd.DataFrame([{"item_id": "a", "title": "Desk Lamp", "price": 20.0, "discount_pct": 0.0},
                        {"item_id": "b", "title": "Wool Rug", "price": 90.0, "discount_pct": 0.0}])
LOGS = pd.DataFrame({"item_id": ["a", "b"], "copy_text": ["Desk Lamp - Loved by 10,000+ shoppers", "Wool Rug"]})


def test_a_phrase_copied_to_an_item_it_is_not_true_of_is_counted():
    frames = {"tuned": pd.DataFrame({"item_id": ["a", "b", "b", "a"], "segment": "s", "placement": "p",
                                     "copy_text": ["Desk Lamp - Loved by 10,000+ shoppers", "Wool Rug - Loved by 10,000+ shoppers",
                                                   "Wool Rug - soft, warm", "Desk Lamp - Loved by 10,000+ shoppers"]})}
    c = copy_checks(frames, CATALOG, ClaimSupport(CATALOG, LOGS))["tuned"]
    assert c["unbacked_claim"] == 0.25  # the rug's; the lamp's is the shop's own claim
    assert c["unbacked_top"] == {"10000": 1, "loved by": 1}
    assert c["top_template_share"] == 0.75 and c["top_template"] == "{title} - loved by 10,000+ shoppers"
    assert c["distinct_share"] == 0.75 and c["any_defect"] == 0.0
    table = _checks_table({"tuned": c})
    row = table["rows"][0]
    assert row["unbacked claim"] == "25.0%" and row["most common unbacked"] == "10000 (1), loved by (1)" and row["most common template"].startswith("75.0%: {title} - loved")
    assert "catalog row" in table["notes"]
    assert _checks_table(None) is None
