"""generate_copies with the compliance repair on and off (tiny random Llama)."""

from __future__ import annotations

import pandas as pd
import pytest

from rlopt.generation import sample
from rlopt.generation.compliance import check
from rlopt.generation.models import resolve_generator
from tests.tuning.tuning_data import CATALOG, PLACEMENTS, SEGMENTS

CONTEXTS = pd.DataFrame([
    {"item_id": "i1", "segment": "bargain", "placement": "push"},         # 20% off, $89
    {"item_id": "i2", "segment": "premium", "placement": "home_banner"},  # no discount, $39
])


@pytest.fixture(scope="module")
def tiny(tiny_causal_lm_dir):
    return resolve_generator(str(tiny_causal_lm_dir), device="cpu")


def test_new_columns_with_the_tiny_model(tiny):
    model, tok = tiny
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=1)
    assert {"copy_text", "raw_copy_text", "compliance_action"} <= set(out.columns)
    assert set(out["compliance_action"]) <= {"ok", "corrected", "removed", "unrepairable", "empty"}
    assert sum(out.attrs["compliance"].values()) == len(out)
    assert ((out["compliance_action"] == "empty") == (out["raw_copy_text"] == "")).all()  # "" -> the title
    unchanged = (out["compliance_action"] == "ok") & (out["quality_action"] == "ok")
    assert (out.loc[unchanged, "copy_text"] == out.loc[unchanged, "raw_copy_text"]).all()
    off = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=1, compliance=False)
    assert set(off["compliance_action"]) == {"off"} and off.attrs["compliance"] == {"off": 4}
    assert off["raw_copy_text"].tolist() == out["raw_copy_text"].tolist()  # same samples either way


def test_misleading_samples_are_repaired_or_replaced_by_the_title(tiny, monkeypatch):
    model, tok = tiny
    raw = iter(["Trail shoes, 50% off today", "Trail shoes for muddy runs",
                "Coffee set 30% off!", "Pour-over coffee set, now half price for your mornings"])
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: next(raw))
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0, batch_size=1)
    assert out["raw_copy_text"].tolist() == ["Trail shoes, 50% off today", "Trail shoes for muddy runs",
                                             "Coffee set 30% off!",
                                             "Pour-over coffee set, now half price for your mornings"]
    assert out["copy_text"].tolist() == ["Trail shoes, 20% off today", "Trail shoes for muddy runs",
                                         "Pour-Over Coffee Set", "Pour-over coffee set, for your mornings"]
    assert out["compliance_action"].tolist() == ["corrected", "ok", "unrepairable", "removed"]
    assert out.attrs["compliance"] == {"ok": 1, "corrected": 1, "removed": 1, "unrepairable": 1}
    assert out.attrs["title_fallbacks"] == 1
    prices = CATALOG.set_index("item_id")
    for item, text in zip(out["item_id"], out["copy_text"], strict=True):
        assert not check(text, prices.at[item, "price"], prices.at[item, "discount_pct"])


def test_cli_generate_no_compliance(tmp_path, tiny_causal_lm_dir):
    import json

    from typer.testing import CliRunner

    from rlopt.cli import app
    from rlopt.data import write_jsonl, write_placements, write_table

    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_placements(PLACEMENTS, tmp_path / "placements.json")
    write_jsonl(CONTEXTS, tmp_path / "ctx.jsonl")
    args = ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts", str(tmp_path / "ctx.jsonl"),
            "--catalog", str(tmp_path / "catalog.jsonl"), "--num", "2", "--json"]
    runner = CliRunner()
    on = runner.invoke(app, [*args, "--out", str(tmp_path / "on.jsonl")])
    off = runner.invoke(app, [*args, "--out", str(tmp_path / "off.jsonl"), "--no-compliance"])
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    def payload(result):  # the runner mixes in the weight-loading progress bar from stderr
        return json.loads(result.output[result.output.index("{"):])

    assert sum(payload(on)["compliance"].values()) == 4
    assert payload(on)["claim_check"] == {"backed_by": "catalog"}  # on by default; no --logs: the catalog alone
    assert "claim_check" not in payload(runner.invoke(app, [*args, "--out", str(tmp_path / "nc.jsonl"),
                                                            "--no-claim-check"]))
    assert payload(off)["compliance"] == {"off": 4}
    written = pd.read_json(tmp_path / "off.jsonl", lines=True, dtype=False)
    assert set(written["compliance_action"]) == {"off"}
    # an empty sample shows the title; so does one the quality repair rejects (it stays on without compliance)
    assert set(written["quality_action"]) <= {"ok", "repaired", "rejected", "unbacked", "empty"}
    kept = (written["raw_copy_text"] != "") & (written["quality_action"] == "ok")
    assert (written.loc[kept, "copy_text"] == written.loc[kept, "raw_copy_text"]).all()


def test_resample_replaces_title_fallbacks_with_a_clean_new_sample(tiny, monkeypatch):
    model, tok = tiny
    # first round: one rejected copy (leaked instructions) and one unrepairable claim fall back to the title;
    # round 1 gives a clean copy for the first and another bad one for the second; round 2 a clean one
    # (a batch's rounds follow its first samples, from the same encoded prompts; batch_size=1: one context each)
    raw = iter(["Trail shoes for muddy runs", "At most 60 characters. Mention only the real discount.",
                "Grip on any trail, all winter",
                "Big sale!", "Pour-over coffee set for slow mornings",
                "Here is a push notification for you", "Coffee set for two, brewed slow"])
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: next(raw))
    kw = {"num": 2, "seed": 0, "batch_size": 1}
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, resample=2, **kw)
    assert out["copy_text"].tolist() == ["Trail shoes for muddy runs", "Grip on any trail, all winter",
                                         "Coffee set for two, brewed slow", "Pour-over coffee set for slow mornings"]
    assert out["resample_round"].tolist() == [0, 1, 2, 0]
    assert not out["title_fallback"].any()
    assert out.attrs["resample"] == {"rounds": 2, "tried": 3, "recovered": 2, "title_fallbacks_first": 2}
    assert out.attrs["title_fallbacks"] == 0
    assert out["item_id"].tolist() == ["i1", "i1", "i2", "i2"]  # each copy stays in its own context


def test_resample_off_and_exhausted_rounds_keep_the_title(tiny, monkeypatch):
    model, tok = tiny
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: "Sure! Here is a push notification")
    kw = {"num": 1, "seed": 0, "batch_size": 1}
    off = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, **kw)
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, resample=1, **kw)
    titles = CATALOG.set_index("item_id").loc[CONTEXTS["item_id"], "title"].tolist()
    assert off["copy_text"].tolist() == out["copy_text"].tolist() == titles
    assert off["title_fallback"].all() and out["title_fallback"].all() and "resample" not in off.attrs
    assert out.attrs["resample"] == {"rounds": 1, "tried": 2, "recovered": 0, "title_fallbacks_first": 2}


def test_a_number_the_item_facts_do_not_back_is_never_shown(tiny, monkeypatch):
    from rlopt.generation.claims import ClaimSupport

    model, tok = tiny
    logs = pd.DataFrame({"item_id": ["i1"], "copy_text": ["Trail shoes - loved by 10,000+ runners"]})
    support = ClaimSupport(CATALOG, logs)
    # i1's logged copy says 10,000+; i2's never did: its copy is sampled again, then shows a clean one
    raw = iter(["Trail shoes - loved by 10,000+ runners", "Trail shoes for muddy runs",
                "Coffee set - loved by 10,000+ brewers", "Pour-over coffee set for slow mornings",
                "Coffee set for two, brewed slow"])
    monkeypatch.setattr(sample, "clean_copy", lambda text, limit: next(raw))
    out = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0, batch_size=1,
                                 resample=1, claim_support=support)
    assert out["copy_text"].tolist() == ["Trail shoes - loved by 10,000+ runners", "Trail shoes for muddy runs",
                                         "Coffee set for two, brewed slow", "Pour-over coffee set for slow mornings"]
    assert out.attrs["quality"]["unbacked"] == 1 and out["resample_round"].tolist() == [0, 0, 1, 0]
    # without the check the same first-round sample is shown
    raw = iter(["Trail shoes - loved by 10,000+ runners", "Trail shoes for muddy runs",
                "Coffee set - loved by 10,000+ brewers", "Pour-over coffee set for slow mornings"])
    off = sample.generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS, SEGMENTS, num=2, seed=0, batch_size=1)
    assert off["copy_text"][2] == "Coffee set - loved by 10,000+ brewers" and "unbacked" not in off.attrs["quality"]
