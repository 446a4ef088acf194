"""Market TOML: strict keys, checked values, and a TOML round trip."""

from __future__ import annotations

import re

import pytest

from rlopt.errors import InputError
from rlopt.market import DEFAULT_MARKET, MarketConfig, Marketplace

BASE = DEFAULT_MARKET.read_text(encoding="utf-8")


def _write(tmp_path, text):
    path = tmp_path / "market.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("pool_size = 8", "pool_size = 8\npoolsize = 3"),
     r"unknown key 'poolsize' in \[market\]; valid keys: name, pool_size, seed"),
    (lambda t: t + "\n[extra]\nx = 1\n", r"unknown key 'extra' in top level"),
    (lambda t: t.replace("temperature = 0.7", "temprature = 0.7"),
     r"unknown key 'temprature' in \[logging_policy\]; valid keys: epsilon, prior_noise, temperature"),
    (lambda t: t.replace("[placements.push]\nmax_chars = 80", "[placements.push]\nmax_char = 80"),
     r"unknown key 'max_char' in \[placements.push\]"),
    (lambda t: t.replace("holdout_fraction = 0.2", "holdout_fraction = 0.2\nholdout = 1"),
     r"unknown key 'holdout' in \[simulation\]"),
    (lambda t: t.replace("discount = 1.4,", "discont = 1.4,"),
     r"unknown key 'discont' in \[segments.bargain_hunters.taste\]; valid keys: discount"),
    (lambda t: t.replace("headphones = 0.3, t_shirts", "headphone = 0.3, t_shirts"),
     r"unknown key 'headphone' in \[segments.bargain_hunters.category_affinity\]"),
    (lambda t: t.replace("push = -5.0,", "pushh = -5.0,"), r"unknown key 'pushh' in \[truth.placement_base\]"),
    (lambda t: t.replace("relevance = 1.3", "relevanse = 1.3") if "relevance = 1.3" in t
     else t.replace("[truth]\n", "[truth]\nrelevanse = 1.0\n"), r"unknown key 'relevanse' in \[truth\]"),
    (lambda t: t.replace("examination = [0.9, 0.6, 0.35]", "examination = [0.9, 0.6]"),
     r"examination has 2 values, expected one per slot \(3\)"),
    (lambda t: t.replace('Sonora = "budget"', 'Sonora = "cheap"'), r"brand 'Sonora' has unknown tier"),
    (lambda t: t.replace('{ waterproof = ["keeps', '{ waterprof = ["keeps'),
     r"unknown key 'waterprof' in \[catalog.categories.rain_jackets.attribute_synonyms\]; valid keys: waterproof"),
    (lambda t: t.replace("holdout_fraction = 0.2", "holdout_fraction = 1.5"), r"holdout_fraction must be in"),
    (lambda t: t.replace("n_users = 5000", 'n_users = "many"'), r"bad value for 'n_users' in \[simulation\]"),
    (lambda t: t.replace("[market]", "[market"), r"not valid TOML"),
])
def test_bad_config_names_the_problem(tmp_path, edit, message):
    text = edit(BASE)
    assert text != BASE
    with pytest.raises(InputError, match=message) as info:
        Marketplace.from_toml(_write(tmp_path, text))
    assert info.value.file == str(tmp_path / "market.toml")


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        MarketConfig.from_toml(tmp_path / "nope.toml")


def test_toml_round_trip(tmp_path):
    config = MarketConfig.from_toml(DEFAULT_MARKET)
    again = MarketConfig.from_toml(_write(tmp_path, config.to_toml()))
    assert again == config
    assert re.search(r"^\[segments\.bargain_hunters\]$", config.to_toml(), re.M)


def test_the_default_market_is_the_one_packaged_file():
    from pathlib import Path

    import rlopt.market

    root = Path(rlopt.market.__file__).resolve().parents[2]
    assert DEFAULT_MARKET == Path(rlopt.market.__file__).resolve().with_name("default.toml")
    assert DEFAULT_MARKET.is_file() and not (root / "experiments" / "markets" / "default.toml").exists()
