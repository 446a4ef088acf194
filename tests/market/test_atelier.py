"""Atelier, the independently written shop whose truth is not additive in text features
(experiments/markets/atelier.py): contract logs that pass ``rlopt validate``, seeded, and the three
non-additive effects graded on hand-written copy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.markets import atelier
from tests._cli import run_rlopt
from tests._scan import script_violations

SOURCE = Path(atelier.__file__)
FORBIDDEN = ("rlopt", "reward_models", "envs", "benchmarks")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return atelier.simulate(tmp_path_factory.mktemp("atelier"), 6000, seed=3)


@pytest.fixture(scope="module")
def truth(shop):
    return atelier.Truth.from_dir(shop)


def _validate(monkeypatch, capsys, *args) -> tuple[int, str]:
    code, out, err = run_rlopt(monkeypatch, capsys, "validate", *args)
    return code, out + err


def test_logs_pass_rlopt_validate(shop, monkeypatch, capsys):
    code, out = _validate(monkeypatch, capsys, "--logs", shop / "train.parquet", "--catalog",
                          shop / "catalog.parquet", "--placements", shop / "placements.json", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["rows_valid"] == 6000 and report["rows_quarantined"] == 0
    assert report["distinct_segments"] == len(atelier.SEGMENT_SHARE)
    logs = pd.read_parquet(shop / "train.parquet")
    assert 0.03 < logs["clicked"].mean() < 0.2 and (logs["converted"] <= logs["clicked"]).all()
    assert logs["propensity"].between(0, 1, inclusive="right").all()
    # shoppers come back (fatigue needs a history) and keep their segment
    assert logs["user_id"].value_counts().median() >= 10
    assert (logs.groupby("user_id")["segment"].nunique() == 1).all()
    assert not (shop / "market.toml").exists()  # an outside shop: no rlopt config


def test_same_seed_same_logs_other_seed_other_logs(shop, tmp_path):
    again = atelier.simulate(tmp_path / "a", 6000, seed=3)
    pd.testing.assert_frame_equal(pd.read_parquet(shop / "train.parquet"), pd.read_parquet(again / "train.parquet"))
    assert (shop / "truth.json").read_text() == (again / "truth.json").read_text()
    other = atelier.simulate(tmp_path / "b", 6000, seed=4)
    assert not pd.read_parquet(other / "train.parquet")["clicked"].equals(
        pd.read_parquet(shop / "train.parquet")["clicked"])


def test_imports_nothing_from_rlopt():
    # the shop and the experiments modules it imports (the shops' shared _shop.py): ast, importlib strings too
    assert script_violations(SOURCE, FORBIDDEN, must_use=["numpy", "pandas", "experiments.markets._shop"]) == []


def _grade(truth, texts: dict[str, str], item_id: str, segment: str, placement: str = "app_feed",
           fatigue=None) -> tuple[dict[str, float], dict[str, float]]:
    df = pd.DataFrame({"copy_text": list(texts.values()), "item_id": item_id, "segment": segment,
                       "placement": placement})
    graded = truth.evaluate(df, fatigue)
    return (dict(zip(texts, graded["p_click"], strict=True)),
            dict(zip(texts, graded["p_purchase_given_click"], strict=True)))


def _discounted(truth) -> pd.Series:
    return truth.catalog[truth.catalog["discount_pct"] >= 20].iloc[0]


def test_discount_talk_has_diminishing_returns(truth):
    item = _discounted(truth)
    real = int(item["discount_pct"])
    texts = {"none": f"{item['title']}",
             "one": f"{item['title']}, now {real}% off",
             "two": f"{item['title']}, now {real}% off - big sale",
             "three": f"{item['title']}, {real}% off - big sale, save on this deal"}
    for segment in atelier.SEGMENT_SHARE:
        p, buy = _grade(truth, texts, item["item_id"], segment)
        assert p["one"] > p["none"], segment  # the first mention of the real discount lifts clicks
        assert p["two"] < p["one"] and p["three"] < p["two"], segment  # every further one lowers them
        assert buy["three"] < buy["one"], segment
    # the first mention is worth most to value seekers: the lift is not one number for every shopper
    lifts = {s: np.log(_grade(truth, texts, item["item_id"], s)[0]["one"] / _grade(truth, texts, item["item_id"], s)[0]
                       ["none"]) for s in atelier.SEGMENT_SHARE}
    assert max(lifts, key=lifts.get) == "value_seekers"


def test_a_voice_lifts_one_segment_and_lowers_another(truth):
    item = truth.catalog[truth.catalog["discount_pct"] == 0].iloc[0]
    texts = {"plain": f"{item['title']} for your home",
             "luxe": f"{item['title']}, timeless and crafted for your home",
             "thrift": f"{item['title']}, an affordable steal for your home",
             "luxe_twice": f"{item['title']}, timeless, elegant, exclusive and crafted"}
    col, _ = _grade(truth, texts, item["item_id"], "collectors")
    val, _ = _grade(truth, texts, item["item_id"], "value_seekers")
    assert col["luxe"] > col["plain"] > col["thrift"]
    assert val["thrift"] > val["plain"] > val["luxe"]
    # a voice counts once: four luxe words are not four times the lift of one (longer copy aside)
    f = truth.features(texts["luxe_twice"], item["item_id"], "app_feed")
    assert f["voice_luxe"] == 1.0


def test_template_fatigue_needs_the_shoppers_history(truth):
    ids = truth.catalog["item_id"].tolist()[:3]
    titles = dict(zip(truth.catalog["item_id"], truth.catalog["title"], strict=True))
    rows = [("u1", ids[0], f"Just in: {titles[ids[0]]}"), ("u1", ids[1], f"Just in: {titles[ids[1]]}"),
            ("u2", ids[2], f"Just in: {titles[ids[2]]}"),  # another shopper: no history of their own
            ("u1", ids[2], f"{titles[ids[2]]} - shop the collection"),  # another template
            ("u1", ids[2], f"Just in: {titles[ids[2]]}")]
    logs = pd.DataFrame(rows, columns=["user_id", "item_id", "copy_text"]).assign(
        timestamp=np.arange(len(rows)), segment="trendsetters", placement="app_feed", position=0)
    assert truth.fatigue_counts(logs).tolist() == [0, 1, 0, 0, 2]
    # the same template on different items is one skeleton; another template is another
    skel = truth.skeletons(logs)
    assert skel[0] == skel[1] == skel[2] == skel[4] != skel[3]
    graded = truth.evaluate_logs(logs)["p_click"].to_numpy()
    fresh = truth.evaluate(logs)["p_click"].to_numpy()
    assert graded[4] < fresh[4] and graded[1] < fresh[1] and graded[0] == fresh[0]


def test_fatigue_is_in_the_logs(shop, truth):
    logs = pd.read_parquet(shop / "train.parquet")
    fatigue = truth.fatigue_counts(logs)
    assert (fatigue > 0).mean() > 0.2
    graded = truth.evaluate_logs(logs)
    fresh = truth.evaluate(logs)
    tired = fatigue > 0
    assert (graded["p_click"][tired] < fresh["p_click"][tired]).all()
    assert np.allclose(graded["p_click"][~tired], fresh["p_click"][~tired])


def test_false_claims_and_empty_copy(truth):
    item = _discounted(truth)
    full = truth.catalog[truth.catalog["discount_pct"] == 0].iloc[0]
    real = int(item["discount_pct"])
    p, buy = _grade(truth, {"real": f"{item['title']}, now {real}% off", "over": f"{item['title']}, now {real + 30}% off",
                            "empty": "..."}, item["item_id"], "value_seekers")
    assert p["over"] < p["real"] and buy["over"] < 0.5 * buy["real"] and p["empty"] < 0.2 * p["real"]
    p, buy = _grade(truth, {"plain": full["title"], "sale": f"{full['title']} - on sale"}, full["item_id"],
                    "value_seekers")
    assert p["sale"] < p["plain"] and buy["sale"] < buy["plain"]  # discount talk on a full-price item


def test_material_percentages_are_not_discount_talk(truth):
    item = _discounted(truth)
    f = truth.features(f"{item['title']}: 100% merino wool", item["item_id"], "app_feed")
    assert f["discount_mentions"] == 0 and f["false_claim"] == 0


def test_logged_pools_hold_every_effect(shop):
    logs = pd.read_parquet(shop / "train.parquet")
    text = logs["copy_text"].str.lower()
    assert text.str.contains("save big").any()  # several discount cues in one copy
    assert text.str.contains("timeless").any() and text.str.contains("affordable").any()
    assert logs.groupby(["item_id", "placement"])["copy_text"].nunique().max() <= 6
