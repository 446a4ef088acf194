"""The encoder on ONNX Runtime (fp32 and int8): agreement with torch fp32, the disk cache (reuse,
broken files rebuilt, new weights re-exported), the runtime saved with a model, and bad values."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from reward_models import RewardModel, TrainConfig, train_reward_model
from reward_models.encoder import TextEncoder
from reward_models.onnx_runtime import (
    FP32_FILE,
    INT8_FILE,
    MANIFEST,
    OnnxEncoder,
    check_runtime,
    weights_digest,
)
from rlopt.errors import InputError

TEXTS = ["Half price this week on the garden hose", "Crafted to last: oak chair", "Free delivery!",
         "you will not believe this toaster, act now or miss out", "x", "Oak chair, crafted to last"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """One ONNX cache for this module's session (exports are reused across tests, as in real use)."""
    monkeypatch.setenv("RLOPT_CACHE", str(tmp_path_factory.getbasetemp() / "rlopt-cache"))


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_embeddings_match_torch_fp32(tiny_encoder_dir):
    torch_fp32 = TextEncoder(str(tiny_encoder_dir), precision="fp32", batch_size=2).encode(TEXTS, use_cache=False)
    onnx = TextEncoder(str(tiny_encoder_dir), runtime="onnx", batch_size=2)
    got = onnx.encode(TEXTS, use_cache=False)
    assert onnx._onnx is not None and onnx.compute_precision == "fp32"  # ONNX Runtime really ran
    assert got.dtype == np.float32 and got.shape == torch_fp32.shape
    np.testing.assert_allclose(got, torch_fp32, atol=2e-5)
    np.testing.assert_allclose(onnx.encode(TEXTS[:1], use_cache=False), torch_fp32[:1], atol=2e-5)  # batch of one
    int8 = TextEncoder(str(tiny_encoder_dir), runtime="onnx-int8", batch_size=2)
    q = int8.encode(TEXTS, use_cache=False)
    assert int8.compute_precision == "int8"
    assert _cos(q, torch_fp32).min() > 0.99
    assert not np.allclose(q, torch_fp32, atol=1e-6)  # the quantized graph ran, not the fp32 one


def test_padding_and_batching_do_not_change_onnx_embeddings(tiny_encoder_dir):
    """Dynamic batch and sequence axes: one text at a time equals padded batches of mixed length."""
    enc = TextEncoder(str(tiny_encoder_dir), runtime="onnx", batch_size=4)
    batched = enc.encode(TEXTS, use_cache=False)
    single = np.stack([enc.encode([t], use_cache=False)[0] for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=2e-6)


def test_reward_scores_match_torch(tiny_model, synth, synth_split, tmp_path):
    tiny_model.save_pretrained(tmp_path / "rm")
    frame = synth_split[1].head(300)
    ref = RewardModel.from_pretrained(tmp_path / "rm", precision="fp32").score(frame, synth.catalog)
    onnx = RewardModel.from_pretrained(tmp_path / "rm", precision="fp32", runtime="onnx")
    assert onnx.encoder.runtime == "onnx"
    np.testing.assert_allclose(onnx.score(frame, synth.catalog).to_numpy(), ref.to_numpy(), rtol=1e-4, atol=1e-6)
    int8 = RewardModel.from_pretrained(tmp_path / "rm", precision="fp32", runtime="onnx-int8").score(frame,
                                                                                                    synth.catalog)
    np.testing.assert_allclose(int8["p_click"], ref["p_click"], rtol=0.05, atol=1e-3)
    assert np.corrcoef(int8["reward"], ref["reward"])[0, 1] > 0.99


def test_cache_is_reused_and_keyed_by_weights(tiny_encoder_dir, tmp_path):
    enc = TextEncoder(str(tiny_encoder_dir))
    names = enc.input_names
    first = OnnxEncoder(enc.model, names, quantized=True, root=tmp_path, threads=1)
    assert first.rebuilt == [FP32_FILE, INT8_FILE]  # int8 is quantized from the fp32 export
    stamps = {p.name: p.stat().st_mtime_ns for p in first.dir.iterdir()}
    again = OnnxEncoder(enc.model, names, quantized=True, root=tmp_path, threads=1)
    assert again.rebuilt == [] and again.dir == first.dir
    assert {p.name: p.stat().st_mtime_ns for p in again.dir.iterdir()} == stamps  # nothing rewritten
    manifest = json.loads((first.dir / MANIFEST).read_text())
    assert set(manifest["files"]) == {FP32_FILE, INT8_FILE} and manifest["inputs"] == names
    digest = weights_digest(enc.model)
    with torch.no_grad():
        next(enc.model.parameters())[0, 0] += 1.0
    assert weights_digest(enc.model) != digest
    other = OnnxEncoder(enc.model, names, quantized=False, root=tmp_path, threads=1)
    assert other.dir != first.dir and other.rebuilt == [FP32_FILE]


def test_broken_cache_files_are_rebuilt_never_trusted(tiny_encoder_dir, tmp_path):
    enc = TextEncoder(str(tiny_encoder_dir), precision="fp32")
    ref = enc.encode(TEXTS, use_cache=False)
    batch = next(enc._batches(TEXTS[:1]))[1]
    first = OnnxEncoder(enc.model, enc.input_names, quantized=False, root=tmp_path, threads=1)
    path = first.dir / FP32_FILE
    good = path.read_bytes()

    data = bytearray(good)  # a flipped byte in the middle: a weight changes, the protobuf may still parse
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="does not match its SHA-256"):
        fixed = OnnxEncoder(enc.model, enc.input_names, quantized=False, root=tmp_path, threads=1)
    assert fixed.rebuilt == [FP32_FILE] and path.read_bytes() == good
    np.testing.assert_allclose(fixed(batch), ref[:1], atol=2e-5)

    manifest = json.loads((first.dir / MANIFEST).read_text())  # garbage that matches its manifest entry:
    path.write_bytes(b"not an onnx graph")                      # ONNX Runtime rejects it, it is rebuilt
    manifest["files"][FP32_FILE]["sha256"] = hashlib.sha256(b"not an onnx graph").hexdigest()
    (first.dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="could not be loaded by ONNX Runtime"):
        fixed = OnnxEncoder(enc.model, enc.input_names, quantized=False, root=tmp_path, threads=1)
    assert path.read_bytes() == good

    (first.dir / MANIFEST).unlink()  # a file the manifest does not vouch for is not used either
    with pytest.warns(RuntimeWarning, match="is not in the manifest"):
        fixed = OnnxEncoder(enc.model, enc.input_names, quantized=False, root=tmp_path, threads=1)
    assert fixed.rebuilt == [FP32_FILE]


def test_changed_weights_get_a_new_session(tiny_encoder_dir):
    """A session made before the weights changed (fine-tuning, load_state_dict) is not reused."""
    enc = TextEncoder(str(tiny_encoder_dir), runtime="onnx", precision="fp32")
    before = enc.encode(TEXTS, use_cache=False)
    with torch.no_grad():
        for p in enc.model.parameters():
            p.mul_(1.01)
    after = enc.encode(TEXTS, use_cache=False)
    enc.runtime = "torch"
    np.testing.assert_allclose(after, enc.encode(TEXTS, use_cache=False), atol=2e-5)
    assert not np.allclose(before, after, atol=1e-6)


def test_runtime_is_saved_with_the_model(tiny_encoder_dir, synth, synth_split, tmp_path):
    train, holdout = synth_split
    model = train_reward_model(train, synth.catalog, encoder=str(tiny_encoder_dir), max_epochs=1, progress=False,
                               seed=0, runtime="onnx-int8", precision="fp32")
    assert model.encoder.runtime == "onnx-int8" and model.config["encoder_precision"] == "int8"
    model.save_pretrained(tmp_path / "rm")
    loaded = RewardModel.from_pretrained(tmp_path / "rm")
    assert loaded.config["runtime"] == "onnx-int8" and loaded.encoder.compute_precision == "int8"
    np.testing.assert_allclose(loaded.score(holdout.head(50), synth.catalog)["reward"],
                               model.score(holdout.head(50), synth.catalog)["reward"], rtol=1e-6)
    assert RewardModel.from_pretrained(tmp_path / "rm", runtime="torch").encoder.runtime == "torch"


def test_runtime_switch_empties_the_embedding_cache(tiny_encoder_dir):
    enc = TextEncoder(str(tiny_encoder_dir), runtime="torch", precision="fp32")
    enc.encode(TEXTS)
    enc.runtime = "onnx-int8"
    assert enc._cache == {}
    enc.encode(TEXTS)
    assert enc._onnx is not None


@pytest.mark.parametrize(("make", "key"), [
    (lambda d: check_runtime("tensorrt"), "runtime"),
    (lambda d: TextEncoder(str(d), runtime="onnx", precision="bf16"), "precision"),
    (lambda d: TrainConfig(runtime="ort"), "runtime"),
    (lambda d: TrainConfig(runtime="onnx-int8", precision="bf16"), "precision"),
])
def test_bad_runtime_settings_are_input_errors(tiny_encoder_dir, make, key):
    with pytest.raises(InputError) as err:
        make(tiny_encoder_dir)
    assert err.value.key == key
    assert "torch" in str(err.value)


def test_reward_score_cli_runtime(tiny_model, synth, synth_split, tmp_path):
    from typer.testing import CliRunner

    from rlopt.cli import app
    from rlopt.data import write_table

    tiny_model.save_pretrained(tmp_path / "rm")
    copies = synth_split[1].head(40)[["item_id", "segment", "placement", "copy_text"]]
    copies.to_json(tmp_path / "copies.jsonl", orient="records", lines=True)
    write_table(synth.catalog, tmp_path / "catalog.parquet")

    def score(*flags: str):
        out = tmp_path / f"scored{len(flags)}{'-'.join(flags)}.jsonl"
        result = CliRunner().invoke(app, ["reward", "score", "--model", str(tmp_path / "rm"), "--copies",
                                          str(tmp_path / "copies.jsonl"), "--catalog", str(tmp_path / "catalog.parquet"),
                                          "--out", str(out), "--json", *flags])
        return result, out

    result, out = score("--runtime", "onnx", "--precision", "fp32")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["encoder_runtime"], summary["encoder_precision"]) == ("onnx", "fp32")
    ref_result, ref_out = score("--runtime", "torch", "--precision", "fp32")
    assert json.loads(ref_result.stdout)["encoder_runtime"] == "torch"
    np.testing.assert_allclose(pd.read_json(out, lines=True)["reward"], pd.read_json(ref_out, lines=True)["reward"],
                               rtol=1e-4)
    for flags, key in ((("--runtime", "tensorrt"), "runtime"), (("--runtime", "onnx", "--precision", "bf16"), "precision")):
        result, out = score(*flags)
        assert isinstance(result.exception, InputError) and result.exception.key == key, result.output
        assert not out.exists()
