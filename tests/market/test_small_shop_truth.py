"""The small shop's truth grades any copy (experiments/markets/small_shop.py ``Truth``): the logged
copies get back exactly the probabilities that generated the logs, and free text is read by cues."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.markets.small_shop import TEMPLATES, make_small_shop


def test_logged_copies_graded_as_simulated():
    shop = make_small_shop(600, 300, seed=2)
    truth = shop.truth()
    for logs, known in ((shop.train, shop.truth_train), (shop.holdout, shop.truth_holdout)):
        graded = truth.evaluate(logs)
        np.testing.assert_allclose(graded["p_click"], known["p_click"])
        np.testing.assert_allclose(graded["p_purchase"], known["p_purchase"])


def test_free_text_takes_its_strongest_cue():
    shop = make_small_shop(200, 100, seed=1)
    truth = shop.truth()
    item = shop.catalog.iloc[0]
    texts = {"bland": f"{item['title']} for your kitchen",
             "proof": f"{item['title']}: loved by thousands of cooks",
             "proof_and_new": f"New: {item['title']}, loved by 5,000 customers",
             "shipping": f"{item['title']} with free delivery",
             "empty": "!!"}
    df = pd.DataFrame({"copy_text": list(texts.values()), "item_id": item["item_id"], "segment": "regulars",
                       "placement": "email"})
    p = dict(zip(texts, truth.evaluate(df)["p_click"], strict=True))
    assert np.isclose(p["proof"] / p["bland"], TEMPLATES["social_proof"][1])
    assert np.isclose(p["proof_and_new"], p["proof"])  # cues do not add: the strongest one counts
    assert np.isclose(p["shipping"] / p["bland"], TEMPLATES["shipping"][1])
    assert p["empty"] < p["bland"]
