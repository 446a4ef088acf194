"""The Market API other parts rely on (docs/INTERFACES.md, "Market")."""

from __future__ import annotations

import numpy as np
import pandas as pd

import rlopt.market as rm
from rlopt.data import read_catalog, read_contexts, read_logs, read_placements
from rlopt.data.schema import Placement


def test_catalog_contract(market):
    cat = market.catalog
    assert len(cat) >= 40 and cat["category"].nunique() >= 6 and cat["brand"].nunique() >= 6
    assert cat["item_id"].is_unique and cat["title"].is_unique
    assert (cat["price"] > 0).all() and cat["discount_pct"].between(0, 95).all()
    assert (cat["discount_pct"] == 0).mean() > 0.3 and (cat["discount_pct"] > 0).mean() > 0.2
    assert all(isinstance(a, dict) and a["key_attribute"] for a in cat["attributes"])


def test_placements_segments_pools(market):
    assert set(market.placements) == {"push", "home_banner", "email_subject", "product_page"}
    assert all(isinstance(p, Placement) for p in market.placements.values())
    assert len(market.segments) >= 4
    for name, seg in market.segments.items():
        assert seg.name == name and len(seg.description) > 20
    item = market.catalog["item_id"].iloc[0]
    for plc in market.placements:
        pool = market.copy_pool(item, plc)
        assert len(pool) == market.pool_size
        kinds = market.copy_kinds(item, plc)
        assert {"strong", "bland", "weak", "misleading", "overlong"} <= set(kinds)
        assert len(pool[kinds.index("overlong")]) > market.placements[plc].max_chars
    assert rm.user_feature_names == ["price_sensitivity", "brand_loyalty", "urgency", "eco_affinity"]


def test_unknown_pool_names_the_key(market):
    import pytest

    from rlopt.errors import InputError

    with pytest.raises(InputError, match="unknown item_id 'nope'"):
        market.copy_pool("nope", "push")
    with pytest.raises(InputError, match="unknown placement 'billboard'"):
        market.copy_pool(market.catalog["item_id"].iloc[0], "billboard")


def test_sample_impressions_and_logging_policy(market):
    imp = market.sample_impressions(5000, np.random.default_rng(0))
    assert list(imp.columns) == ["event_id", "timestamp", "user_id", "segment", "user_features", "item_id",
                                 "placement", "position"]
    assert imp["event_id"].is_unique and imp["timestamp"].is_monotonic_increasing
    slots = imp["placement"].map({k: p.slots for k, p in market.placements.items()})
    assert ((imp["position"] >= 0) & (imp["position"] < slots)).all()
    assert set(imp["user_features"].iloc[0]) == set(rm.user_feature_names)
    idx, prop = market.logging_policy.choose(imp, np.random.default_rng(1))
    assert idx.shape == prop.shape == (5000,)
    assert ((idx >= 0) & (idx < market.pool_size)).all() and ((prop > 0) & (prop <= 1)).all()
    probs = market.logging_policy.action_probs(imp)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs[np.arange(5000), idx], prop)
    # empirical choice frequencies match the logged propensities for one context
    key = (imp["item_id"] + "|" + imp["placement"]).value_counts().index[0]
    mask = (imp["item_id"] + "|" + imp["placement"]).to_numpy() == key
    big = pd.concat([imp[mask]] * 400, ignore_index=True)
    idx2, _ = market.logging_policy.choose(big, np.random.default_rng(2))
    freq = np.bincount(idx2, minlength=market.pool_size) / len(idx2)
    np.testing.assert_allclose(freq, market.logging_policy.action_probs(big.head(1))[0], atol=0.02)


def test_simulation_shapes_and_rates(sim):
    logs = sim.logs
    assert len(logs) == 20_000 and len(sim.train) + len(sim.holdout) == 20_000
    assert sim.train["timestamp"].max() <= sim.holdout["timestamp"].min()
    assert (logs["converted"] <= logs["clicked"]).all()
    assert ((logs["revenue"] > 0) == (logs["converted"] == 1)).all()
    assert 0.03 <= logs["clicked"].mean() <= 0.10
    assert 0.04 <= logs["converted"].sum() / logs["clicked"].sum() <= 0.25
    assert len(sim.contexts) == 200 and not sim.contexts.duplicated(["item_id", "segment", "placement"]).any()
    s = sim.oracle_summary
    assert 0.6 < s["holdout_click_auc"] < 1.0
    assert s["best_pool"]["mean_best_ctr"] >= 1.8 * s["best_pool"]["mean_logging_ctr"]
    assert abs(s["logging_policy"]["true_ctr"] - sim.holdout["clicked"].mean()) < 0.015


def test_write_and_read_back_through_rlopt_data(sim, sim_dir):
    names = {p.name for p in sim_dir.iterdir()}
    assert {"catalog.parquet", "train.parquet", "holdout.parquet", "logs.parquet", "placements.json",
            "contexts.jsonl", "oracle.json", "market.toml"} <= names
    catalog = read_catalog(sim_dir / "catalog.parquet")
    placements = read_placements(sim_dir / "placements.json")
    logs = read_logs(sim_dir / "logs.parquet", catalog, placements)
    assert len(logs) == len(sim.logs)
    assert logs["copy_id"].tolist() == sim.logs["copy_id"].tolist()
    assert isinstance(logs["user_features"].iloc[0], dict)
    ctx = read_contexts(sim_dir / "contexts.jsonl", catalog, placements)
    assert len(ctx) == len(sim.contexts)


def test_same_seed_identical_files(market, sim_dir, tmp_path):
    market.simulate(20_000, seed=3).write(tmp_path)
    for path in sim_dir.iterdir():
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name
    other = market.simulate(20_000, seed=4)
    assert not other.logs["clicked"].equals(market.simulate(20_000, seed=3).logs["clicked"])
