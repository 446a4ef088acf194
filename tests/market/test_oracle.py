"""The Oracle API evaluators use (docs/INTERFACES.md, "Oracle")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from rlopt.data import read_catalog, read_logs
from rlopt.errors import InputError
from rlopt.market import user_feature_names
from rlopt.market.oracle import Oracle


def test_from_dir_reproduces_the_summary(sim_dir):
    oracle = Oracle.from_dir(sim_dir)
    catalog = read_catalog(sim_dir / "catalog.parquet")
    holdout = read_logs(sim_dir / "holdout.parquet", catalog)
    scored = oracle.evaluate(holdout)
    summary = json.loads((sim_dir / "oracle.json").read_text())
    auc = roc_auc_score(holdout["clicked"], scored["p_click"])
    assert auc == pytest.approx(summary["holdout_click_auc"], abs=1e-9)
    assert scored["p_click"].mean() == pytest.approx(summary["logging_policy"]["true_ctr_of_logged_copy"],
                                                     rel=1e-9)


def test_evaluate_columns_and_identities(oracle, sim):
    frame = sim.holdout.head(500)
    out = oracle.evaluate(frame)
    for col in ("p_click", "p_purchase_given_click", "p_purchase", "expected_revenue"):
        assert col in out and out[col].between(0, 1e9).all()
    np.testing.assert_allclose(out["p_purchase"], out["p_click"] * out["p_purchase_given_click"])
    args = (frame["copy_text"], frame["item_id"], frame["segment"], frame["placement"])
    feats = frame["user_features"].tolist()
    attr = oracle.attractiveness(*args, user_features=feats)
    click = oracle.click_prob(*args, frame["position"], user_features=feats)
    assert (click <= attr + 1e-12).all()
    np.testing.assert_allclose(out["p_click"], click)
    np.testing.assert_allclose(out["p_purchase_given_click"], oracle.purchase_prob(*args, user_features=feats))
    assert len(frame.columns) + 4 == len(out.columns)


def test_user_features_forms_agree(oracle, sim):
    frame = sim.holdout.head(50)
    args = (frame["copy_text"], frame["item_id"], frame["segment"], frame["placement"])
    dicts = frame["user_features"].tolist()
    as_json = [json.dumps(d) for d in dicts]
    matrix = np.array([[d[k] for k in user_feature_names] for d in dicts])
    ref = oracle.attractiveness(*args, user_features=dicts)
    np.testing.assert_allclose(oracle.attractiveness(*args, user_features=as_json), ref)
    np.testing.assert_allclose(oracle.attractiveness(*args, user_features=matrix), ref)
    means = oracle.attractiveness(*args)
    partial = oracle.attractiveness(*args, user_features=[{}] * 50)
    np.testing.assert_allclose(partial, means)


def test_scalars_broadcast(oracle, market):
    item = market.catalog["item_id"].iloc[3]
    p = oracle.click_prob(["Shop now", "Buy it"], item, "busy_parents", "home_banner", 1)
    assert p.shape == (2,)


def test_respond_is_seeded_and_consistent(oracle, sim):
    frame = sim.holdout.head(3000)
    a, b = oracle.respond(frame, 7), oracle.respond(frame, 7)
    pd.testing.assert_frame_equal(a, b)
    assert (a["converted"] <= a["clicked"]).all() and ((a["revenue"] > 0) == (a["converted"] == 1)).all()
    assert abs(a["clicked"].mean() - a["p_click"].mean()) < 0.02


@pytest.mark.parametrize(("change", "message"), [
    ({"item_id": "nope"}, "unknown item_id 'nope'"),
    ({"segment": "aliens"}, "unknown segment 'aliens'"),
    ({"placement": "billboard"}, "unknown placement 'billboard'"),
    ({"position": 5}, "position 5 is outside placement"),
])
def test_bad_inputs_name_the_column(oracle, sim, change, message):
    frame = sim.holdout.head(5).copy()
    for key, value in change.items():
        frame.loc[2, key] = value
    with pytest.raises(InputError, match=message) as info:
        oracle.evaluate(frame)
    assert info.value.row == 3


def test_from_dir_needs_market_toml(tmp_path):
    with pytest.raises(InputError, match="market.toml"):
        Oracle.from_dir(tmp_path)


def test_any_text_gives_finite_probabilities(oracle, market):
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789%$!?.,-'_/:;é😀\n\t")
    texts = ["", " ", "\n", "%%%", "$", "$0 off", "100% off", "-", "😀" * 50, "a" * 5000,
             "Save $99999 off now", "only $0.01"]
    texts += ["".join(rng.choice(alphabet, size=rng.integers(1, 200))) for _ in range(300)]
    n = len(texts)
    items = rng.choice(market.catalog["item_id"].to_numpy(), n)
    segs = rng.choice(list(market.segments), n)
    plcs = rng.choice(list(market.placements), n)
    out = oracle.evaluate(pd.DataFrame({"copy_text": texts, "item_id": items, "segment": segs,
                                        "placement": plcs}))
    for col in ("p_click", "p_purchase_given_click", "p_purchase", "expected_revenue"):
        values = out[col].to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all()
    assert (out[["p_click", "p_purchase_given_click"]].to_numpy() <= 1).all()
