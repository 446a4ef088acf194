"""Shared fixtures: the default market and one small simulation (built once per session)."""

from __future__ import annotations

import pytest

from rlopt.market import DEFAULT_MARKET, Marketplace


@pytest.fixture(scope="session")
def market() -> Marketplace:
    return Marketplace.from_toml(DEFAULT_MARKET)


@pytest.fixture(scope="session")
def oracle(market):
    from rlopt.market.oracle import Oracle

    return Oracle(market)


@pytest.fixture(scope="session")
def sim(market):
    return market.simulate(20_000, seed=3)


@pytest.fixture(scope="session")
def sim_dir(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    sim.write(out)
    return out
