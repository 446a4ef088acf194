"""The report files: self-contained HTML, Markdown with figure files, "not available" sections."""

from __future__ import annotations

import base64
import re

from rlopt.report import write_report


def test_html_is_self_contained_and_complete(tmp_path, report_data):
    paths = write_report(report_data, tmp_path)
    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    external = re.findall(r'(?:src|href)="(?!data:|#)([^"]+)"', page)
    assert external == []
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5  # reward, tuning, overopt, ab, bandit (ope unavailable)
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Not available: rlopt.ope is not installed" in page
    assert "Test report &lt;&amp;&gt;" in page and "20% off today &lt;b&gt;" in page
    assert page.rstrip().endswith('Verdict: ship — significant lift on purchase_rate.</p>\n</body></html>')


def test_markdown_references_the_figure_files(tmp_path, report_data):
    paths = write_report(report_data, tmp_path)
    md = paths["md"].read_text()
    for ref in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (tmp_path / ref).read_bytes()[:4] == b"\x89PNG"
    assert "| purchase_rate (primary) |" in md
    assert "> Not available: rlopt.ope is not installed" in md
    assert md.rstrip().endswith("**Verdict: ship — significant lift on purchase_rate.**")


def test_missing_sections_are_reported_not_invented(tmp_path):
    paths = write_report({"title": "empty", "verdict": {"decision": "inconclusive", "reason": "nothing ran"}}, tmp_path)
    page = paths["html"].read_text()
    assert page.count("Not available: this stage did not run") == 9  # every section of render.SECTIONS
    assert "<img" not in page
