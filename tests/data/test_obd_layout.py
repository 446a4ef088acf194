"""OBD's own layout, ``<policy>/<campaign>/<campaign>.csv``, for the men / women campaigns (no renaming to all.csv)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from rlopt.data.obd import load_obd, resolve_obd_log
from rlopt.errors import InputError

DATA = Path(__file__).resolve().parent / "obd"


@pytest.fixture
def obd_root(tmp_path):
    """``bts/men/men.csv`` and ``bts/women/women.csv`` (the test sample under OBD's campaign names), with items."""
    for campaign in ("men", "women"):
        folder = tmp_path / "bts" / campaign
        folder.mkdir(parents=True)
        shutil.copy(DATA / "bts" / "all" / "all.csv", folder / f"{campaign}.csv")
        shutil.copy(DATA / "bts" / "all" / "item_context.csv", folder / "item_context.csv")
    return tmp_path


@pytest.mark.parametrize("sub,kwargs", [("bts/men", {}), ("bts/men/men.csv", {}), ("bts", {"campaign": "men"})])
def test_campaign_file_directory_and_policy_directory(obd_root, sub, kwargs):
    fb = load_obd(obd_root / sub, **kwargs)
    reference = load_obd(DATA / "bts")
    assert fb.campaign == "men" and fb.policy_name == "bts" and fb.source.endswith("men.csv")
    assert fb.n_rounds == reference.n_rounds and (fb.action == reference.action).all()


def test_policy_directory_with_several_campaigns_asks_for_one(obd_root):
    with pytest.raises(InputError, match="holds the campaigns men, women"):
        load_obd(obd_root / "bts")
    shutil.rmtree(obd_root / "bts" / "women")
    assert resolve_obd_log(obd_root / "bts")[1] == "men"  # the only campaign there


def test_the_all_campaign_is_unchanged():
    assert resolve_obd_log(DATA / "random") == (DATA / "random" / "all" / "all.csv", "all")
    assert load_obd(DATA / "random" / "all").campaign == "all"


def test_ope_command_reads_a_women_campaign(obd_root, monkeypatch, capsys):
    import json

    from rlopt.cli import main

    monkeypatch.setattr(sys, "argv", ["rlopt", "ope", "--format", "obd", "--logs", str(obd_root / "bts" / "women"),
                                      "--policy", "uniform", "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    assert json.loads(out)["n_rounds"] == 400 and json.loads(out)["estimates"]
