"""Issue 23 item 5: the report leads with the answer, names each section's data, and explains its
small samples, undefined numbers and clipped rate intervals."""

from __future__ import annotations

import re

from rlopt.report import write_report
from rlopt.report.caveats import MIN_ROWS, calibration_check, clip_estimates, nan_reason
from rlopt.report.render import SECTIONS


def test_verdict_and_its_numbers_come_before_any_section(tmp_path, report_data):
    report_data["verdict"]["numbers"] = {"A/B purchase_rate tuned vs base (primary)": "+15.0% relative",
                                         "A/B ctr tuned vs base (guard)": "+5.0% relative",
                                         "misleading-claim rate (guard)": "0.0% of 256 copies"}
    report_data["verdict"]["data_source"] = "simulated market default"
    paths = write_report(report_data, tmp_path)
    md, page = paths["md"].read_text(), paths["html"].read_text()
    first_section = md.index("\n## ")
    assert md.index("**Verdict: ship") < first_section
    for label in report_data["verdict"]["numbers"]:
        assert md.index(label.split(" (")[0]) < first_section
    assert "| behind the verdict — data: simulated market default | value |" in md
    assert page.index("Verdict: ship") < page.index("<h2") and page.index("+15.0% relative") < page.index("<h2")


def test_every_section_heading_names_its_data(tmp_path, report_data):
    for key, _ in SECTIONS:
        report_data[key] = report_data.get(key) or {"unavailable": "not run"}
        report_data[key]["data_source"] = f"source-of-{key}"
    md = write_report(report_data, tmp_path)["md"].read_text()
    headings = [line for line in md.splitlines() if line.startswith("## ") and line not in ("## Stages", "## Verdict")]
    assert len(headings) == len(SECTIONS)
    for (key, _), line in zip(SECTIONS, headings, strict=True):
        assert line.endswith(f"— data: source-of-{key}"), line


def test_calibration_from_few_rows_is_not_drawn_and_says_why(tmp_path, report_data):
    report_data["reward"]["calibration"] = [{"mean_predicted": 0.05 * i, "observed": 0.05, "count": 6}
                                            for i in range(1, 10)]  # 54 rows
    paths = write_report(report_data, tmp_path)
    md = paths["md"].read_text()
    assert "Calibration plot not drawn: 54 held-out rows" in md
    assert "figures/reward.png" not in md and "fig:reward" not in paths
    assert "Calibration plot not drawn: 54 held-out rows" in paths["html"].read_text()


def test_calibration_with_sparse_bins_is_drawn_and_marked_noisy(tmp_path, report_data):
    report_data["reward"]["calibration"] = [{"mean_predicted": 0.03, "observed": 0.03, "count": 200}] * 10
    paths = write_report(report_data, tmp_path)
    assert "fig:reward" in paths
    assert "2,000 held-out rows in 10 bins: bins are noisy (the sparsest has 6 events" in paths["md"].read_text()


def test_calibration_rules():
    assert calibration_check(None) == (False, "")
    assert calibration_check([{"mean_predicted": 0.5, "observed": 0.5, "count": MIN_ROWS - 1}])[0] is False
    assert calibration_check([{"mean_predicted": 0.5, "observed": 0.5, "count": MIN_ROWS}]) == (True, "")
    # enough rows, too few events (a rare purchase): not drawn
    assert calibration_check([{"mean_predicted": 0.001, "observed": 0.001, "count": 5000}])[0] is False


def test_nan_metrics_are_explained_not_printed_as_nan(tmp_path, report_data):
    report_data["reward"]["metrics"]["held-out purchase_auc"] = nan_reason(
        "purchase_auc", {"n": 54, "purchase_rate": 0.0})
    report_data["reward"]["metrics"]["held-out something"] = float("nan")
    md = write_report(report_data, tmp_path)["md"].read_text()
    assert "| held-out purchase_auc | n/a: no purchases in the 54 held-out rows (an AUC needs both classes) |" in md
    assert not re.search(r"\bnan\b", md)
    assert "| held-out something | n/a |" in md


def test_relative_lift_over_a_zero_base_says_why(tmp_path, report_data):
    m = report_data["ab"]["metrics"]["purchase_rate"]
    m.update(control=0.0, treatment=0.001, diff=0.001, relative_lift=float("nan"))
    md = write_report(report_data, tmp_path)["md"].read_text()
    assert "n/a (base is 0)" in md and not re.search(r"\bnan\b", md)


def test_rate_intervals_are_clipped_to_unit_interval_and_marked(tmp_path, report_data):
    report_data["ope"] = {"policy": "reward-model", "truth": 0.01, "bounds": [0.0, 1.0], "estimates": [
        {"estimator": "dr", "estimate": 0.012, "low": -0.0041, "high": 0.03},
        {"estimator": "ipw", "estimate": 0.011, "low": 0.002, "high": 0.02}]}
    paths = write_report(report_data, tmp_path)
    md = paths["md"].read_text()
    assert "| dr | 0.012 | 0 (clipped; raw -0.0041) | 0.03 |" in md
    assert "Rate intervals are clipped to \\[0, 1\\]" in md
    assert "dr low marked 'clipped'" in md
    assert "fig:ope" in paths


def test_clipping_leaves_unbounded_values_alone():
    rows = [{"estimator": "dm", "estimate": 12.0, "low": -3.0, "high": 20.0}]  # revenue: no bounds
    assert clip_estimates(rows, None) == (rows, "")
    clipped, note = clip_estimates([{"estimator": "ipw", "estimate": 1.2, "low": 0.9, "high": 1.4}], (0, 1))
    assert clipped[0]["estimate"] == 1.0 and clipped[0]["high"] == 1.0 and clipped[0]["low"] == 0.9
    assert "ipw estimate, ipw high" in note
