"""The data contract: schema, readers/writers, validation, quarantine, catalog join and splits.

See docs/design.md ("Data contract") and :mod:`rlopt.data.rules` for the rule table.
"""

from rlopt.data.io import read_table, write_jsonl, write_table
from rlopt.data.placements import DEFAULT_PLACEMENT, read_placements, write_placements
from rlopt.data.readers import join_catalog, read_catalog, read_contexts, read_copies, read_logs
from rlopt.data.rules import RULES, Rule, rules_for
from rlopt.data.schema import Placement, copy_id_for
from rlopt.data.split import split_logs
from rlopt.data.validate import ValidationReport, quarantine_path_for, validate_table

__all__ = [
    "DEFAULT_PLACEMENT",
    "RULES",
    "Placement",
    "Rule",
    "ValidationReport",
    "copy_id_for",
    "join_catalog",
    "quarantine_path_for",
    "read_catalog",
    "read_contexts",
    "read_copies",
    "read_logs",
    "read_placements",
    "read_table",
    "rules_for",
    "split_logs",
    "validate_table",
    "write_jsonl",
    "write_placements",
    "write_table",
]
