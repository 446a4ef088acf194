"""``rlopt check``: check any copy file before it ships (misleading discounts, unbacked claims, defects, length)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlopt.cli._common import JsonOption, emit

#: Exit status of ``rlopt check --strict`` when a copy is flagged (1 and 2 keep their meanings:
#: the environment failed, the input is bad).
EXIT_FLAGGED = 3

_EPILOG = (
    "Examples:\n\n"
    "  rlopt check --copies runs/copies.jsonl --catalog runs/sim/catalog.parquet --logs runs/sim/train.parquet "
    "--out runs/checked.jsonl\n\n"
    "  rlopt check --copies spring_campaign.csv --catalog items.csv --placements placements.toml --out checked.csv "
    "--strict\n\n"
    "The copies file has the contract's copy columns (item_id, segment, placement, copy_text: what rlopt generate "
    "writes; hand-written copy needs them too). Each row gets misleading (discount or price claims the catalog "
    "contradicts), unbacked (numbers and fact phrases such as 'loved by', 'handmade', 'free shipping' that neither "
    "the item's catalog row nor, with --logs, the shop's logged copy of the item contains), defects, over_limit "
    "(longer than its placement's max_chars) and flagged (any of them). --strict exits 3 when any copy is flagged, "
    "for a pipeline gate."
)


def check(
    copies: Annotated[Path, typer.Option("--copies", help="Copies to check (CSV, JSONL or Parquet): item_id, "
                                         "segment, placement, copy_text.")],
    catalog: Annotated[Path, typer.Option("--catalog", help="Catalog: the facts (title, price, discount_pct, "
                                          "attributes, any other column) that back a claim.")],
    out: Annotated[Path, typer.Option("--out", help="Checked copies (.jsonl, .csv or .parquet): every input row "
                                      "and column, plus one column per check.")],
    logs: Annotated[Path | None, typer.Option("--logs", help="The shop's impression logs (a file or a folder of "
                                              "Parquet shards; only item_id and copy_text are read): the copy it "
                                              "logged for an item backs the claims it made of that item. Without it "
                                              "only the catalog backs a claim.")] = None,
    placements: Annotated[Path | None, typer.Option("--placements", help="Placements (TOML/JSON: name -> "
                                                    "{max_chars, ...}); default: placements next to --copies, "
                                                    "else the packaged market's.")] = None,
    claim_check: Annotated[bool, typer.Option("--claim-check/--no-claim-check", help="Check claims against the "
                                              "catalog (and --logs) (default on).")] = True,
    strict: Annotated[bool, typer.Option("--strict", help=f"Exit {EXIT_FLAGGED} when any copy is flagged.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check copy before it ships: misleading discounts, unbacked claims, defects, over-limit length."""
    import time

    from rlopt.cli._common import check_out_file
    from rlopt.data import read_catalog, read_copies, read_logged_copy, write_table
    from rlopt.data.io import table_format
    from rlopt.generation.checks import check_copies, checks_summary, currency_warning
    from rlopt.generation.claims import ClaimSupport
    from rlopt.generation.inputs import find_placements

    table_format(check_out_file(out))  # a bad --out fails before any reading
    started = time.perf_counter()
    places, places_src = find_placements(placements, copies)
    cat = read_catalog(catalog)
    frame = read_copies(copies, cat, places)
    shop_logs = read_logged_copy(logs) if logs is not None else None  # two columns, in batches
    support = ClaimSupport(cat, shop_logs) if claim_check else None
    checked = check_copies(frame, cat, support, places)
    write_table(checked, out)
    summary = checks_summary(checked, cat)
    if shop_logs is not None and (warning := currency_warning(cat, shop_logs["copy_text"])):
        summary["currency_warning"] = warning
    emit({"out": str(out), "copies": summary.pop("copies"), **summary,
          "claims_backed_by": (None if support is None else
                               "catalog + logged copy" if shop_logs is not None else "catalog"),
          "placements": places_src, "seconds": round(time.perf_counter() - started, 2)}, as_json, title="rlopt check")
    if strict and summary["flagged"] > 0:
        raise typer.Exit(EXIT_FLAGGED)


def register(app: typer.Typer) -> None:
    """Add ``check`` to ``app``."""
    app.command("check", epilog=_EPILOG)(check)
