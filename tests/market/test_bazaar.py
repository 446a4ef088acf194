"""Bazaar, the independently written shop (experiments/markets/bazaar.py): contract logs, a truth that
scores any text, and no code shared with rlopt."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.markets import bazaar
from rlopt.data import read_catalog, read_logs, read_placements
from tests._scan import script_violations

SOURCE = Path(bazaar.__file__)
FORBIDDEN = ("rlopt", "reward_models", "envs")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return bazaar.simulate(tmp_path_factory.mktemp("bazaar"), 4000, seed=3)


def test_writes_contract_logs_only(shop):
    catalog = read_catalog(shop / "catalog.parquet")
    places = read_placements(shop / "placements.json")
    logs = read_logs(shop / "train.parquet", catalog, places)
    assert len(logs) == 4000 and not (shop / "market.toml").exists()  # an outside shop: no rlopt config
    assert 0.03 < logs["clicked"].mean() < 0.25 and (logs["converted"] <= logs["clicked"]).all()
    assert logs.groupby(["item_id", "placement"])["copy_text"].nunique().max() <= 6


def test_same_seed_same_logs(shop, tmp_path):
    again = bazaar.simulate(tmp_path, 4000, seed=3)
    pd.testing.assert_frame_equal(pd.read_parquet(shop / "train.parquet"), pd.read_parquet(again / "train.parquet"))


def test_imports_nothing_from_rlopt():
    # the shop and the experiments modules it imports (the shops' shared _shop.py): ast, importlib strings too
    assert script_violations(SOURCE, FORBIDDEN, must_use=["numpy", "pandas", "experiments.markets._shop"]) == []


def test_truth_scores_any_text(shop):
    truth = bazaar.Truth.from_dir(shop)
    item = truth.catalog[truth.catalog["discount_pct"] >= 20].iloc[0]
    real = int(item["discount_pct"])
    noun = item["title"].split()[-1]
    texts = {"targeted": f"{item['title']}: a deal that helps you save, {real}% off",
             "plain": f"{item['title']}",
             "overclaim": f"{item['title']}: a deal that helps you save, {real + 30}% off",
             "shouting": f"{item['title'].upper()} {real}% OFF!!",
             "repetitive": f"{noun} deal {noun} deal {noun} deal {noun} deal",
             "empty": "..."}
    df = pd.DataFrame({"copy_text": list(texts.values()), "item_id": item["item_id"],
                       "segment": "on_a_tight_budget", "placement": "search_result"})
    p = dict(zip(texts, truth.evaluate(df)["p_click"], strict=True))
    buy = dict(zip(texts, truth.evaluate(df)["p_purchase_given_click"], strict=True))
    assert p["targeted"] > p["plain"] > p["empty"]
    assert p["overclaim"] < p["targeted"] and buy["overclaim"] < 0.5 * buy["targeted"]
    assert p["shouting"] < p["targeted"] and p["repetitive"] < p["targeted"]


def test_the_scan_follows_the_shops_helpers(tmp_path):
    shops = tmp_path / "experiments" / "markets"
    shops.mkdir(parents=True)
    (shops / "shop.py").write_text("import numpy\nfrom experiments.markets.helper import draw\n")
    (shops / "helper.py").write_text("import json\n")
    assert script_violations(shops / "shop.py", FORBIDDEN, must_use=["numpy"], root=tmp_path) == []
    (shops / "helper.py").write_text("from rlopt.market import oracle\n")  # reached only through the helper
    assert script_violations(shops / "shop.py", FORBIDDEN, must_use=["numpy"], root=tmp_path) == [
        "experiments/markets/helper.py imports rlopt.market, rlopt.market.oracle"]
    with pytest.raises(AssertionError, match="no use of"):  # the file read is not the shop the test expects
        script_violations(shops / "helper.py", FORBIDDEN, must_use=["numpy"], root=tmp_path)
