"""Every rule of the contract: a violating file in each format -> exit 2 naming file, row, column, rule.

The cases table is checked against ``rlopt.data.rules.RULES`` so a new rule without a test fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest

from rlopt.data import RULES, read_contexts, read_copies, write_table
from rlopt.errors import InputError
from tests.data._datafixtures import PLACEMENTS, make_catalog, make_logs, write_any

RULE_TEXT = {r.id: r.description for r in RULES}
FORMATS = ("csv", "jsonl", "parquet")


@dataclass(frozen=True)
class Case:
    rule: str
    table: str                      # "logs" or "catalog": which file is broken
    row: int                        # 1-based row that must be reported
    mutate: Callable[[pd.DataFrame], None]
    formats: tuple[str, ...] = FORMATS
    placements: bool = False        # pass --placements

    @property
    def column(self) -> str:
        return self.rule.split(".")[0]


def setv(row: int, col: str, value) -> Callable[[pd.DataFrame], None]:
    def mutate(df: pd.DataFrame) -> None:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)
        if df[col].dtype != object:
            df[col] = df[col].astype(object)
        df.at[row - 1, col] = value
    return mutate


def both(*fns: Callable[[pd.DataFrame], None]) -> Callable[[pd.DataFrame], None]:
    def mutate(df: pd.DataFrame) -> None:
        for fn in fns:
            fn(df)
    return mutate


CASES = [
    Case("event_id.nonblank", "logs", 2, setv(2, "event_id", "   ")),
    Case("event_id.unique", "logs", 4, setv(4, "event_id", "e2")),
    Case("timestamp.valid", "logs", 3, setv(3, "timestamp", "yesterday")),
    Case("timestamp.valid", "logs", 2, setv(2, "timestamp", 1.7e12 + 0.5)),
    Case("timestamp.valid", "logs", 5, setv(5, "timestamp", None)),
    Case("user_id.nonblank", "logs", 1, setv(1, "user_id", None)),
    Case("item_id.nonblank", "logs", 2, setv(2, "item_id", "")),
    Case("item_id.in_catalog", "logs", 6, setv(6, "item_id", "sku-404")),
    Case("segment.nonblank", "logs", 3, setv(3, "segment", None)),
    Case("user_features.object", "logs", 2, setv(2, "user_features", "not json")),
    Case("user_features.object", "logs", 4, setv(4, "user_features", "[1, 2]")),
    Case("user_features.object", "logs", 1, setv(1, "user_features", '{"nested": {"a": 1}}')),
    Case("placement.nonblank", "logs", 5, setv(5, "placement", " ")),
    Case("placement.known", "logs", 2, setv(2, "placement", "billboard"), placements=True),
    Case("position.range", "logs", 3, setv(3, "position", -1)),
    Case("position.range", "logs", 2, setv(2, "position", 1.5)),
    Case("position.range", "logs", 1, setv(1, "position", "first")),
    Case("position.range", "logs", 6, setv(6, "position", 1e20)),
    Case("timestamp.valid", "logs", 4, setv(4, "timestamp", 1e20)),
    Case("position.slots", "logs", 4, setv(4, "position", 1), placements=True),  # email_subject: 1 slot
    Case("copy_id.string", "logs", 2, both(setv(1, "copy_id", "c1"), setv(2, "copy_id", ["x"])),
         formats=("jsonl",)),
    Case("copy_text.nonblank", "logs", 5, setv(5, "copy_text", "  \t ")),
    Case("copy_text.nonblank", "logs", 1, setv(1, "copy_text", None)),
    Case("copy_text.nonblank", "logs", 3, setv(3, "copy_text", "\u200b\u3000\u200b")),  # zero-width + ideographic
    Case("copy_text.nonblank", "logs", 2, setv(2, "copy_text", "\ufeff\u2060\u00a0\u3164")),
    Case("event_id.printable", "logs", 2, setv(2, "event_id", "e2\x00")),
    Case("event_id.printable", "logs", 3, setv(3, "event_id", "e\x1b[31m3")),
    Case("user_id.printable", "logs", 4, setv(4, "user_id", "u1\r\nu9")),
    Case("item_id.printable", "catalog", 2, setv(2, "item_id", "sku\x002")),
    Case("segment.printable", "logs", 1, setv(1, "segment", "bargain\x7f")),
    Case("placement.printable", "logs", 6, setv(6, "placement", "push\x85")),
    Case("copy_id.printable", "logs", 5, both(setv(1, "copy_id", "c1"), setv(5, "copy_id", "c\x005"))),
    Case("propensity.range", "logs", 2, setv(2, "propensity", 1.5)),
    Case("propensity.range", "logs", 3, setv(3, "propensity", 0.0)),
    Case("propensity.range", "logs", 4, setv(4, "propensity", "high")),
    Case("propensity.all_or_none", "logs", 6, setv(6, "propensity", None)),
    Case("clicked.binary", "logs", 2, setv(2, "clicked", 2)),
    Case("clicked.binary", "logs", 3, setv(3, "clicked", "yes")),
    Case("converted.binary", "logs", 5, setv(5, "converted", -1)),
    Case("converted.le_clicked", "logs", 2, both(setv(2, "converted", 1), setv(2, "revenue", 10.0))),
    Case("revenue.nonnegative", "logs", 1, setv(1, "revenue", -5.0)),
    Case("revenue.zero_unless_converted", "logs", 3, setv(3, "revenue", 12.0)),
    Case("revenue.given_when_converted", "logs", 4, setv(4, "revenue", None)),
    Case("item_id.nonblank", "catalog", 2, setv(2, "item_id", None)),
    Case("item_id.unique", "catalog", 3, setv(3, "item_id", "sku-1")),
    Case("title.nonblank", "catalog", 1, setv(1, "title", "")),
    Case("category.nonblank", "catalog", 2, setv(2, "category", None)),
    Case("brand.nonblank", "catalog", 3, setv(3, "brand", "  ")),
    Case("price.positive", "catalog", 1, setv(1, "price", 0.0)),
    Case("price.positive", "catalog", 2, setv(2, "price", "cheap")),
    Case("discount_pct.range", "catalog", 3, setv(3, "discount_pct", 96.0)),
    Case("discount_pct.range", "catalog", 1, setv(1, "discount_pct", -1.0)),
    Case("attributes.object", "catalog", 2, setv(2, "attributes", '{"weight": 1.5}')),
    Case("attributes.object", "catalog", 1, setv(1, "attributes", "[1, 2]")),
    Case("currency.code", "catalog", 2, setv(2, "currency", "€")),
    Case("currency.code", "catalog", 1, setv(1, "currency", "EURO")),
]


def _ids(case: Case) -> str:
    return f"{case.table}-{case.rule}-row{case.row}"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_violating_file_exits_2_naming_file_row_column_rule(case: Case, fmt: str, tmp_path, run_cli):
    if fmt not in case.formats:
        pytest.skip(f"{case.rule} cannot be written as {fmt}")
    logs, catalog = make_logs(), make_catalog()
    case.mutate(logs if case.table == "logs" else catalog)
    logs_path = write_any(logs, tmp_path / f"logs.{fmt}")
    cat_path = write_any(catalog, tmp_path / f"catalog.{fmt}")
    args = ["--logs", logs_path, "--catalog", cat_path]
    if case.placements:
        args += ["--placements", write_placements_file(tmp_path)]
    code, out, err = run_cli(*args, "--out", tmp_path / "clean.parquet")
    bad_file = logs_path if case.table == "logs" else cat_path
    assert code == 2, (out, err)
    pattern = (rf"{re.escape(str(bad_file))}, row {case.row}, column '{case.column}':.*"
               rf"\(rule: {re.escape(RULE_TEXT[case.rule])};")
    assert re.search(pattern, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "clean.parquet").exists()  # nothing half-written


def write_placements_file(tmp_path):
    from rlopt.data import write_placements

    return write_placements(PLACEMENTS, tmp_path / "placements.toml")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_quarantine_keeps_the_bad_row_with_its_reason(case: Case, tmp_path, run_cli):
    fmt = case.formats[0]
    logs, catalog = make_logs(), make_catalog()
    case.mutate(logs if case.table == "logs" else catalog)
    logs_path = write_any(logs, tmp_path / f"logs.{fmt}")
    cat_path = write_any(catalog, tmp_path / f"catalog.{fmt}")
    args = ["--logs", logs_path, "--catalog", cat_path, "--on-error", "quarantine", "--json"]
    if case.placements:
        args += ["--placements", write_placements_file(tmp_path)]
    code, out, err = run_cli(*args)
    assert code == 0, err
    result = json.loads(out)
    counts = result["rule_counts"] if case.table == "logs" else result["catalog_rule_counts"]
    assert counts.get(case.rule, 0) >= 1
    qfile = result["quarantine_file"] if case.table == "logs" else result["catalog_quarantine_file"]
    rows = [json.loads(line) for line in open(qfile, encoding="utf-8")]
    hit = [r for r in rows if r["row"] == case.row]
    assert hit and RULE_TEXT[case.rule] in hit[0]["reason"]
    if case.table == "logs":
        assert result["rows_quarantined"] == len(rows)
        assert result["rows_valid"] + result["rows_quarantined"] == result["rows_read"] == len(logs)


def test_every_rule_has_a_case():
    covered = {c.rule for c in CASES} | set(CONTEXT_CASES) | set(COPIES_CASES)
    assert {r.id for r in RULES} <= covered, sorted({r.id for r in RULES} - covered)


def make_contexts() -> pd.DataFrame:
    return pd.DataFrame({"item_id": ["sku-1", "sku-2"], "segment": ["bargain", "loyal"],
                         "placement": ["push", "home_banner"], "user_features": [{"age": 3}, None]})


def make_copies() -> pd.DataFrame:
    df = make_contexts()
    df["copy_text"] = ["Go run", "Stay dry"]
    df["generator"] = ["default", "default"]
    df["sample_idx"] = [0, 1]
    return df


CONTEXT_CASES = {
    "item_id.nonblank": setv(2, "item_id", ""),
    "item_id.in_catalog": setv(2, "item_id", "sku-404"),
    "segment.nonblank": setv(2, "segment", None),
    "placement.nonblank": setv(2, "placement", None),
    "placement.known": setv(2, "placement", "billboard"),
    "user_features.object": setv(2, "user_features", "[]"),
    "item_id.printable": setv(2, "item_id", "sku-2\x00"),
    "segment.printable": setv(2, "segment", "loyal\n"),
    "placement.printable": setv(2, "placement", "home\tbanner"),
}
COPIES_CASES = {
    **CONTEXT_CASES,
    "copy_text.nonblank": setv(2, "copy_text", " "),
    "generator.string": setv(2, "generator", ["x"]),
    "generator.printable": setv(2, "generator", "default\x1b[2J"),
    "sample_idx.range": setv(2, "sample_idx", -1),
}


@pytest.mark.parametrize("rule", sorted(CONTEXT_CASES))
def test_contexts_rules(rule, tmp_path):
    df = make_contexts()
    CONTEXT_CASES[rule](df)
    path = write_table(df, tmp_path / "contexts.jsonl")
    with pytest.raises(InputError) as info:
        read_contexts(path, make_catalog(), PLACEMENTS)
    assert (info.value.row, info.value.column, info.value.rule) == (2, rule.split(".")[0], RULE_TEXT[rule])
    assert info.value.file == str(path)


@pytest.mark.parametrize("rule", sorted(COPIES_CASES))
def test_copies_rules(rule, tmp_path):
    df = make_copies()
    COPIES_CASES[rule](df)
    path = write_table(df, tmp_path / "copies.jsonl")
    with pytest.raises(InputError) as info:
        read_copies(path, make_catalog(), PLACEMENTS)
    assert (info.value.row, info.value.column, info.value.rule) == (2, rule.split(".")[0], RULE_TEXT[rule])


def test_contexts_and_copies_read_clean():
    ctx = read_contexts(make_contexts(), make_catalog(), PLACEMENTS)
    assert ctx["user_features"].tolist() == [{"age": 3}, {}]
    cop = read_copies(make_copies(), make_catalog(), PLACEMENTS)
    assert cop["sample_idx"].dtype == "int64" and list(cop["copy_text"]) == ["Go run", "Stay dry"]


def test_docs_rule_table_is_the_code_table():
    from pathlib import Path

    from rlopt.data.rules import rules_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "guides" / "data.md"
    assert rules_markdown() in doc.read_text(encoding="utf-8")
