"""Write the experiment report: one self-contained ``report.html`` and a ``report.md``.

The input is a plain dict (the pipeline's report stage assembles it from stage summaries)::

    {
      "title": str, "run_name": str, "config": str, "seed": int, "generated": str,
      "stages":  [{"name", "status", "wall_s", "reason"}],
      "data":    {"rows": {label: value}},
      "reward":  {"metrics": {name: value}, "calibration": [{"mean_predicted", "observed", "count"}]},
      "tuning":  {"method": str, "facts": {label: value}, "curves": {"step": [...], col: [...]}},
      "overopt": {"rows": [{"generator", "proxy_reward", "true_reward", ...}],
                  "claims": {"rows": [{"generator", "misleading_rate_raw", ...}], "notes": str},
                  "quality": {"rows": [{"generator", "incomplete (shown)", ...}], "notes": str}},
      "ab":      {"primary_metric": str, "n": {arm: int}, "metrics": {name: {"control", "treatment",
                  "diff", "ci_low", "ci_high", "pvalue", "relative_lift"}}},
      "bandit":  {"final": [{"policy", "regret", "mean_reward"}], "curves": {policy: {"step", "regret"}}},
      "ope":     {"policy": str, "truth": float | None, "estimates": [{"estimator", "estimate", "low", "high"}]},
      "samples": {"rows": [{"segment", "placement", "item", "base", "tuned"}]},
      "logged":  {"rows": [{"copy", <score>}], "ratios": {"rows": [{"comparison", "ratio", ...}]},
                  "checks": {"rows": [{"generator", "unbacked claim", ...}], "notes": str}},
      "verdict": {"decision": str, "reason": str, "numbers": {label: value}, "data_source": str},
    }

Each section may carry ``"data_source"`` ("your logs (...)" / "simulated market <name>"): its
heading says it. The verdict and the numbers behind it open the report (before any section) and
the verdict closes it.

Small samples and undefined numbers are said, not hidden (:mod:`rlopt.report.caveats`): a
calibration plot from few held-out rows is marked noisy, or not drawn below a floor, with the
reason; a NaN shows as "n/a" (the report stage adds why, e.g. no purchases in the holdout); the
OPE section may carry ``"bounds": [0, 1]`` (its reward is a rate), and estimates and interval ends
outside are clipped to them and marked "clipped".

Any section may instead be ``{"unavailable": "why"}`` (or absent), and the report says so:
numbers are never invented. Figures are PNGs embedded as base64 ``data:`` URIs; the HTML has no
script, no external URL and no web font, so it opens offline and renders the same everywhere.
Every string from the data is escaped for its format and stripped of control characters
(:mod:`rlopt.report.text`): a hostile catalog title or run name renders as text, in both files.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rlopt.io_utils import atomic_path, write_text_atomic
from rlopt.report import caveats, figures
from rlopt.report.text import html_text, md_block, md_inline

SECTIONS: tuple[tuple[str, str], ...] = (
    ("data", "Data and validation"),
    ("reward", "Reward model: accuracy and calibration"),
    ("tuning", "Generator tuning"),
    ("overopt", "True vs proxy reward (over-optimization)"),
    ("logged", "Tuned copy vs the shop's logged copy (same contexts)"),
    ("ab", "Simulated A/B test: base vs tuned generator"),
    ("bandit", "Placement bandit: regret"),
    ("ope", "Off-policy evaluation vs truth"),
    ("samples", "Sample copy before / after, per segment and placement"),
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:.6em 0}
.na{color:#8a6d3b;background:#fcf8e3;padding:.4em .6em;border-radius:4px}
.verdict{font-size:1.1em;padding:.8em 1em;border-radius:6px;margin-top:1.5em}
.ship,.candidate{background:#dff0d8}.do-not-ship{background:#f2dede}.inconclusive{background:#fcf8e3}
.meta{color:#666;font-size:.9em}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4g}"  # value != value: NaN
    return str(value)


def _figures(data: Mapping[str, Any]) -> dict[str, str | None]:
    """Build every figure whose data is present (name -> data URI or None)."""
    def get(section: str) -> Mapping[str, Any]:
        value = data.get(section) or {}
        return {} if "unavailable" in value else value

    ope = get("ope")
    bins = get("reward").get("calibration")
    return {
        "reward": figures.calibration(bins) if caveats.calibration_check(bins)[0] else None,
        "tuning": figures.curves(get("tuning").get("curves"), title="Tuning curves"),
        "overopt": figures.true_vs_proxy(get("overopt").get("rows")),
        "ab": figures.ab_lift(get("ab").get("metrics")),
        "bandit": figures.regret(get("bandit").get("curves")),
        "ope": figures.ope(caveats.clip_estimates(ope.get("estimates"), ope.get("bounds"))[0], ope.get("truth")),
    }


def _relative(rel: float | None, control: float) -> str:
    """A relative lift's cell; NaN says why (a base rate of 0 has no relative change)."""
    if rel is None:
        return ""
    if rel != rel:
        return "n/a (base is 0)" if control == 0 else "n/a"
    return f"{rel:+.2%}"


def _table_rows(section: str, body: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The section's table as (header, rows)."""
    if section == "data":
        return ["quantity", "value"], [[k, v] for k, v in body.get("rows", {}).items()]
    if section == "reward":
        return ["metric", "value"], [[k, v] for k, v in body.get("metrics", {}).items()]
    if section == "tuning":
        return ["setting / result", "value"], [[k, v] for k, v in {"method": body.get("method"), **body.get("facts", {})}.items()]
    if section in ("overopt", "logged"):
        rows = body.get("rows", [])
        keys = list(rows[0]) if rows else []
        return keys, [[r.get(k) for k in keys] for r in rows]
    if section == "ab":
        head = ["metric", "base", "tuned", "diff", "95% CI", "relative lift", "p-value"]
        rows = []
        for name, m in body.get("metrics", {}).items():
            primary = " (primary)" if name == body.get("primary_metric") else ""
            rel = m.get("relative_lift")
            rows.append([name + primary, m["control"], m["treatment"], m["diff"],
                         f"[{m['ci_low']:+.4g}, {m['ci_high']:+.4g}]",
                         _relative(rel, m["control"]), m["pvalue"]])
        return head, rows
    if section == "bandit":
        rows = body.get("final", [])
        keys = list(rows[0]) if rows else []
        return keys, [[r.get(k) for k in keys] for r in rows]
    if section == "ope":
        head = ["estimator", "estimate", "CI low", "CI high", "error vs truth"]
        truth = body.get("truth")
        estimates, _ = caveats.clip_estimates(body.get("estimates"), body.get("bounds"))
        return head, [[e["estimator"], *(caveats.bound_cell(e, k) for k in ("estimate", "low", "high")),
                       "" if truth is None else e["estimate"] - truth] for e in estimates]
    if section == "samples":
        return ["segment", "placement", "item", "base copy", "tuned copy"], [
            [r["segment"], r["placement"], r["item"], r["base"], r["tuned"]] for r in body.get("rows", [])]
    return [], []


def _notes(section: str, body: Mapping[str, Any]) -> str:
    notes = body.get("notes", "")
    if section == "ab" and body.get("n"):
        notes = f"Impressions per arm: {', '.join(f'{k}={v}' for k, v in body['n'].items())}. " + notes
    if section == "ope":
        truth = body.get("truth")
        notes = (f"Policy: {body.get('policy', '?')}; true value (oracle): "
                 f"{'not available' if truth is None else f'{truth:.4g}'}. " + notes)
        if clipped := caveats.clip_estimates(body.get("estimates"), body.get("bounds"))[1]:
            notes += " " + clipped
    if section == "reward":
        notes += " " + caveats.calibration_check(body.get("calibration"))[1]
    return notes.strip()


def _subtable(body: Mapping[str, Any], name: str) -> tuple[str, list[str], list[list[Any]]] | None:
    """An optional table under the over-optimization section (``claims``, ``quality``): (notes, header, rows)."""
    table = body.get(name) if isinstance(body, Mapping) else None
    if not table or not table.get("rows"):
        return None
    rows = table["rows"]
    keys = list(rows[0])
    return str(table.get("notes", "")), keys, [[r.get(k) for k in keys] for r in rows]


CLAIMS_TITLE = "Discount claims: what the generators wrote vs what is shown"
QUALITY_TITLE = "Copy quality: defects in what the generators wrote vs what is shown"
#: The over-optimization section's optional tables, in order: key in the section -> title.
SUBTABLES: tuple[tuple[str, str], ...] = (("claims", CLAIMS_TITLE), ("quality", QUALITY_TITLE))
#: Optional tables per section (the over-optimization one's above; the logged-copy ratios).
SECTION_SUBTABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "overopt": SUBTABLES, "logged": (("ratios", "Ratios with 95% bootstrap intervals over contexts"),
                                     ("checks", "Copy checks: defects, unbacked claims, one phrase everywhere"))}


def _heading(title: str, body: Mapping[str, Any] | None) -> str:
    """A section's title, with the data it used when the section says (``data_source``)."""
    source = (body or {}).get("data_source") if isinstance(body, Mapping) else None
    return f"{title} — data: {source}" if source else title


def _verdict_numbers(data: Mapping[str, Any]) -> list[list[Any]]:
    return [[k, v] for k, v in ((data.get("verdict") or {}).get("numbers") or {}).items()]


def _verdict_head(data: Mapping[str, Any]) -> list[str]:
    """The header of the numbers table under the verdict, naming their data when known."""
    return [_heading("behind the verdict", data.get("verdict")), "value"]


def _html_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return ""
    th = "".join(f"<th>{html_text(h)}</th>" for h in head)
    trs = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html_text(_fmt(v))}</td>' if isinstance(v, (int, float)) else f"<td>{html_text(_fmt(v))}</td>"
            for v in row
        )
        trs.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(trs)}</tbody></table>"


def _md_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return ""
    def cell(v: Any) -> str:
        return md_inline(_fmt(v))  # escapes '|' too; line breaks are gone
    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(data: Mapping[str, Any]) -> tuple[str, str]:
    v = data.get("verdict") or {"decision": "inconclusive", "reason": "no verdict was computed"}
    return v["decision"], f"Verdict: {v['decision']} — {v['reason']}."


def _stage_rows(data: Mapping[str, Any]) -> list[list[Any]]:
    return [[s["name"], s["status"], round(float(s.get("wall_s", 0.0)), 1), s.get("reason", "")]
            for s in data.get("stages", [])]


def render_html(data: Mapping[str, Any], figs: Mapping[str, str | None]) -> str:
    """The report as one HTML document (no scripts, no external resources)."""
    esc = html_text
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(data.get('title', 'rlopt report'))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(data.get('title', 'rlopt report'))}</h1>",
        f'<p class="meta">run <b>{esc(str(data.get("run_name", "")))}</b> · config {esc(str(data.get("config", "")))} · '
        f'seed {esc(str(data.get("seed", "")))} · generated {esc(str(data.get("generated", "")))}</p>',
    ]
    decision, sentence = _verdict(data)
    parts += [f'<p class="verdict {esc(decision.replace(" ", "-"))}">{esc(sentence)}</p>',
              _html_table(_verdict_head(data), _verdict_numbers(data)),
              "<h2>Stages</h2>", _html_table(["stage", "status", "compute wall time (s)", "note"], _stage_rows(data))]
    for key, title in SECTIONS:
        body = data.get(key)
        parts.append(f'<h2 id="{key}">{esc(_heading(title, body))}</h2>')
        if not body or "unavailable" in body:
            reason = (body or {}).get("unavailable", "this stage did not run")
            parts.append(f'<p class="na">Not available: {esc(str(reason))}</p>')
            continue
        if notes := _notes(key, body):
            parts.append(f"<p>{esc(notes)}</p>")
        parts.append(_html_table(*_table_rows(key, body)))
        if figs.get(key):
            parts.append(f'<img src="{figs[key]}" alt="{esc(title)}">')
        for name, sub_title in SECTION_SUBTABLES.get(key, ()):
            if sub := _subtable(body, name):
                parts.append(f"<h3>{esc(sub_title)}</h3>")
                if sub[0]:
                    parts.append(f"<p>{esc(sub[0])}</p>")
                parts.append(_html_table(sub[1], sub[2]))
    parts.append(f'<h2 id="verdict">Verdict</h2><p class="verdict {esc(decision.replace(" ", "-"))}">{esc(sentence)}</p>')
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def render_markdown(data: Mapping[str, Any], fig_files: Mapping[str, str]) -> str:
    """The report as Markdown; figures are referenced as PNG files next to it."""
    lines = [f"# {md_inline(data.get('title', 'rlopt report'))}", "",
             f"run **{md_inline(data.get('run_name', ''))}** · config {md_inline(data.get('config', ''))} · "
             f"seed {md_inline(data.get('seed', ''))} · generated {md_inline(data.get('generated', ''))}", "",
             f"**{md_inline(_verdict(data)[1])}**", ""]
    if numbers := _verdict_numbers(data):
        lines += [_md_table(_verdict_head(data), numbers), ""]
    lines += ["## Stages", "",
             _md_table(["stage", "status", "compute wall time (s)", "note"], _stage_rows(data)), ""]
    for key, title in SECTIONS:
        body = data.get(key)
        lines += [f"## {md_inline(_heading(title, body))}", ""]
        if not body or "unavailable" in body:
            lines += [f"> Not available: {md_inline((body or {}).get('unavailable', 'this stage did not run'))}", ""]
            continue
        if notes := _notes(key, body):
            lines += [md_block(notes), ""]
        if table := _md_table(*_table_rows(key, body)):
            lines += [table, ""]
        if key in fig_files:
            lines += [f"![{title}]({fig_files[key]})", ""]
        for name, sub_title in SECTION_SUBTABLES.get(key, ()):
            if sub := _subtable(body, name):
                lines += [f"### {sub_title}", ""]
                if sub[0]:
                    lines += [md_block(sub[0]), ""]
                lines += [_md_table(sub[1], sub[2]), ""]
    lines += ["## Verdict", "", f"**{md_inline(_verdict(data)[1])}**", ""]
    return "\n".join(lines)


def write_report(data: Mapping[str, Any], out_dir: str | Path,
                 make_figures: Callable[[Mapping[str, Any]], dict[str, str | None]] = _figures) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into ``out_dir``, atomically.

    Returns the paths written, keyed ``html``, ``md`` and ``fig:<section>``.
    """
    out = Path(out_dir)
    figs = make_figures(data)
    written: dict[str, Path] = {}
    fig_files: dict[str, str] = {}
    for key, uri in figs.items():
        if not uri:
            continue
        path = out / "figures" / f"{key}.png"
        with atomic_path(path) as tmp:
            tmp.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        fig_files[key] = f"figures/{key}.png"
        written[f"fig:{key}"] = path
    write_text_atomic(out / "report.html", render_html(data, figs))
    write_text_atomic(out / "report.md", render_markdown(data, fig_files))
    written["html"], written["md"] = out / "report.html", out / "report.md"
    return written
