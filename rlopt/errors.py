r"""Errors that mean "the input is wrong" (the CLI turns them into exit code 2), and the one place
that makes any message safe to print: :func:`clean_message`.

File names, column names and cell values come from users' files. Printed raw they can move the
cursor, recolour or clear the terminal (``ESC [ ... m``), or split a one-paragraph message with
``\r``. :class:`InputError` and the CLI's last-resort handler pass every message through
:func:`clean_message`; reports use :func:`strip_controls`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# ANSI/VT escape sequences: CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and two-byte ESC x.
_ESCAPE_SEQ = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan source").
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t\v\f\x85\u2028\u2029")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI


def clean_message(text: str) -> str:
    r"""``text`` as one printable paragraph: escape sequences shown, not obeyed.

    Line breaks and tabs (``\n \r \t``, U+2028 ...) become one space; an escape sequence or any
    other control character (Unicode category ``Cc``, bidi overrides) is replaced by its visible
    ``\xNN`` / ``\uNNNN`` spelling, so the user can still find it in the file.

    >>> clean_message("bad column '\x1b[31mred\x1b[0m'\r\nnext")
    "bad column '\\x1b[31mred\\x1b[0m' next"
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            if not out or out[-1] != " ":
                out.append(" ")
        elif _is_control(ch):
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def show_controls(text: str) -> str:
    r"""``text`` with every control character but ``\n`` and ``\t`` shown as its ``\xNN`` spelling.

    For multi-line terminal output (tables, notes): line structure stays, escape sequences and
    ``\r`` are shown, not obeyed.

    >>> show_controls("a\x1b[2Jb\r\nc")
    'a\\x1b[2Jb\\r\nc'
    """
    if text.isprintable():
        return text
    return "".join(ascii(ch)[1:-1] if ch not in "\n\t" and _is_control(ch) else ch for ch in text)


def strip_controls(text: str) -> str:
    r"""``text`` without escape sequences and control characters (for report strings).

    Line breaks and tabs become one space (a ``\r`` or ``\n`` in a name must not start a new
    Markdown block); everything else of category ``Cc`` and the bidi overrides is dropped.

    >>> strip_controls("Shoe\r# injected\x1b[2J\x00")
    'Shoe # injected'
    """
    if text.isprintable():
        return text
    text = _ESCAPE_SEQ.sub("", text)
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            if not out or out[-1] != " ":
                out.append(" ")
        elif not _is_control(ch):
            out.append(ch)
    return "".join(out)


class InputError(ValueError):
    """Bad user input: a file, a row, a column or an argument that breaks a rule.

    The message is one paragraph a person can act on. ``file``, ``row``, ``column``, ``key``
    and ``rule`` are kept as attributes so callers (and tests) can inspect them. Rows are
    numbered from 1 for the first data row (the header of a CSV is not counted). ``key`` names
    a config key or option (``tuning.lora_r``) where ``column`` names a table's column.

    Examples
    --------
    >>> err = InputError("must be in (0, 1]", file="logs.csv", row=3, column="propensity",
    ...                  rule="propensity in (0, 1]", value=1.5)
    >>> str(err)
    "logs.csv, row 3, column 'propensity': must be in (0, 1] (rule: propensity in (0, 1]; value: 1.5)"
    >>> str(InputError("must be >= 1", file="run.toml", key="tuning.lora_r", value=0))
    "run.toml, key 'tuning.lora_r': must be >= 1 (value: 0)"
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
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.key = key
        self.rule = rule
        self.value = value
        super().__init__(self._format())

    def with_file(self, file: str | None) -> InputError:
        """The same error naming ``file`` (e.g. the user's original instead of a run's copy of it)."""
        return InputError(self.message, file=file, row=self.row, column=self.column, rule=self.rule,
                          value=self.value, key=self.key)

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        prefix = ", ".join(where)
        extra = []
        if self.rule is not None:
            extra.append(f"rule: {self.rule}")
        if self.value is not None:
            extra.append(f"value: {self.value!r}")
        text = f"{prefix}: {self.message}" if prefix else self.message
        if extra:
            text += f" ({'; '.join(extra)})"
        return clean_message(text)
