"""Market version 2: the truth's click logit drops by ``[truth] copy_defect`` per copy defect."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlopt.market import DEFAULT_MARKET, Marketplace
from rlopt.market.config import MarketConfig, TruthConfig
from rlopt.market.truth import GroundTruth

DEFECTIVE = [  # (copy, defects the truth prices: repetition and a cut at max_chars have their own terms)
    ("@Ridgeline: , , , : Ridgeline Edge L", 2),
    ("Sweat resistant earphones that are", 1),
    ("For 160 characters, focus on the real.", 1),
    ("Shop now at www.nordwind.com/sale", 1),
    ("Comfy comfy slippers", 0),
    ("Trail shoes that grip", 0),
]


@pytest.fixture(scope="module")
def market():
    return Marketplace.from_toml(DEFAULT_MARKET)


def _logits(config, market, texts):
    n = len(texts)
    item = market.catalog["item_id"].iloc[0]
    return GroundTruth(config, market.catalog).logits(texts, [item] * n, [sorted(market.segments)[0]] * n,
                                                      ["product_page"] * n)["click_logit"]


def test_packaged_markets_opt_in_and_old_configs_keep_their_behaviour(market):
    assert market.config.truth.copy_defect > 0
    assert Marketplace.from_toml(Path(__file__).resolve().parents[2] / "experiments" / "markets" / "harbor.toml").config.truth.copy_defect > 0
    assert TruthConfig().copy_defect == 0.0  # a config without the key: version 1's truth
    data = market.config.to_dict()
    del data["truth"]["copy_defect"]
    assert MarketConfig.from_dict(data).truth.copy_defect == 0.0


def test_defective_copy_loses_clicks_per_defect(market):
    texts = [t for t, _ in DEFECTIVE]
    off = dataclasses.replace(market.config, truth=dataclasses.replace(market.config.truth, copy_defect=0.0))
    lost = _logits(off, market, texts) - _logits(market.config, market, texts)
    expected = market.config.truth.copy_defect * np.array([n for _, n in DEFECTIVE], dtype=float)
    np.testing.assert_allclose(lost, expected)


def test_simulated_logs_do_not_change(market):
    """The logged pools' copy has no priced defect (their cut and repetitive copies have their own terms)."""
    from rlopt.market import simulate

    off = Marketplace(dataclasses.replace(market.config,
                                          truth=dataclasses.replace(market.config.truth, copy_defect=0.0)))
    on, was = simulate(market, 20000, seed=0).train, simulate(off, 20000, seed=0).train
    assert on[["clicked", "converted"]].equals(was[["clicked", "converted"]])
    assert on["clicked"].sum() > 0


def test_a_cut_copy_is_not_counted_twice(market):
    """Copy the truth cuts at max_chars pays ``truncated``; its dangling tail is not a defect on top."""
    long = "Trail shoes that grip on every muddy morning run and " * 4
    off = dataclasses.replace(market.config, truth=dataclasses.replace(market.config.truth, copy_defect=0.0))
    assert _logits(off, market, [long])[0] == _logits(market.config, market, [long])[0]
