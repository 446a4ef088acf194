"""The data contract's row rules, in ONE table shared by validation, messages, docs and tests.

Each :class:`Rule` has an id (``column.check``), the column it is about, a description (the text
users see in error messages and in the quarantine ``reason`` column) and a vectorized check
that returns the mask of rows breaking it. File-level rules (readable file, required columns)
live in :mod:`rlopt.data.io` and :mod:`rlopt.data.validate`.

Blank cells in optional columns that are present:

- ``segment``, ``propensity``: all-or-none -- every row has a value, or the column is absent;
- ``user_features`` / ``attributes``: blank means ``{}``;
- ``copy_id``: blank means "derive it from ``copy_text``" (:func:`~rlopt.data.schema.copy_id_for`);
- ``revenue``: blank means 0 when ``converted`` is 0, and is an error when ``converted`` is 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rlopt.data.coerce import MAX_EXACT_INT, Parsed, control_char_rows
from rlopt.data.placements import DEFAULT_PLACEMENT
from rlopt.data.schema import Placement

TABLES = ("catalog", "logs", "contexts", "copies")

# How each contract column is parsed (see rlopt.data.coerce.PARSERS).
KINDS: dict[str, dict[str, str]] = {
    "catalog": {"item_id": "str", "title": "str", "category": "str", "brand": "str", "price": "number",
                "discount_pct": "number", "attributes": "attributes", "currency": "str"},
    "logs": {"event_id": "str", "timestamp": "timestamp", "user_id": "str", "segment": "str",
             "user_features": "features", "item_id": "str", "placement": "str", "position": "number",
             "copy_id": "str", "copy_text": "str", "propensity": "number", "clicked": "number",
             "converted": "number", "revenue": "number"},
    "contexts": {"item_id": "str", "segment": "str", "placement": "str", "user_features": "features"},
    "copies": {"item_id": "str", "segment": "str", "placement": "str", "user_features": "features",
               "copy_text": "str", "generator": "str", "sample_idx": "number"},
}
# Integer columns (parsed as numbers, stored as int64 once valid).
INT_COLUMNS = ("position", "clicked", "converted", "sample_idx", "timestamp")


@dataclass
class Frame:
    """What the checks see: parsed columns plus the context (catalog ids, placements)."""

    cols: dict[str, Parsed]
    n: int
    catalog_ids: pd.Index | None = None
    placements: Mapping[str, Placement] | None = None
    extra: dict = field(default_factory=dict)
    # Whole-input facts for a frame that is one batch of a larger input (rlopt.data.stream):
    # ``repeated[col]``: rows whose value already appeared at an earlier row of the whole input;
    # ``all_missing[col]``: whether the column is blank on every row of the whole input.
    repeated: dict[str, np.ndarray] | None = None
    all_missing: dict[str, bool] | None = None

    def has(self, col: str) -> bool:
        return col in self.cols


Check = Callable[[Frame], "np.ndarray | None"]


@dataclass(frozen=True)
class Rule:
    """One contract rule: ``check(frame)`` returns the bad-row mask, or None when it does not apply.

    ``scope`` is ``"row"`` for rules decided by the row alone (plus the catalog and placements),
    ``"unique"`` / ``"all_or_none"`` for rules that need the whole table (a batch of a larger input
    gets those facts in :attr:`Frame.repeated` / :attr:`Frame.all_missing`).
    """

    id: str
    column: str
    description: str
    tables: tuple[str, ...]
    check: Check
    scope: str = "row"


# ------------------------------------------------------------------------ check builders
def _nonblank(col: str) -> Check:
    def check(f: Frame) -> np.ndarray | None:
        if not f.has(col):
            return None
        return f.cols[col].missing | f.cols[col].unparsed
    return check


def _no_control(col: str) -> Check:
    """Bad when a present string holds a control character (NUL, ESC, line breaks, DEL, C1)."""
    def check(f: Frame) -> np.ndarray | None:
        if not f.has(col):
            return None
        p = f.cols[col]
        return control_char_rows(p.values) & ~p.missing & ~p.unparsed
    return check


def _unparsed(col: str) -> Check:
    return lambda f: f.cols[col].unparsed if f.has(col) else None


def _unique(col: str) -> Check:
    def check(f: Frame) -> np.ndarray | None:
        if not f.has(col):
            return None
        p = f.cols[col]
        if f.repeated is not None:
            return f.repeated[col] & ~p.missing & ~p.unparsed
        return p.values.duplicated(keep="first").to_numpy(dtype=bool) & ~p.missing & ~p.unparsed
    return check


def _number(col: str, ok: Callable[[np.ndarray], np.ndarray], required: bool = True) -> Check:
    """Bad when unparseable, blank (if ``required``) or when ``ok(values)`` is False."""
    def check(f: Frame) -> np.ndarray | None:
        if not f.has(col):
            return None
        p = f.cols[col]
        v = p.values.to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            bad = p.unparsed | (~p.missing & ~ok(np.nan_to_num(v, nan=0.0)))
        return bad | p.missing if required else bad
    return check


def _integer_at_least(lo: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda v: (v >= lo) & (np.floor(v) == v) & (v < MAX_EXACT_INT)


def _in_catalog(f: Frame) -> np.ndarray | None:
    if f.catalog_ids is None:
        return None
    p = f.cols["item_id"]
    return ~p.values.isin(f.catalog_ids).to_numpy(dtype=bool) & ~p.missing & ~p.unparsed


def _placement_known(f: Frame) -> np.ndarray | None:
    if f.placements is None or DEFAULT_PLACEMENT in f.placements:
        return None
    p = f.cols["placement"]
    return ~p.values.isin(list(f.placements)).to_numpy(dtype=bool) & ~p.missing & ~p.unparsed


def placement_slots(f: Frame) -> np.ndarray:
    """Slots of each row's placement (float; NaN where unknown and there is no default)."""
    slots = {name: float(pl.slots) for name, pl in (f.placements or {}).items()}
    default = slots.get(DEFAULT_PLACEMENT, np.nan)
    return f.cols["placement"].values.map(slots).astype("float64").fillna(default).to_numpy()


def _position_in_slots(f: Frame) -> np.ndarray | None:
    if f.placements is None:
        return None
    pos = f.cols["position"]
    with np.errstate(invalid="ignore"):
        return ~pos.missing & ~pos.unparsed & (pos.values.to_numpy() >= placement_slots(f))


def _all_or_none(col: str) -> Check:
    def check(f: Frame) -> np.ndarray | None:
        if not f.has(col):
            return None
        missing = f.cols[col].missing
        everywhere = f.all_missing[col] if f.all_missing is not None else missing.all()
        return missing if not everywhere else np.zeros(f.n, dtype=bool)
    return check


def _currency_code(f: Frame) -> np.ndarray | None:
    """Bad when a present currency is not three letters (an ISO 4217 code, not a symbol)."""
    if not f.has("currency"):
        return None
    p = f.cols["currency"]
    code = p.values.astype("string").str.strip().str.fullmatch(r"[A-Za-z]{3}").fillna(False).to_numpy(dtype=bool)
    return p.unparsed | (~p.missing & ~code)


def _values(f: Frame, col: str) -> np.ndarray:
    return f.cols[col].values.to_numpy(dtype="float64")


def _converted_le_clicked(f: Frame) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return _values(f, "converted") > _values(f, "clicked")  # NaN compares False: reported elsewhere


def _revenue_zero_unless_converted(f: Frame) -> np.ndarray | None:
    if not f.has("revenue"):
        return None
    rev = _values(f, "revenue")
    with np.errstate(invalid="ignore"):
        return (_values(f, "converted") == 0) & ~np.isnan(rev) & (rev != 0)


def _revenue_given_when_converted(f: Frame) -> np.ndarray | None:
    if not f.has("revenue"):
        return None
    return (_values(f, "converted") == 1) & f.cols["revenue"].missing


def _binary(v: np.ndarray) -> np.ndarray:
    return (v == 0) | (v == 1)


_STRING_TEXT = "is a non-empty string"
_NO_CONTROL = "has no control characters (NUL, ESC, tab, line breaks, DEL)"
L, C, X, P = ("logs",), ("catalog",), ("contexts",), ("copies",)
ALL = ("catalog", "logs", "contexts", "copies")

RULES: tuple[Rule, ...] = (
    Rule("event_id.nonblank", "event_id", f"event_id {_STRING_TEXT}", L, _nonblank("event_id")),
    Rule("event_id.printable", "event_id", f"event_id {_NO_CONTROL}", L, _no_control("event_id")),
    Rule("event_id.unique", "event_id", "event_id is unique (repeats after the first are flagged)", L,
         _unique("event_id"), "unique"),
    Rule("timestamp.valid", "timestamp", "timestamp is int64 epoch ms or ISO-8601", L,
         _nonblank("timestamp")),
    Rule("user_id.nonblank", "user_id", f"user_id {_STRING_TEXT}", L, _nonblank("user_id")),
    Rule("user_id.printable", "user_id", f"user_id {_NO_CONTROL}", L, _no_control("user_id")),
    Rule("item_id.nonblank", "item_id", f"item_id {_STRING_TEXT}", ALL, _nonblank("item_id")),
    Rule("item_id.printable", "item_id", f"item_id {_NO_CONTROL}", ALL, _no_control("item_id")),
    Rule("item_id.unique", "item_id", "item_id is unique in the catalog", C, _unique("item_id"), "unique"),
    Rule("item_id.in_catalog", "item_id", "item_id is in the catalog", L + X + P, _in_catalog),
    Rule("title.nonblank", "title", f"title {_STRING_TEXT}", C, _nonblank("title")),
    Rule("category.nonblank", "category", f"category {_STRING_TEXT}", C, _nonblank("category")),
    Rule("brand.nonblank", "brand", f"brand {_STRING_TEXT}", C, _nonblank("brand")),
    Rule("price.positive", "price", "price is a number > 0", C, _number("price", lambda v: v > 0)),
    Rule("discount_pct.range", "discount_pct", "discount_pct is a number in [0, 95]", C,
         _number("discount_pct", lambda v: (v >= 0) & (v <= 95))),
    Rule("attributes.object", "attributes", "attributes is a JSON object of string to string", C,
         _unparsed("attributes")),
    Rule("currency.code", "currency", "currency is a three-letter ISO 4217 code such as USD, EUR or GBP, not a "
         "symbol (blank: not stated)", C, _currency_code),
    Rule("segment.nonblank", "segment", f"segment {_STRING_TEXT} (on every row when the column is present)",
         L + X + P, _nonblank("segment")),
    Rule("segment.printable", "segment", f"segment {_NO_CONTROL}", L + X + P, _no_control("segment")),
    Rule("user_features.object", "user_features",
         "user_features is a JSON object of numbers, strings or booleans", L + X + P, _unparsed("user_features")),
    Rule("placement.nonblank", "placement", f"placement {_STRING_TEXT}", L + X + P, _nonblank("placement")),
    Rule("placement.printable", "placement", f"placement {_NO_CONTROL}", L + X + P, _no_control("placement")),
    Rule("placement.known", "placement",
         "placement is defined in the placements (or a 'default' placement exists)", L + X + P, _placement_known),
    Rule("position.range", "position", "position is an integer >= 0", L,
         _number("position", _integer_at_least(0))),
    Rule("position.slots", "position", "position < slots of its placement", L, _position_in_slots),
    Rule("copy_id.string", "copy_id", "copy_id is a string (blank = derived from copy_text)", L,
         _unparsed("copy_id")),
    Rule("copy_id.printable", "copy_id", f"copy_id {_NO_CONTROL}", L, _no_control("copy_id")),
    Rule("copy_text.nonblank", "copy_text",
         "copy_text is non-empty (after stripping spaces, zero-width and other invisible characters)", L + P,
         _nonblank("copy_text")),
    Rule("generator.string", "generator", "generator is a string", P, _unparsed("generator")),
    Rule("generator.printable", "generator", f"generator {_NO_CONTROL}", P, _no_control("generator")),
    Rule("sample_idx.range", "sample_idx", "sample_idx is an integer >= 0", P,
         _number("sample_idx", _integer_at_least(0))),
    Rule("propensity.range", "propensity", "propensity is a number in (0, 1]", L,
         _number("propensity", lambda v: (v > 0) & (v <= 1), required=False)),
    Rule("propensity.all_or_none", "propensity", "propensity is given on every row or on none", L,
         _all_or_none("propensity"), "all_or_none"),
    Rule("clicked.binary", "clicked", "clicked is 0 or 1", L, _number("clicked", _binary)),
    Rule("converted.binary", "converted", "converted is 0 or 1", L, _number("converted", _binary)),
    Rule("converted.le_clicked", "converted", "converted <= clicked", L, _converted_le_clicked),
    Rule("revenue.nonnegative", "revenue", "revenue is a number >= 0", L,
         _number("revenue", lambda v: v >= 0, required=False)),
    Rule("revenue.zero_unless_converted", "revenue", "revenue is 0 when converted is 0", L,
         _revenue_zero_unless_converted),
    Rule("revenue.given_when_converted", "revenue", "revenue is given when converted is 1", L,
         _revenue_given_when_converted),
)


def rules_for(table: str) -> tuple[Rule, ...]:
    """The rules that apply to ``table`` (one of :data:`TABLES`), in reporting order."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {TABLES}")
    return tuple(r for r in RULES if table in r.tables)


def whole_table_columns(table: str, scope: str) -> tuple[str, ...]:
    """Columns of ``table`` whose rules of ``scope`` (``"unique"``, ``"all_or_none"``) need the whole table."""
    return tuple(r.column for r in rules_for(table) if r.scope == scope)


def rules_markdown() -> str:
    """The rule table as Markdown (for docs): rule id, tables, column, description."""
    lines = ["| rule | tables | column | rule text |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {', '.join(r.tables)} | `{r.column}` | {r.description} |" for r in RULES]
    return "\n".join(lines)
