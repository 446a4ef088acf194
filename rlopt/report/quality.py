"""The report's copy-quality table: per generator, the defect rates of what it wrote and of what is shown.

Built from the generation stage's evaluation (:func:`rlopt.tuning.evaluate.evaluate_copies`:
``defect_rates``, ``defect_rates_raw``, ``quality_actions``); the defects are those of
:mod:`rlopt.generation.quality`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The defects as the table names them, in :data:`rlopt.generation.quality.DEFECTS` order.
LABELS = {"incomplete": "incomplete", "leaked_instructions": "leaked instructions",
          "invented_url": "invented URL / contact", "junk": "punctuation junk", "repetition": "repetition"}

NOTES = ("Defects a marketer would not ship (rlopt.generation.quality): incomplete = ends mid-phrase (a dangling "
         "'that are', 'for the', comma); leaked instructions = the prompt or the assistant talking ('For 160 "
         "characters', 'Sure! Here is'); invented URL / contact = links, emails, phone numbers, @handles, other "
         "stores; punctuation junk = empty template slots (', , ,', a label chain, '[Name]'); repetition = a "
         "word or phrase said again. 'written' = the model's cleaned output, 'shown' = after the compliance and "
         "quality repairs (links and leaked clauses removed, dangling tails trimmed; copy that cannot be repaired "
         "is rejected and the item title is shown: 'rejected'). Each rate is a share of copies; the target is at "
         "most 1% shown.")


def quality_table(evaluation: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """``{"rows": [...], "notes": str}`` for the generators whose evaluation has defect rates, else None.

    Parameters
    ----------
    evaluation : mapping generator -> evaluate_copies result (without its frame)

    Examples
    --------
    >>> ev = {"base": {"defect_rates": {"incomplete": 0.0, "any": 0.0}, "n_copies": 4,
    ...                "defect_rates_raw": {"incomplete": 0.25, "any": 0.5}, "quality_actions": {"rejected": 1}}}
    >>> quality_table(ev)["rows"][0]["incomplete (written / shown)"]
    '25.0% / 0.0%'
    """
    rows = []
    for gen, e in evaluation.items():
        shown = e.get("defect_rates")
        if not shown:
            continue
        raw = e.get("defect_rates_raw") or {}
        row: dict[str, Any] = {"generator": gen}
        for key, label in (*LABELS.items(), ("any", "any defect")):
            if key in shown:
                row[f"{label} (written / shown)"] = f"{_pct(raw.get(key))} / {_pct(shown[key])}"
        actions = e.get("quality_actions") or {}
        row["repaired"] = actions.get("repaired", 0)
        row["rejected (title shown)"] = actions.get("rejected", 0)
        row["copies"] = e.get("n_copies")
        rows.append(row)
    return {"rows": rows, "notes": NOTES} if rows else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.1%}"
