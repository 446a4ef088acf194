"""Timestamp parsing for the market config."""

from __future__ import annotations

import pandas as pd

from rlopt.errors import InputError


def parse_timestamp(value: str | int, file: str | None = None) -> int:
    """Epoch milliseconds of an ISO-8601 string or an int (already epoch ms).

    >>> parse_timestamp("2026-01-05T00:00:00Z")
    1767571200000
    """
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError("start_timestamp is not ISO-8601 or epoch ms", file=file, column="start_timestamp",
                         rule="ISO-8601 timestamp", value=value) from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value // 1_000_000)
