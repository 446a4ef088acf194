"""experiments/tuning/reclean.py: stored copies cleaned again by today's rule, titles for emptied ones."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from experiments.tuning.reclean import reclean


def test_reclean_applies_the_current_rule_and_never_leaves_an_empty_slot():
    copies = pd.DataFrame({"item_id": ["a", "a", "b"], "placement": ["p", "q", "p"],
                           "copy_text": ["Kettle - 10% off - - -", "- -", "Fresh beans, 10-20% off"],
                           "raw_copy_text": ["Kettle - 50% off -", "- -", "Fresh beans, 10-20% off"]})
    catalog = pd.DataFrame({"item_id": ["a", "b"], "title": ["Steel Kettle for every kitchen", "Beans"]})
    placements = {"p": SimpleNamespace(max_chars=40), "q": SimpleNamespace(max_chars=12)}
    again = reclean(copies, catalog, placements)
    assert again["copy_text"].tolist() == ["Kettle - 10% off", "Steel Kettle", "Fresh beans, 10-20% off"]
    assert again["raw_copy_text"].tolist() == ["Kettle - 50% off", "", "Fresh beans, 10-20% off"]
    assert copies["copy_text"][0] == "Kettle - 10% off - - -"  # the input is left alone
