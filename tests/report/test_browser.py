"""The report renders in headless Chromium: images decode, console silent (skips without chromium)."""

from __future__ import annotations

import pytest

from rlopt.report import write_report
from rlopt.report.browser import find_chromium, render_check

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (run scripts/setup-browser.sh)"),
]


def test_report_renders_in_chromium(tmp_path, report_data):
    paths = write_report(report_data, tmp_path)
    result = render_check(paths["html"])
    assert result["images"] == 5
    assert result["broken"] == []
    assert result["console"] == []
    assert result["height"] > 1500 and result["text"] > 500
    assert "Verdict: ship" in result["dom"]


def test_the_check_catches_broken_images_and_console_errors(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img alt="bad" src="data:image/png;base64,AAAA">'
                    '<img alt="missing" src="nope.png"><script>console.error("boom")</script></body></html>')
    result = render_check(page)
    assert result["images"] == 2
    assert sorted(result["broken"]) == ["bad", "missing"]
    assert any("boom" in line for line in result["console"])
