"""The catalog's currency in the discount rule, its repair, the prompt and the copy checks."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.generation import sample
from rlopt.generation.checks import check_copies
from rlopt.generation.compliance import check, parse_claims, price_terms, repair
from rlopt.generation.currency import codes_written, is_other_currency, money_text, normalize_code
from rlopt.generation.models import resolve_generator
from rlopt.generation.prompts import build_messages
from rlopt.generation.quality import copy_defects
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS


@pytest.mark.parametrize(("token", "codes"), [
    ("$", {"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN"}), ("US$", {"USD"}), ("C$", {"CAD"}), ("€", {"EUR"}),
    ("£", {"GBP"}), ("eur", {"EUR"}), (" euros", {"EUR"}), ("dollars", {"USD", "CAD", "AUD", "NZD", "HKD", "SGD",
                                                                         "MXN"}),
    ("chf", {"CHF"}), ("", set()), (None, set()), ("kr", set()),
])
def test_codes_written(token, codes):
    assert codes_written(token) == codes


def test_a_bare_amount_or_an_unstated_currency_matches_everything():
    assert not is_other_currency("", "EUR")  # "Vase - 144.88": no currency written
    assert not is_other_currency("$", None)  # the catalog says nothing: every amount is its currency
    assert is_other_currency("$", "EUR") and not is_other_currency("$", "CAD") and is_other_currency("US$", "CAD")


def test_money_text_and_normalize_code():
    assert [money_text(29.99, c) for c in ("USD", "EUR", "GBP", "SEK", "JPY", None)] == [
        "$29.99", "€29.99", "£29.99", "SEK 29.99", "¥30", "$29.99"]
    assert money_text(0.0, "EUR", written="29,99") == "€29,99"
    assert [normalize_code(v) for v in ("eur", " GBP ", "", None, float("nan"))] == ["EUR", "GBP", None, None, None]


@pytest.mark.parametrize(("text", "currency", "misleading"), [
    ("Kettle, only $39 this week", "EUR", True),
    ("Kettle, only €39 this week", "EUR", False),
    ("Kettle, only 39 euros this week", "EUR", False),
    ("Kettle, only 39 dollars this week", "EUR", True),
    ("Kettle, only $39 this week", "CAD", False),   # a Canadian shop writes "$" too
    ("Kettle, only US$39 this week", "CAD", True),
    ("Kettle, only C$39 this week", "USD", True),
    ("Kettle, only CHF 39 this week", "CHF", False),
    ("Kettle, only 39 SEK this week", "SEK", False),
    ("Kettle, only 39 SEK this week", "EUR", True),
    ("Kettle, only $39 this week", None, False),    # no currency column: read as the catalog's
    ("Kettle, only €39 this week", None, False),
    ("Kettle - 39.00", "EUR", False),               # a bare amount says no currency
    ("Kettle, only €45 this week", "EUR", True),    # the right currency does not make a wrong price right
])
def test_amounts_in_another_currency_are_misleading(text, currency, misleading):
    assert check(text, 39.0, 0.0, currency=currency) is misleading


def test_percent_and_sale_claims_do_not_care_about_currency():
    assert not check("Kettle, 20% off this week", 39.0, 20.0, currency="EUR")
    assert check("Kettle on sale", 39.0, 0.0, currency="EUR") == check("Kettle on sale", 39.0, 0.0)


def test_claims_record_the_currency_as_written():
    claims = parse_claims("Save $20, was €80, now 60 euros, CHF 5 off", 80.0)
    assert [(c.kind, c.currency) for c in claims] == [("dollars_off", "$"), ("reference", "€"),
                                                        ("price", "euros"), ("dollars_off", "CHF")]


@pytest.mark.parametrize(("text", "price", "disc", "fixed", "action"), [
    # only the currency is wrong: the number stays as written, the item's currency replaces the written one
    ("Brewly kettle, only $39 this week", 39.0, 0.0, "Brewly kettle, only €39 this week", "corrected"),
    ("Brewly kettle, only 39.00 dollars today", 39.0, 0.0, "Brewly kettle, only €39.00 today", "corrected"),
    ("Brewly kettle, was $80, now €60", 80.0, 25.0, "Brewly kettle, was €80, now €60", "corrected"),
    ("Save $20 on the Brewly kettle", 80.0, 25.0, "Save €20 on the Brewly kettle", "corrected"),
    # the number is wrong too: the true amount, in the item's currency
    ("Brewly kettle, now only $50", 80.0, 25.0, "Brewly kettle, now only €60", "corrected"),
    # an amount off an undiscounted item goes, whatever its currency
    ("Save $20 on the Brewly kettle today", 39.0, 0.0, "The Brewly kettle today", "removed"),
])
def test_repair_writes_amounts_in_the_items_currency(text, price, disc, fixed, action):
    assert repair(text, price, disc, 60, currency="EUR") == (fixed, action)
    assert repair(fixed, price, disc, 60, currency="EUR") == (fixed, "ok")  # idempotent
    assert not check(fixed, price, disc, currency="EUR")


def test_repair_without_a_currency_keeps_the_written_one():
    assert repair("Brewly kettle, only $39 this week", 39.0, 0.0, 60) == ("Brewly kettle, only $39 this week", "ok")


def test_price_terms_read_the_optional_currency_column():
    cat = pd.DataFrame({"item_id": [1, 2, 3], "price": [39.0, 80.0, None], "discount_pct": [0.0, 25.0, None],
                        "currency": ["eur", None, "GBP"]})
    terms = price_terms(cat)
    assert (terms["1"].currency, terms["2"].currency, terms["3"].currency) == ("EUR", None, "GBP")
    assert (terms["3"].price, terms["3"].discount_pct) == (None, 0.0)
    assert terms["1"].misleading("Only $39") and not terms["2"].misleading("Only $60")
    assert price_terms(cat.drop(columns="currency"))["1"].currency is None


def test_the_prompt_states_the_price_in_the_items_currency():
    item = {"title": "Brewly Kettle", "brand": "Brewly", "category": "kitchen", "price": 39, "discount_pct": 0}
    def price_line(**extra):
        user = build_messages({**item, **extra}, "cooks", "push", 40)[1]["content"]
        return next(line for line in user.splitlines() if line.startswith("Price:"))
    assert price_line() == "Price: $39.00"
    assert price_line(currency="EUR") == "Price: €39.00"
    assert price_line(currency="SEK") == "Price: SEK 39.00"
    assert price_line(currency=float("nan")) == "Price: $39.00"  # a blank cell: not stated


def test_yen_and_rupee_amounts_are_not_bare_numbers():
    assert copy_defects("Brewly kettle, ¥3000") == copy_defects("Brewly kettle, $30")


def test_check_copies_flags_an_amount_in_another_currency():
    cat = pd.DataFrame({"item_id": ["k1", "k2"], "title": ["Brewly Kettle", "Stride Shoes"], "price": [39.0, 80.0],
                        "discount_pct": [0.0, 25.0], "currency": ["EUR", "EUR"]})
    copies = pd.DataFrame({"item_id": ["k1", "k1", "k2"],
                           "copy_text": ["Brewly kettle for €39", "Brewly kettle for $39", "Stride shoes, 25% off"]})
    out = check_copies(copies, cat)
    assert out["misleading"].tolist() == [[], ["$39"], []]
    assert out["flagged"].tolist() == [False, True, False]


def test_generation_repairs_a_sample_in_another_currency(tiny_causal_lm_dir, monkeypatch):
    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    cat = CATALOG.assign(currency="EUR")
    contexts = pd.DataFrame([{"item_id": "i2", "segment": "premium", "placement": "home_banner"}])  # $39, no discount
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: "Pour-over coffee set, only $39")
    out = sample.generate_copies(model, tok, contexts, cat, PLACEMENTS, SEGMENTS, num=1, seed=0)
    assert out["copy_text"].tolist() == ["Pour-over coffee set, only €39"]
    assert out["compliance_action"].tolist() == ["corrected"]


EURO_COPY = ["Kettle, only €39", "Was €45, now €39", "Kettle for €39", "€39 kettle", "Steel kettle - €39", "Kettle"]


def test_currency_warning_when_the_catalog_does_not_say_what_the_logged_copy_does():
    from rlopt.generation.checks import currency_warning

    cat = pd.DataFrame({"item_id": ["k1"], "price": [39.0], "discount_pct": [0.0]})
    said = currency_warning(cat, EURO_COPY)
    assert said is not None and "6 of its 6 amounts in EUR" in said and "add a currency column" in said
    assert currency_warning(cat, [t.replace("€", "$") for t in EURO_COPY]) is None  # dollars: the default
    assert currency_warning(cat, EURO_COPY[:3]) is None  # too few amounts to say anything
    assert currency_warning(cat.assign(currency="EUR"), EURO_COPY) is None
    other = currency_warning(cat.assign(currency="USD"), EURO_COPY)
    assert other is not None and "other than the catalog's USD" in other and "'€'" in other


def test_rlopt_check_says_the_currency_warning(tmp_path, monkeypatch, capsys):
    import json

    from tests._cli import run_rlopt

    cat = CATALOG.drop(columns="attributes")  # the dict cells are not CSV's JSON strings
    cat.to_csv(tmp_path / "catalog.csv", index=False)
    logs = pd.DataFrame({"item_id": ["i2"] * len(EURO_COPY), "copy_text": EURO_COPY})
    logs.to_csv(tmp_path / "logs.csv", index=False)
    pd.DataFrame({"item_id": ["i2"], "segment": ["premium"], "placement": ["home_banner"],
                  "copy_text": ["Pour-over coffee set, only $39"]}).to_csv(tmp_path / "copies.csv", index=False)
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", tmp_path / "copies.csv", "--catalog",
                    tmp_path / "catalog.csv", "--logs", tmp_path / "logs.csv", "--out", tmp_path / "checked.csv",
                    "--json")
    assert run.code == 0, run.err
    assert "in EUR" in json.loads(run.out)["currency_warning"]
    cat.assign(currency="EUR").to_csv(tmp_path / "catalog.csv", index=False)
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", tmp_path / "copies.csv", "--catalog",
                    tmp_path / "catalog.csv", "--logs", tmp_path / "logs.csv", "--out", tmp_path / "checked2.csv",
                    "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert "currency_warning" not in result and result["misleading"] == 1.0  # "$39" on a euro item


def test_a_currency_symbol_in_the_catalog_fails_validation(tmp_path, monkeypatch, capsys):
    from tests._cli import run_rlopt

    CATALOG.drop(columns="attributes").assign(currency=["EUR", "€"]).to_csv(tmp_path / "catalog.csv", index=False)
    pd.DataFrame({"item_id": ["i2"], "segment": ["premium"], "placement": ["home_banner"],
                  "copy_text": ["Pour-over coffee set"]}).to_csv(tmp_path / "copies.csv", index=False)
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", tmp_path / "copies.csv", "--catalog",
                    tmp_path / "catalog.csv", "--out", tmp_path / "checked.csv")
    assert run.code == 2
    assert "catalog.csv" in run.err and "row 2" in run.err and "currency" in run.err and "ISO 4217" in run.err
    assert not (tmp_path / "checked.csv").exists()


@pytest.mark.parametrize(("text", "misleading"), [
    ("Wasserkocher, nur 39,00 €", False),
    ("Wasserkocher, nur 39,00 $", True),
    ("Wasserkocher, nur 45,00 €", True),   # the symbol after does not make a wrong price right
    ("Wasserkocher, 20 € Rabatt", True),    # a price that is not the item's
])
def test_amounts_with_the_symbol_after_them_are_read(text, misleading):
    assert check(text, 39.0, 0.0, currency="EUR") is misleading


def test_repair_of_an_amount_with_the_symbol_after_it():
    assert repair("Wasserkocher, nur 39,00 $", 39.0, 0.0, 60, currency="EUR") == ("Wasserkocher, nur €39,00",
                                                                                  "corrected")
