"""The reliability diagram draws bins with no events (Wilson's lower bound for 0 of 72 comes back as
3.5e-18, above the observed 0, which matplotlib's error bars reject)."""

from __future__ import annotations

from rlopt.report.figures import calibration


def test_a_bin_without_events_is_drawn():
    bins = [{"count": 72, "mean_predicted": 0.058, "observed": 0.0},
            {"count": 72, "mean_predicted": 0.117, "observed": 13 / 72}]
    uri = calibration(bins, "click")
    assert uri is not None and uri.startswith("data:image/png;base64,")
