"""A hostile catalog and config cannot inject markup into report.md or report.html.

report.md is rendered with a real CommonMark renderer (markdown-it, tables on): every hostile
string must come out as text -- no raw HTML, no link or image, no extra heading, list or table
row -- and no control character survives in either file.
"""

from __future__ import annotations

import re

import pytest

from rlopt.report import write_report

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "[click](javascript:alert(3))",
    "![pixel](http://evil.example/p.png)",
    "Shoe\r# Injected heading",
    "Shoe\n\n- injected list\n> quote",
    "a | b | c",
    "**bold** _it_ ~~gone~~ `code`",
    "\x1b[2J\x1b[31mred\x1b[0m\x00\x07",
    "<http://autolink.example>",
    "&lt;script&gt;",
    "\u202eevil",
]


@pytest.fixture
def hostile_data(report_data):
    data = dict(report_data)
    data["title"] = HOSTILE[0] + HOSTILE[4]
    data["run_name"] = HOSTILE[5]
    data["config"] = "a`b`" + HOSTILE[2]
    data["stages"] = [{"name": "data", "status": "ran", "wall_s": 1.0, "reason": HOSTILE[8]}]
    data["data"] = {"rows": {HOSTILE[1]: HOSTILE[3], "quarantined": 0}}
    data["bandit"] = {"final": [{"policy": HOSTILE[6], "regret": 1.0}], "curves": {}}
    data["ope"] = {"policy": HOSTILE[4], "truth": 0.1, "notes": "- " + HOSTILE[5],
                   "estimates": [{"estimator": HOSTILE[7], "estimate": 0.1, "low": 0.0, "high": 0.2}]}
    data["samples"] = {"rows": [{"segment": s, "placement": s, "item": s, "base": s, "tuned": s} for s in HOSTILE]}
    data["verdict"] = {"decision": "ship", "reason": HOSTILE[9] + HOSTILE[10]}
    return data


def _commonmark(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)


def test_markdown_renders_hostile_strings_as_text(tmp_path, hostile_data):
    paths = write_report(hostile_data, tmp_path)
    md = paths["md"].read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e]", md)
    page = _commonmark(md)
    assert "<script" not in page and "onerror" not in page.replace("onerror=alert(2)", "")
    assert re.findall(r"<img [^>]*>", page) == [f'<img src="figures/{k}.png" alt="{t}" />' for k, t in (
        ("reward", "Reward model: accuracy and calibration"), ("tuning", "Generator tuning"),
        ("overopt", "True vs proxy reward (over-optimization)"),
        ("ab", "Simulated A/B test: base vs tuned generator"), ("ope", "Off-policy evaluation vs truth"))]
    assert "<a " not in page and "<em>" not in page and "<strong>bold" not in page and "<del>" not in page
    assert "<code>" not in page and "<blockquote>\n<p>quote" not in page
    assert len(re.findall(r"<h1>", page)) == 1 and "<h1>Injected" not in page and "<h2>Injected" not in page
    assert "<li>injected" not in page
    # every hostile sample is one row of five cells, shown as text
    samples = page.split('Sample copy before / after')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", samples, flags=re.S)
    assert len(rows) == 1 + len(HOSTILE)
    assert all(len(re.findall(r"<t[dh]>", r)) == 5 for r in rows)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in samples
    assert "[click](javascript:alert(3))" in samples
    assert "&amp;lt;script&amp;gt;" in samples  # a literal entity stays literal


def test_html_strips_control_characters(tmp_path, hostile_data):
    page = write_report(hostile_data, tmp_path)["html"].read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\u202e]", page)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Shoe # Injected heading" in page
