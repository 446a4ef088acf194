"""The copy-quality table under the over-optimization section: written vs shown defect rates per generator."""

from __future__ import annotations

from rlopt.report import write_report
from rlopt.report.quality import quality_table

EVAL = {
    "base": {"defect_rates": {"incomplete": 0.0, "leaked_instructions": 0.0, "invented_url": 0.0, "junk": 0.0,
                              "repetition": 0.0, "any": 0.0},
             "defect_rates_raw": {"incomplete": 0.19, "leaked_instructions": 0.34, "invented_url": 0.0,
                                  "junk": 0.08, "repetition": 0.08, "any": 0.55},
             "quality_actions": {"ok": 29, "repaired": 12, "rejected": 23}, "n_copies": 64},
    "<b>tuned</b>": {"defect_rates": {"incomplete": 0.02, "any": 0.02}, "n_copies": 10},
    "old run": {"n_copies": 10},  # evaluated before the defect rates existed: no row
}


def test_quality_table_gives_written_and_shown_rates_and_actions():
    table = quality_table(EVAL)
    assert [r["generator"] for r in table["rows"]] == ["base", "<b>tuned</b>"]
    base = table["rows"][0]
    assert base["leaked instructions (written / shown)"] == "34.0% / 0.0%"
    assert base["any defect (written / shown)"] == "55.0% / 0.0%"
    assert base["repaired"] == 12 and base["rejected (title shown)"] == 23 and base["copies"] == 64
    assert table["rows"][1]["incomplete (written / shown)"] == "n/a / 2.0%"  # no raw text: not invented
    assert "at most 1% shown" in table["notes"]
    assert quality_table({"old run": {"n_copies": 3}}) is None


def test_report_renders_the_quality_table_escaped(tmp_path, report_data):
    report_data["overopt"]["quality"] = quality_table(EVAL)
    paths = write_report(report_data, tmp_path)
    page, md = paths["html"].read_text(), paths["md"].read_text()
    assert "Copy quality: defects in what the generators wrote vs what is shown" in page
    assert "34.0% / 0.0%" in page and "### Copy quality" in md and "55.0% / 0.0%" in md
    assert "<b>tuned</b>" not in page and "&lt;b&gt;tuned&lt;/b&gt;" in page
