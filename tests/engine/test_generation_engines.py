"""``rlopt generate --engine local|ray``: contexts in chunks seeded ``seed + start``, the same copies on
either engine (one generator per Ray actor), written in context order; an unreachable cluster is one
paragraph naming it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlopt.data import read_table, write_jsonl, write_placements, write_table
from rlopt.engine.generation import ContextChunk, CopyGenerator, GeneratorSpec, generate_on_engine
from rlopt.engine.local import LocalEngine
from tests._cli import one_line, run_rlopt
from tests.tuning.tuning_data import CATALOG, PLACEMENTS

CONTEXTS = pd.DataFrame([{"item_id": item, "segment": seg, "placement": place}
                         for item in ("i1", "i2") for seg in ("bargain", "premium")
                         for place in ("push", "home_banner")][:7])
SAMPLING = {"num": 2, "batch_size": 2, "temperature": 1.0}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen-shop")
    write_table(CATALOG, root / "catalog.jsonl")
    write_placements(PLACEMENTS, root / "placements.json")
    write_jsonl(CONTEXTS, root / "ctx.jsonl")
    return root


def _cli(shop, llm, out, *extra):
    return ("generate", "--generator", llm, "--contexts", shop / "ctx.jsonl", "--catalog", shop / "catalog.jsonl",
            "--placements", shop / "placements.json", "--num", 2, "--batch-size", 2, "--temperature", 1.0,
            "--seed", 7, "--device", "cpu", "--out", out, "--json", *extra)


def test_chunk_seeds_are_seed_plus_start(tiny_causal_lm_dir):
    """Each chunk is what generate_copies gives for its contexts alone under seed + start, so the
    copies depend on the chunking, never on the engine that ran a chunk."""
    from rlopt.generation.models import resolve_generator
    from rlopt.generation.sample import generate_copies

    model, tok = resolve_generator(str(tiny_causal_lm_dir), device="cpu")
    loaded = CopyGenerator.loaded(model, tok, CATALOG, PLACEMENTS)
    parts = list(generate_on_engine(LocalEngine(), CONTEXTS, seed=7, chunk=3, loaded=loaded, threads=1, **SAMPLING))
    assert [p.start for p in parts] == [0, 3, 6] and sum(len(p.copies) for p in parts) == 2 * len(CONTEXTS)
    for part in parts:
        alone = generate_copies(model, tok, CONTEXTS.iloc[part.start:part.start + 3], CATALOG, PLACEMENTS,
                                seed=7 + part.start, threads=1, **SAMPLING)
        pd.testing.assert_frame_equal(part.copies, alone.reset_index(drop=True), check_like=False)
        assert part.counts["title_fallbacks"] == alone.attrs["title_fallbacks"]
    # one chunk holding every context: the copies of a whole-table call under the seed itself
    whole = list(generate_on_engine(LocalEngine(), CONTEXTS, seed=7, chunk=100, loaded=loaded, threads=1,
                                    **SAMPLING))
    assert len(whole) == 1
    pd.testing.assert_frame_equal(whole[0].copies, generate_copies(model, tok, CONTEXTS, CATALOG, PLACEMENTS,
                                                                   seed=7, threads=1, **SAMPLING))


def test_ray_actors_generate_what_the_local_engine_does(tiny_causal_lm_dir, ray_engine):
    """Two actors, each loading the tiny generator once, and the local engine: the same frames."""
    spec = GeneratorSpec(str(tiny_causal_lm_dir), device="cpu")
    kwargs = dict(seed=3, chunk=2, spec=spec, catalog=CATALOG, placements=PLACEMENTS, threads=1, **SAMPLING)
    local = list(generate_on_engine(LocalEngine(), CONTEXTS, **kwargs))
    ray = list(generate_on_engine(ray_engine, CONTEXTS, **kwargs))
    assert [p.start for p in ray] == [p.start for p in local] == [0, 2, 4, 6]
    for a, b in zip(local, ray, strict=True):
        pd.testing.assert_frame_equal(a.copies, b.copies)
        assert a.counts == b.counts


@pytest.mark.slow  # two CLI runs; the Ray one starts actors that import torch (about half a minute)
def test_generate_cli_ray_equals_local(shop, tiny_causal_lm_dir, ray_local, monkeypatch, capsys, tmp_path):
    results, copies = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        run = run_rlopt(monkeypatch, capsys, *_cli(shop, tiny_causal_lm_dir, out, "--chunk-contexts", 3,
                                                   "--engine", engine))
        assert run.code == 0, run.err
        results[engine], copies[engine] = json.loads(run.out), read_table(out)
    assert results["ray"]["engine"] == "ray" and results["ray"]["ray_cpus"] == 2
    for key in ("contexts", "copies", "title_fallbacks", "compliance", "quality", "mean_chars", "chunk_contexts"):
        assert results["ray"][key] == results["local"][key]
    pd.testing.assert_frame_equal(copies["ray"], copies["local"])
    assert len(copies["local"]) == 14


def test_generate_cli_chunks_stream_in_context_order(shop, tiny_causal_lm_dir, monkeypatch, capsys, tmp_path):
    out = tmp_path / "copies.jsonl"
    run = run_rlopt(monkeypatch, capsys, *_cli(shop, tiny_causal_lm_dir, out, "--chunk-contexts", 3))
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert summary["copies"] == 14 and summary["chunk_contexts"] == 3 and summary["engine"] == "local"
    copies = read_table(out)
    assert copies[["item_id", "segment", "placement"]].iloc[::2].reset_index(drop=True).equals(CONTEXTS)
    assert copies["sample_idx"].tolist() == [0, 1] * 7
    assert sum(summary["quality"].values()) == 14


def test_generate_on_an_unreachable_ray_cluster_is_one_paragraph(shop, monkeypatch, capsys, tmp_path):
    import socket

    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    out = tmp_path / "copies.jsonl"
    run = run_rlopt(monkeypatch, capsys, *_cli(shop, "default", out, "--engine", "ray", "--ray-address", address))
    assert run.code == 2
    text = one_line(run.err)
    assert f"cannot reach a Ray cluster at {address}" in text and "Traceback" not in run.err
    assert not out.exists()


def test_context_chunk_is_a_plain_unit():
    chunk = ContextChunk(4, CONTEXTS.iloc[4:6].reset_index(drop=True))
    assert chunk.start == 4 and len(chunk.contexts) == 2


@pytest.mark.slow  # trains a tiny reward model; the Ray actors load it beside the generator
def test_best_of_with_few_shot_on_ray_equals_local(shop, tiny_causal_lm_dir, tiny_encoder_dir, ray_local,
                                                    monkeypatch, capsys, tmp_path):
    from reward_models import train_reward_model
    from tests.generation.test_rerank_cli import _logs

    logs = _logs()
    write_table(logs, tmp_path / "logs.jsonl")
    train_reward_model(logs, CATALOG, encoder=str(tiny_encoder_dir), max_epochs=1, progress=False,
                       seed=0).save_pretrained(tmp_path / "rm")
    extra = ("--best-of", 2, "--reward-model", tmp_path / "rm", "--few-shot", 1, "--logs", tmp_path / "logs.jsonl",
             "--chunk-contexts", 3)
    results, copies = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        run = run_rlopt(monkeypatch, capsys, *_cli(shop, tiny_causal_lm_dir, out, *extra, "--engine", engine))
        assert run.code == 0, run.err
        results[engine], copies[engine] = json.loads(run.out), read_table(out)
    pd.testing.assert_frame_equal(copies["ray"], copies["local"])
    assert results["ray"]["best_of"] == results["local"]["best_of"] and results["local"]["best_of"]["groups"] == 14
    assert results["ray"]["few_shot"] == results["local"]["few_shot"]
    assert {"rerank_score", "verbatim_example", "examples"} <= set(copies["ray"].columns)
