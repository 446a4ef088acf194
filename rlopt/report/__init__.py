"""The experiment report: figures, a self-contained HTML page, Markdown, and the verdict.

- :func:`write_report` (``render.py``) writes ``report.html`` (plots as data URIs, no external
  resources), ``report.md`` and ``figures/*.png`` from a plain dict of sections.
- :func:`decide` (``verdict.py``) turns an A/B summary and guard measurements into
  "ship" / "do not ship" / "inconclusive" with the reason.
"""

from rlopt.report.render import render_html, render_markdown, write_report
from rlopt.report.verdict import DECISIONS, Verdict, decide

__all__ = ["DECISIONS", "Verdict", "decide", "render_html", "render_markdown", "write_report"]
