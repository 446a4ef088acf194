"""Diversity of shown copy: one phrase written for every item is caught by its template, not by distinct texts."""

from __future__ import annotations

import math

import pandas as pd

from rlopt.generation.diversity import copy_template, diversity

TITLES = {"k1": "Quiet Kettle", "l1": "Desk Lamp", "r1": "Wool Rug"}


def _copies(texts, items):
    return pd.DataFrame({"item_id": items, "segment": "all", "placement": "push", "copy_text": texts})


def test_one_phrase_for_every_item_is_one_template():
    copies = _copies(["Quiet Kettle - Loved by 10,000+ shoppers", "Desk Lamp - loved by 10,000+  shoppers",
                      "Wool Rug - Loved by 10,000+ shoppers", "Wool Rug: soft underfoot"], ["k1", "l1", "r1", "r1"])
    d = diversity(copies, TITLES)
    assert d["distinct_share"] == 1.0  # every text differs ...
    assert d["top_template_share"] == 0.75 and d["top_template"] == "{title} - loved by 10,000+ shoppers"  # ... one phrase
    assert d["distinct_templates"] == 0.5


def test_per_context_share_and_ties_named_the_same_way_every_time():
    copies = _copies(["a", "a", "b", "c"], ["k1", "k1", "l1", "l1"])
    d = diversity(copies, TITLES)
    assert d["distinct_per_context"] == (0.5 + 1.0) / 2 and d["distinct_share"] == 0.75
    shuffled = diversity(copies.iloc[[3, 2, 1, 0]].reset_index(drop=True), TITLES)
    assert shuffled["top_template"] == d["top_template"] == "a"


def test_without_titles_or_copies():
    assert "top_template_share" not in diversity(_copies(["x"], ["k1"]))
    empty = diversity(_copies([], []), TITLES)
    assert math.isnan(empty["distinct_share"]) and empty["top_template"] is None


def test_template_takes_the_title_out_whatever_its_case():
    assert copy_template("QUIET KETTLE, now quieter", "Quiet Kettle") == "{title}, now quieter"
    assert copy_template("Boils fast", "") == "boils fast"
