"""Errors that mean "the input is wrong" (the CLI turns them into exit code 2)."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad user input: a file, a row, a column or an argument that breaks a rule.

    The message is one paragraph a person can act on. ``file``, ``row``, ``column`` and
    ``rule`` are kept as attributes so callers (and tests) can inspect them. Rows are
    numbered from 1 for the first data row (the header of a CSV is not counted).

    Examples
    --------
    >>> err = InputError("must be in (0, 1]", file="logs.csv", row=3, column="propensity",
    ...                  rule="propensity in (0, 1]", value=1.5)
    >>> str(err)
    "logs.csv, row 3, column 'propensity': must be in (0, 1] (rule: propensity in (0, 1]; value: 1.5)"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        rule: str | None = None,
        value: Any = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.rule = rule
        self.value = value
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        extra = []
        if self.rule is not None:
            extra.append(f"rule: {self.rule}")
        if self.value is not None:
            extra.append(f"value: {self.value!r}")
        text = f"{prefix}: {self.message}" if prefix else self.message
        if extra:
            text += f" ({'; '.join(extra)})"
        return text
