"""Hostile and unlucky inputs through the real command line: one paragraph and the right exit code.

Exit 2 = the input is wrong (the paragraph names the file, the line/row and the rule); exit 1 =
the environment failed (disk full, permission denied, read-only file system: the paragraph names
the path and, for a full disk, the free space). Never a bare traceback; ``-v`` adds it.
Commands run in-process through ``rlopt.cli.main`` (the console-script entry point).
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest

from rlopt.data import write_table
from rlopt.testing import write_small_market
from tests._cli import run_rlopt


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args)`` runs ``rlopt ARGS`` through the entry point; returns (exit code, stdout, stderr)."""
    monkeypatch.delenv("RLOPT_DEBUG", raising=False)  # a developer's debug setting must not change the outcome
    return lambda *args: run_rlopt(monkeypatch, capsys, *args)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A small simulated shop: catalog, logs (good, cut off, suffixless, as shards), placements."""
    from rlopt.market import Marketplace

    root = tmp_path_factory.mktemp("world")
    market = write_small_market(root / "market.toml", n_users=200)
    sim = Marketplace.from_toml(market).simulate(1500, seed=3)
    paths = {"root": root, "market": market,
             "catalog": write_table(sim.catalog, root / "catalog.parquet"),
             "logs": write_table(sim.logs, root / "logs.parquet"),
             "good_jsonl": write_table(sim.logs, root / "good.jsonl")}
    (root / "placements.json").write_text(json.dumps(
        {name: {"max_chars": p.max_chars, "slots": p.slots, "examination": list(p.examination)}
         for name, p in sim.placements.items()}))
    paths["placements"] = root / "placements.json"
    data = paths["good_jsonl"].read_bytes()
    paths["cut"] = root / "cut.jsonl"
    paths["cut"].write_bytes(data[:3000])  # `head -c 3000 good.jsonl`: the last line ends mid-string
    paths["noext_parquet"] = root / "logs_export"
    paths["noext_parquet"].write_bytes(paths["logs"].read_bytes())
    paths["noext_jsonl"] = root / "logs_lines"
    paths["noext_jsonl"].write_bytes(data)
    shards = root / "shards"
    shards.mkdir()
    half = len(sim.logs) // 2
    write_table(sim.logs.iloc[:half], shards / "part-0.parquet")
    write_table(sim.logs.iloc[half:], shards / "part-1.parquet")
    paths["shards"] = shards
    paths["a_file"] = root / "a_file.txt"
    paths["a_file"].write_text("I am a file\n")
    return paths


def _one_paragraph(err: str) -> str:
    assert "Traceback" not in err, err
    text = " ".join(err.split())
    assert text.startswith("error:"), err
    return text


# --------------------------------------------------------------------------- cut-off JSONL (item 6)
CUT_COMMANDS = {
    "validate": lambda w: ["validate", "--logs", w["cut"], "--catalog", w["catalog"]],
    "reward train": lambda w: ["reward", "train", "--logs", w["cut"], "--catalog", w["catalog"], "--out",
                               w["root"] / "rm-cut"],
    "ope": lambda w: ["ope", "--logs", w["cut"], "--catalog", w["catalog"], "--policy", "uniform"],
    "bandit replay": lambda w: ["bandit", "--env", "replay", "--logs", w["cut"], "--catalog", w["catalog"],
                                "--placements", w["placements"], "--policy", "ucb1", "--out", w["root"] / "bd"],
    "tune": lambda w: ["tune", "--method", "dpo", "--logs", w["cut"], "--catalog", w["catalog"], "--out",
                       w["root"] / "tuned-cut"],
}


@pytest.mark.parametrize("command", sorted(CUT_COMMANDS))
def test_cut_off_jsonl_names_file_line_and_rule(cli, world, command):
    code, _, err = cli(*CUT_COMMANDS[command](world))
    text = _one_paragraph(err)
    assert code == 2, text
    assert re.search(r"cut\.jsonl, row \d+: line \d+ is not valid JSON .*cut off.*rule: each line is one JSON "
                     r"object", text), text


# --------------------------------------------------------------------------- table of bad inputs -> exit 2
def _non_utf8_config(w):
    p = w["root"] / "latin1.toml"
    p.write_bytes(b'[run]\nname = "caf\xe9"\n')
    return ["run", p]


def _non_utf8_market(w):
    p = w["root"] / "latin1-market.toml"
    p.write_bytes(b'[market]\nname = "caf\xe9"\n')
    return ["simulate", "--market", p, "-n", "100", "--out", w["root"] / "sim-bad"]


def _non_utf8_csv(w):
    p = w["root"] / "latin1.csv"
    p.write_bytes(b"item_id,title\nx,caf\xe9\n")
    return ["validate", "--logs", w["logs"], "--catalog", p]


def _escape_header(w):
    p = w["root"] / "evil-header.csv"
    p.write_text("item_id,\x1b[2J\x1b[31mtitle\r\nx,y\n", encoding="utf-8")
    return ["validate", "--logs", w["logs"], "--catalog", p]


def _unknown_suffix(w):
    p = w["root"] / "catalog.xlsx"
    p.write_bytes(b"PK\x03\x04 not really")
    return ["validate", "--logs", w["logs"], "--catalog", p]


BAD_INPUTS = {
    "non-UTF-8 experiment config": (_non_utf8_config, r"latin1\.toml: not valid UTF-8 text: byte 0xe9 at offset 17"),
    "non-UTF-8 market config": (_non_utf8_market, r"latin1-market\.toml: not valid UTF-8 text: byte 0xe9 at offset 20"),
    "non-UTF-8 CSV": (_non_utf8_csv, r"latin1\.csv: not valid UTF-8 text: byte 0xe9 at offset 19"),
    "escape sequences in a CSV header": (_escape_header, r"evil-header\.csv.*\\x1b\[2J\\x1b\[31mtitle"),
    "unknown suffix": (_unknown_suffix, r"catalog\.xlsx: unsupported file type '\.xlsx'; use one of .*\.csv.*\.parquet"),
    "--out is a file: validate": (lambda w: ["validate", "--logs", w["logs"], "--catalog", w["catalog"], "--out",
                                             w["a_file"] / "clean.parquet"], r"--out lies under .*a_file\.txt"),
    "--out is a dir: validate": (lambda w: ["validate", "--logs", w["logs"], "--catalog", w["catalog"], "--out",
                                            w["shards"]], r"--out names an existing directory"),
    "--out is a file: reward train": (lambda w: ["reward", "train", "--logs", w["logs"], "--catalog", w["catalog"],
                                                 "--out", w["a_file"]], r"a_file\.txt.*--out names an existing file"),
    "--out is a file: simulate": (lambda w: ["simulate", "-n", "100", "--out", w["a_file"]],
                                  r"--out names an existing file"),
    "--out is a file: bandit": (lambda w: ["bandit", "--policy", "ucb1", "--steps", "10", "--out", w["a_file"]],
                                r"--out names an existing file"),
    "--out is a file: tune": (lambda w: ["tune", "--method", "dpo", "--logs", w["logs"], "--catalog", w["catalog"],
                                         "--out", w["a_file"]], r"--out names an existing file"),
    "--out is a dir: generate": (lambda w: ["generate", "--contexts", w["logs"], "--catalog", w["catalog"], "--out",
                                            w["shards"]], r"--out names an existing directory"),
    "--out is a dir: reward score": (lambda w: ["reward", "score", "--model", w["root"], "--copies", w["logs"],
                                                "--catalog", w["catalog"], "--out", w["shards"]],
                                     r"--out names an existing directory"),
    "--out is a dir: ab": (lambda w: ["ab", "--a", "pool-best", "--b", "pool-best", "--out", w["shards"]],
                           r"--out names an existing directory"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_paragraph(cli, world, case):
    make_args, pattern = BAD_INPUTS[case]
    code, _, err = cli(*make_args(world))
    text = _one_paragraph(err)
    assert code == 2, text
    assert re.search(pattern, text), text
    assert "\x1b" not in err and "\r" not in err


# --------------------------------------------------------------------------- formats the pipeline reads
@pytest.mark.parametrize("logs_key", ["shards", "noext_parquet", "noext_jsonl"])
def test_validate_reads_shards_and_suffixless_files(cli, world, logs_key):
    code, out, err = cli("validate", "--logs", world[logs_key], "--catalog", world["catalog"], "--json")
    assert code == 0, err
    assert json.loads(out)["rows_read"] == 1500


# --------------------------------------------------------------------------- environment failures -> exit 1
def _fail_replace(exc: OSError):
    def replace(src, dst):
        raise exc
    return replace


@pytest.mark.parametrize(("exc", "pattern"), [
    (OSError(errno.ENOSPC, "No space left on device"),
     r"no space left on the device while writing .*clean\.parquet \(.* free of .* on the file system holding "),
    (PermissionError(errno.EACCES, "Permission denied"),
     r"cannot access .*clean\.parquet: Permission denied .*permissions"),
    (OSError(errno.EROFS, "Read-only file system"), r"cannot access .*clean\.parquet: Read-only file system.*read-only"),
])
def test_environment_failures_exit_1_naming_the_path(cli, world, monkeypatch, tmp_path, exc, pattern):
    monkeypatch.setattr(os, "replace", _fail_replace(exc))  # the atomic write's final rename fails
    code, _, err = cli("validate", "--logs", world["logs"], "--catalog", world["catalog"], "--out",
                       tmp_path / "clean.parquet")
    text = _one_paragraph(err)
    assert code == 1, text
    assert re.search(pattern, text), text
    assert not list(tmp_path.iterdir())  # the atomic write left nothing behind


def test_library_disk_full_message_is_recognized(cli, world, monkeypatch, tmp_path):
    """Arrow and safetensors report a full disk in their own words, without errno."""
    import rlopt.data.io as io_mod

    def boom(*_a, **_k):
        raise RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                           "message: \"No space left on device\" })")
    monkeypatch.setattr(io_mod, "write_jsonl", boom)
    code, _, err = cli("validate", "--logs", world["logs"], "--catalog", world["catalog"], "--out",
                       tmp_path / "clean.jsonl")
    text = _one_paragraph(err)
    assert code == 1, text
    assert f"no space left on the device while writing under {tmp_path / 'clean.jsonl'} (" in text, text
    assert "free of" in text and f"on the file system holding {tmp_path}" in text, text


def test_unexpected_error_is_one_paragraph_and_v_shows_the_traceback(cli, world, monkeypatch):
    import rlopt.data.validate as validate_mod

    def boom(*_a, **_k):
        raise ZeroDivisionError("the\x1b[31m bug\r\nitself")
    monkeypatch.setattr(validate_mod, "evaluate_rules", boom)
    args = ["validate", "--logs", world["logs"], "--catalog", world["catalog"]]
    code, _, err = cli(*args)
    text = _one_paragraph(err)
    assert code == 1
    assert re.search(r"unexpected ZeroDivisionError: the\\x1b\[31m bug itself\. .*rlopt -v .*RLOPT_DEBUG=1", text)
    monkeypatch.setenv("RLOPT_DEBUG", "0")  # -v sets it to 1 in os.environ: let monkeypatch undo that
    code, _, err = cli("-v", *args)
    assert code == 1 and "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
    monkeypatch.setenv("RLOPT_DEBUG", "1")
    code, _, err = cli(*args)
    assert code == 1 and "Traceback (most recent call last)" in err


# --------------------------------------------------------------------------- hostile names in output
@pytest.mark.parametrize("name", ["[red]x[-][/a].parquet", "e\x1b[2Jvil\r.parquet"])
def test_hostile_file_names_print_as_text(cli, world, tmp_path, monkeypatch, name):
    """Rich markup in a file name is not obeyed (nor a MarkupError); escape sequences are shown."""
    monkeypatch.chdir(tmp_path)  # a short relative name: the table is not cut at 80 columns
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(world["logs"].read_bytes())
    code, out, err = cli("validate", "--logs", name, "--catalog", world["catalog"])
    assert code == 0, err
    assert "\x1b[2J" not in out + err and "\r" not in out + err
    shown = name.replace("\x1b", "\\x1b").replace("\r", "\\r")
    assert shown in out.replace("\n", ""), out
