"""The data contract: schema, readers/writers, validation, quarantine, catalog join and splits.

Logs larger than memory are validated in record batches by :func:`stream_validate`
(:mod:`rlopt.data.stream`); :func:`validate_batch` is the per-batch function engines call.

See docs/design.md ("Data contract") and :mod:`rlopt.data.rules` for the rule table.
"""

from rlopt.data.io import read_table, write_jsonl, write_table
from rlopt.data.placements import DEFAULT_PLACEMENT, placement_for, read_placements, write_placements
from rlopt.data.readers import (
    join_catalog,
    read_catalog,
    read_contexts,
    read_copies,
    read_logged_copy,
    read_logs,
)
from rlopt.data.rules import RULES, Rule, rules_for
from rlopt.data.schema import Placement, copy_id_for
from rlopt.data.split import split_logs
from rlopt.data.stream import StreamResult, should_stream, stream_validate, validate_batch
from rlopt.data.validate import ValidationReport, quarantine_path_for, validate_table

__all__ = [
    "DEFAULT_PLACEMENT",
    "RULES",
    "Placement",
    "Rule",
    "StreamResult",
    "ValidationReport",
    "copy_id_for",
    "join_catalog",
    "placement_for",
    "quarantine_path_for",
    "read_catalog",
    "read_contexts",
    "read_copies",
    "read_logged_copy",
    "read_logs",
    "read_placements",
    "read_table",
    "rules_for",
    "should_stream",
    "split_logs",
    "stream_validate",
    "validate_batch",
    "validate_table",
    "write_jsonl",
    "write_placements",
    "write_table",
]
