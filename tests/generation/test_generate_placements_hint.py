"""`rlopt generate` with a placement its placements do not know: the hint is --placements (generate has
no --on-error), and with --placements F naming it, the same contexts generate."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from rlopt.cli import app
from rlopt.data import write_jsonl, write_placements, write_table
from rlopt.errors import InputError
from tests.tuning.tuning_data import CATALOG, PLACEMENTS

runner = CliRunner()


def test_unknown_placement_suggests_placements_not_on_error(tmp_path, tiny_causal_lm_dir):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_jsonl(pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "push"}]), tmp_path / "ctx.jsonl")
    args = ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts", str(tmp_path / "ctx.jsonl"),
            "--catalog", str(tmp_path / "catalog.jsonl"), "--out", str(tmp_path / "copies.jsonl")]
    failed = runner.invoke(app, [*args, "--placements", str(write_placements(
        {"home_banner": PLACEMENTS["home_banner"]}, tmp_path / "banner_only.json"))])
    err = failed.exception
    assert isinstance(err, InputError) and err.column == "placement" and err.row == 1
    assert "Pass --placements F" in str(err) and "--on-error" not in str(err) and "banner_only.json" in str(err)
    write_placements(PLACEMENTS, tmp_path / "all.json")
    ok = runner.invoke(app, [*args, "--placements", str(tmp_path / "all.json"), "--json", "--num", "1"])
    assert ok.exit_code == 0, ok.output


def test_without_placements_the_fallback_is_named(tmp_path, tiny_causal_lm_dir):
    write_table(CATALOG, tmp_path / "catalog.jsonl")
    write_jsonl(pd.DataFrame([{"item_id": "i1", "segment": "bargain", "placement": "hero_banner_x"}]),
                tmp_path / "ctx.jsonl")
    failed = runner.invoke(app, ["generate", "--generator", str(tiny_causal_lm_dir), "--contexts",
                                 str(tmp_path / "ctx.jsonl"), "--catalog", str(tmp_path / "catalog.jsonl"),
                                 "--out", str(tmp_path / "copies.jsonl")])
    assert isinstance(failed.exception, InputError)
    assert "used because --placements was not given" in str(failed.exception)
    assert "Pass --placements F" in str(failed.exception) and "--on-error" not in str(failed.exception)
