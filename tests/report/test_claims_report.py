"""The discount-claims table and the verdict's compliance note: raw vs shown rates are never hidden."""

from __future__ import annotations

from rlopt.pipeline.report_stage import _claims_table
from rlopt.report import write_report
from rlopt.report.verdict import decide

EVAL = {
    "base": {"misleading_rate": 0.0, "misleading_rate_raw": 0.072, "compliance_changed": 38,
             "compliance_changed_rate": 38 / 512, "overclaim_rate_truth": 0.0, "overclaim_rate_truth_raw": 0.037,
             "n_copies": 512},
    "tuned": {"misleading_rate": 0.0, "misleading_rate_raw": 0.084, "compliance_changed": 45,
              "compliance_changed_rate": 45 / 512, "overclaim_rate_truth": 0.0, "overclaim_rate_truth_raw": 0.047,
              "n_copies": 512},
}


def test_claims_table_says_raw_rates_and_changes():
    table = _claims_table({"compliance_on": True}, EVAL)
    assert [r["generator"] for r in table["rows"]] == ["base", "tuned"]
    assert table["rows"][1]["misleading_rate_raw"] == 0.084 and table["rows"][1]["compliance_changed"] == 45
    assert "base 7.2%, tuned 8.4%" in table["notes"] and "45 of 512 tuned copies" in table["notes"]
    assert "not a generator that learned honesty" in table["notes"]


def test_claims_table_with_the_filter_off_or_absent():
    off = _claims_table({"compliance_on": False}, {"tuned": {"misleading_rate": 0.08, "n_copies": 10}})
    assert "was off" in off["notes"]
    old = _claims_table({}, {"tuned": {"misleading_rate": 0.08, "n_copies": 10}})
    assert "predates the compliance filter" in old["notes"]
    assert _claims_table({}, {"tuned": {"n_copies": 10}}) is None


def test_report_renders_the_claims_table(tmp_path, report_data):
    report_data["overopt"]["claims"] = _claims_table({"compliance_on": True}, EVAL)
    paths = write_report(report_data, tmp_path)
    page, md = paths["html"].read_text(), paths["md"].read_text()
    assert "Discount claims: what the generators wrote vs what is shown" in page
    assert "misleading_rate_raw" in page and "### Discount claims" in md and "| tuned | 0.084 |" in md


def _m(diff, p, control=0.02):
    return {"control": control, "treatment": control + diff, "diff": diff, "ci_low": diff - 0.001,
            "ci_high": diff + 0.001, "pvalue": p, "relative_lift": diff / control}


def test_verdict_names_the_raw_rate_and_the_changes():
    ab = {"primary_metric": "purchase_rate", "metrics": {"purchase_rate": _m(0.004, 1e-4), "ctr": _m(0.0, 0.8)}}
    comp = {"misleading_rate_raw": 0.084, "changed": 45, "n_copies": 512}
    ship = decide(ab, misleading_rate=0.0, over_limit=0, compliance=comp)
    assert ship.decision == "ship"
    assert "changed 45 of 512 tuned copies" in ship.sentence() and "wrote 8.4% misleading copy" in ship.sentence()
    blocked = decide(ab, misleading_rate=0.02, over_limit=0, compliance=comp)
    assert blocked.decision == "do not ship" and "8.4%" in blocked.reason
    assert "compliance" not in decide(ab, misleading_rate=0.0, over_limit=0).reason
