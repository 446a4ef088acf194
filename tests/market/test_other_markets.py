"""Every market config shipped (the packaged default and experiments/markets/) loads, simulates and passes the data contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlopt.data import read_catalog, read_logs, read_placements
from rlopt.market import DEFAULT_MARKET, Marketplace, simulate

MARKETS = [DEFAULT_MARKET, *sorted((Path(__file__).resolve().parents[2] / "experiments" / "markets").glob("*.toml"))]


def test_more_than_the_default_market_ships():
    assert {p.stem for p in MARKETS} >= {"default", "harbor"}


@pytest.mark.parametrize("path", MARKETS, ids=lambda p: p.stem)
def test_market_simulates_contract_logs(path, tmp_path):
    market = Marketplace.from_toml(path)
    sim = simulate(market, 3000, seed=1)
    sim.write(tmp_path)
    catalog = read_catalog(tmp_path / "catalog.parquet")
    places = read_placements(tmp_path / "placements.json")
    logs = read_logs(tmp_path / "logs.parquet", catalog, places)
    assert len(logs) == 3000
    assert set(logs["placement"]) <= set(places)
    assert 0.01 < logs["clicked"].mean() < 0.3


def test_harbor_differs_from_default():
    default, harbor = (Marketplace.from_toml(p) for p in MARKETS if p.stem in ("default", "harbor"))
    assert not set(default.segments) & set(harbor.segments)
    assert not set(default.placements) & set(harbor.placements)
    assert not set(default.catalog["title"]) & set(harbor.catalog["title"])
