"""Checking copy before it ships: rlopt.generation.checks and ``rlopt check`` (any copy file, no truth needed)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlopt.data.schema import Placement
from rlopt.generation.checks import CHECK_COLUMNS, check_copies, checks_summary
from rlopt.generation.claims import ClaimSupport
from tests._cli import one_line, run_rlopt

CATALOG = pd.DataFrame([
    {"item_id": "k1", "title": "Steel Kettle", "category": "kitchen", "brand": "Ferro", "price": 40.0,
     "discount_pct": 0.0, "attributes": {"key_attribute": "boils in 3 minutes"}},
    {"item_id": "r1", "title": "Wool Rug", "category": "home", "brand": "Hearth", "price": 90.0,
     "discount_pct": 20.0, "attributes": {"key_attribute": "hand woven"}},
])
LOGS = pd.DataFrame({"item_id": ["k1", "r1"], "copy_text": ["Steel Kettle - loved by 10,000+ cooks", "Wool Rug, 20% off"]})
PLACEMENTS = {"email": Placement(name="email", max_chars=40, slots=1, examination=(1.0,))}
COPIES = pd.DataFrame({
    "item_id": ["k1", "r1", "r1", "k1", "r1"], "segment": "all", "placement": "email",
    "copy_text": ["Steel Kettle - loved by 10,000+ cooks",  # the shop's own claim for k1
                  "Wool Rug - loved by 10,000+ cooks",  # k1's claim on r1
                  "Handmade Wool Rug, 30% off",  # hand woven backs handmade; the discount is 20%
                  "Sure! Here is the copy: Steel Kettle",  # a defect
                  "Wool Rug, 20% off - warm underfoot all winter long"],  # over 40 characters
})


def test_each_rule_flags_its_own_copy_and_only_it():
    out = check_copies(COPIES, CATALOG, ClaimSupport(CATALOG, LOGS), PLACEMENTS)
    assert list(out.index) == list(COPIES.index) and set(CHECK_COLUMNS) <= set(out.columns)
    assert out["unbacked"].tolist() == [[], ["loved by", "10000"], [], [], []]
    assert out["misleading"].tolist() == [[], [], ["30% off"], [], []]
    assert out["defects"].tolist() == [[], [], [], ["leaked_instructions"], []]
    assert out["over_limit"].tolist() == [False, False, False, False, True]
    assert out["flagged"].tolist() == [False, True, True, True, True]
    s = checks_summary(out, CATALOG)
    assert (s["copies"], s["flagged"], s["misleading"], s["unbacked_claim"], s["over_limit"]) == (5, 0.8, 0.2, 0.2, 0.2)
    assert s["unbacked_top"] == {"10000": 1, "loved by": 1} and s["defects"]["leaked_instructions"] == 0.2
    assert s["top_template"] == "{title} - loved by 10,000+ cooks" and s["top_template_share"] == 0.4


def test_without_support_or_placements_those_checks_are_not_made():
    out = check_copies(COPIES.drop(columns=["placement"]), CATALOG)
    assert out["unbacked"].isna().all() and out["over_limit"].isna().all()
    s = checks_summary(out, CATALOG)
    assert s["unbacked_claim"] is None and s["over_limit"] is None and s["flagged"] == 0.4


@pytest.fixture
def files(tmp_path):
    cat = CATALOG.assign(attributes=CATALOG["attributes"].map(json.dumps))
    cat.to_csv(tmp_path / "catalog.csv", index=False)
    COPIES.to_csv(tmp_path / "copies.csv", index=False)
    logs = LOGS.assign(event_id=["e1", "e2"], timestamp="2025-03-01T10:00:00", user_id="u1", segment="all",
                       placement="email", position=0, copy_id=["c1", "c2"], propensity=0.5, clicked=0, converted=0,
                       revenue=0.0)
    logs.to_csv(tmp_path / "logs.csv", index=False)
    (tmp_path / "placements.json").write_text(json.dumps({"email": {"max_chars": 40, "slots": 1, "examination": [1.0]}}))
    return tmp_path


def test_the_command_writes_every_row_with_its_checks(files, monkeypatch, capsys):
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", files / "copies.csv", "--catalog", files / "catalog.csv",
                    "--logs", files / "logs.csv", "--out", files / "checked.jsonl", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert summary["copies"] == 5 and summary["flagged"] == 0.8 and summary["claims_backed_by"] == "catalog + logged copy"
    assert summary["placements"].endswith("placements.json")  # found next to --copies
    checked = pd.read_json(files / "checked.jsonl", lines=True)
    assert checked["copy_text"].tolist() == COPIES["copy_text"].tolist() and checked["flagged"].sum() == 4
    # without the logs the kettle's own claim is unbacked too: only the catalog speaks for it
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", files / "copies.csv", "--catalog", files / "catalog.csv",
                    "--out", files / "checked.csv", "--json")
    assert run.code == 0 and json.loads(run.out)["unbacked_claim"] == 0.4


def test_strict_exits_3_when_a_copy_is_flagged(files, monkeypatch, capsys):
    args = ["check", "--copies", files / "copies.csv", "--catalog", files / "catalog.csv", "--logs", files / "logs.csv",
            "--strict", "--json"]
    assert run_rlopt(monkeypatch, capsys, *args, "--out", files / "a.jsonl").code == 3
    COPIES.iloc[[0]].to_csv(files / "copies.csv", index=False)
    assert run_rlopt(monkeypatch, capsys, *args, "--out", files / "b.jsonl").code == 0


def test_a_copy_of_an_unknown_item_is_bad_input(files, monkeypatch, capsys):
    COPIES.assign(item_id=["k1", "r1", "zz9", "k1", "r1"]).to_csv(files / "copies.csv", index=False)
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", files / "copies.csv", "--catalog", files / "catalog.csv",
                    "--out", files / "checked.jsonl")
    text = one_line(run.err)
    assert run.code == 2 and "Traceback" not in run.err
    assert "copies.csv" in text and "item_id" in text and "zz9" in text, text
    assert not (files / "checked.jsonl").exists()


def test_the_readme_tour_check_runs_on_the_shipped_examples(monkeypatch, capsys, tmp_path):
    from tests.docs.markdown_blocks import ROOT

    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository root
    run = run_rlopt(monkeypatch, capsys, "check", "--copies", "examples/copies.csv", "--catalog", "examples/catalog.csv",
                    "--logs", "examples/logs.csv", "--placements", "examples/placements.toml",
                    "--out", tmp_path / "checked.csv", "--json")
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    # the draft has one of each problem (make_examples.DRAFT_TEMPLATES), twice over
    assert summary["copies"] == 14 and 0 < summary["misleading"] and 0 < summary["unbacked_claim"]
    assert summary["defects"]["leaked_instructions"] > 0 and summary["over_limit"] > 0
    assert {"loved by", "best seller"} <= set(summary["unbacked_top"])
    assert "rlopt check --copies examples/copies.csv" in (ROOT / "README.md").read_text(encoding="utf-8")
