"""Broken or hostile model directories, through the command line: exit 2, one paragraph naming the
directory and the problem -- for the reward model (and its encoder) and for the generator.

Refused before loading: custom code (``auto_map`` = trust_remote_code) and pickle-only weights.
Explained after a failed load: random bytes in ``model.safetensors``, missing config keys, weights
whose shapes do not match the config, a chat template the Jinja sandbox refuses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from rlopt.data import write_placements, write_table
from tests._cli import one_line, run_rlopt
from tests.tuning.tuning_data import CATALOG, PLACEMENTS


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.delenv("RLOPT_DEBUG", raising=False)

    def run(*args: object) -> tuple[int, str]:
        code, _, err = run_rlopt(monkeypatch, capsys, *args)
        return code, one_line(err)

    return run


@pytest.fixture(scope="module")
def saved_rm(tmp_path_factory, tiny_model) -> Path:
    return tiny_model.save_pretrained(tmp_path_factory.mktemp("rm") / "model")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _to_pickle(model_dir: Path) -> None:
    import torch
    from safetensors.torch import load_file

    state = load_file(str(model_dir / "model.safetensors"))
    (model_dir / "model.safetensors").unlink()
    torch.save(state, model_dir / "pytorch_model.bin")


def _auto_map(model_dir: Path) -> None:
    _edit_json(model_dir / "config.json", lambda c: c.update(auto_map={"AutoModel": "modeling_evil.Evil"}))


def _encoder_variant(tmp: Path, rm: Path, enc: Path, mutate) -> Path:
    """A reward model whose encoder spec points at a mutated copy of the encoder."""
    bad_enc = _copy(enc, tmp / "encoder")
    mutate(bad_enc)
    model = _copy(rm, tmp / "rm")
    _edit_json(model / "reward_config.json", lambda c: c.update(encoder=str(bad_enc)))
    return model


RM_CASES = {
    "random bytes in model.safetensors": (
        lambda tmp, rm, enc: _mutated(rm, tmp, lambda d: (d / "model.safetensors").write_bytes(os.urandom(2048))),
        r"rm: cannot load the reward model in this directory: a \.safetensors file is not readable"),
    "missing features": (
        lambda tmp, rm, enc: _mutated(rm, tmp, lambda d: _edit_json(d / "reward_config.json",
                                                                    lambda c: c.pop("features"))),
        r"reward_config\.json lacks the key 'features'"),
    "shape mismatch": (
        lambda tmp, rm, enc: _mutated(rm, tmp, lambda d: _edit_json(d / "reward_config.json",
                                                                    lambda c: c.update(hidden=7))),
        r"rm: cannot load the reward model in this directory: the weights' shapes do not match"),
    "encoder with pickle weights": (
        lambda tmp, rm, enc: _encoder_variant(tmp, rm, enc, _to_pickle),
        r"encoder .*pytorch_model\.bin.*never unpickles"),
    "encoder with trust_remote_code": (
        lambda tmp, rm, enc: _encoder_variant(tmp, rm, enc, _auto_map),
        r"encoder/config\.json.*'auto_map'.*trust_remote_code"),
}


def _mutated(rm: Path, tmp: Path, fn) -> Path:
    model = _copy(rm, tmp / "rm")
    fn(model)
    return model


@pytest.mark.parametrize("case", sorted(RM_CASES))
def test_bad_reward_model_dir_exits_2(cli, tmp_path, saved_rm, tiny_encoder_dir, case):
    make, pattern = RM_CASES[case]
    model = make(tmp_path, saved_rm, Path(tiny_encoder_dir))
    copies = write_table(CATALOG[["item_id"]].assign(segment="bargain", placement="push", copy_text="Hi"),
                         tmp_path / "copies.jsonl")
    catalog = write_table(CATALOG, tmp_path / "catalog.parquet")
    code, err = cli("reward", "score", "--model", model, "--copies", copies, "--catalog", catalog,
                    "--out", tmp_path / "scored.jsonl")
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err
    assert re.search(pattern, err), err


def _template(model_dir: Path, template: str) -> None:
    _edit_json(model_dir / "tokenizer_config.json", lambda c: c.update(chat_template=template))
    if (model_dir / "chat_template.jinja").exists():
        (model_dir / "chat_template.jinja").write_text(template)


GEN_CASES = {
    "random bytes in model.safetensors": (lambda d: (d / "model.safetensors").write_bytes(os.urandom(4096)),
                                          r"gen: cannot load the generator in this directory: a \.safetensors "
                                          r"file is not readable"),
    "shape mismatch": (lambda d: _edit_json(d / "config.json", lambda c: c.update(hidden_size=2 * c["hidden_size"])),
                       r"gen: cannot load the generator in this directory: the weights' shapes do not match "
                       r"config\.json"),
    "pickle weights": (_to_pickle, r"generator directory .*gen holds its weights only as pickle "
                                   r"\(pytorch_model\.bin\); rlopt never unpickles"),
    "trust_remote_code": (_auto_map, r"gen/config\.json.*'auto_map'.*trust_remote_code"),
    "missing config.json": (lambda d: (d / "config.json").unlink(), r"gen: no config\.json here"),
    "chat template SecurityError": (
        lambda d: _template(d, "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
        r"chat template of the generator in .*gen was refused by the sandbox: access to attribute '__class__'"),
    "chat template that cannot render": (
        lambda d: _template(d, "{{ raise_exception('no system role') }}"),
        r"chat template of the generator in .*gen cannot render a system \+ user conversation"),
}


@pytest.mark.parametrize("case", sorted(GEN_CASES))
def test_bad_generator_dir_exits_2(cli, tmp_path, tiny_causal_lm_dir, case):
    mutate, pattern = GEN_CASES[case]
    gen = _copy(Path(tiny_causal_lm_dir), tmp_path / "gen")
    mutate(gen)
    contexts = write_table(CATALOG[["item_id"]].assign(segment="bargain", placement="push"),
                           tmp_path / "contexts.jsonl")
    catalog = write_table(CATALOG, tmp_path / "catalog.parquet")
    places = write_placements(PLACEMENTS, tmp_path / "placements.toml")
    code, err = cli("generate", "--generator", gen, "--contexts", contexts, "--catalog", catalog,
                    "--placements", places, "--out", tmp_path / "copies.jsonl", "--device", "cpu")
    assert code == 2, err
    assert err.startswith("error:") and "Traceback" not in err
    assert re.search(pattern, err), err
    assert not (tmp_path / "copies.jsonl").exists()
