"""Tiny random models for tests and smoke runs (built from config, seconds to create).

They keep the real tokenizers (SmolLM2's for the generator, MiniLM's for the encoder) so every
code path — chat templates, padding, special tokens — is exercised, but the networks are
2-layer toys with random weights. Nothing here is used by the product's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def _build_tiny(out_dir: str | Path, tokenizer_dir: Path, make_model: Callable[[Any], Any], seed: int) -> Path:
    """Save ``make_model(tokenizer)`` (random weights, seeded) and the tokenizer to ``out_dir``."""
    import torch
    from transformers import AutoTokenizer

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(seed)
    make_model(tokenizer).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out


def build_tiny_causal_lm(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a 2-layer random Llama with the SmolLM2 tokenizer to ``out_dir`` (safetensors)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from rlopt.resources import smollm2_tokenizer_dir

    def make(tokenizer):
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
        )
        model = LlamaForCausalLM(config)
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        return model

    return _build_tiny(out_dir, smollm2_tokenizer_dir(), make, seed)


def build_tiny_encoder(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a 2-layer random BERT with the MiniLM tokenizer to ``out_dir`` (safetensors)."""
    from transformers import BertConfig, BertModel

    from rlopt.resources import minilm_dir

    def make(tokenizer):
        config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=128,
        )
        return BertModel(config)

    return _build_tiny(out_dir, minilm_dir(), make, seed)


def write_small_market(path: str | Path, n_items: int = 8, n_users: int = 600) -> Path:
    """Write the default market with ``n_items`` items and ``n_users`` users to ``path``."""
    import re

    from rlopt.market import DEFAULT_MARKET

    text = re.sub(r"(?m)^n_items = \d+", f"n_items = {n_items}", Path(DEFAULT_MARKET).read_text())
    out = Path(path)
    out.write_text(re.sub(r"(?m)^n_users = \d+", f"n_users = {n_users}", text))
    return out


def write_tiny_experiment(
    path: str | Path,
    llm: str | Path,
    enc: str | Path,
    bandit_steps: int = 600,
    market_name: str = "market.toml",
    name: str | None = None,
    title: str | None = None,
) -> Path:
    """Write a tiny experiment config to ``path`` (and an 8-item market named ``market_name`` beside it).

    ``llm`` and ``enc`` are the generator and encoder directories (see :func:`build_tiny_causal_lm`,
    :func:`build_tiny_encoder`); budgets are small so a full ``rlopt run`` takes a few minutes.
    ``name`` and ``title`` set ``[run] name`` and ``[report] title`` when given (defaults otherwise).
    """
    out = Path(path)
    write_small_market(out.parent / market_name)
    run_name = f'name = "{name}"\n' if name is not None else ""
    report = f'\n[report]\ntitle = "{title}"\n' if title is not None else ""
    out.write_text(f"""
[run]
out_dir = "run"
{run_name}threads = 1

[data]
market = "{market_name}"
impressions = 12000

[reward]
encoder = "{enc}"
max_epochs = 1

[tuning]
generator = "{llm}"
max_steps = 2
num_train_pairs = 16

[generation]
num_samples = 1
batch_size = 32

[ab]
impressions = 6000

[bandit]
policies = ["uniform", "linucb"]
steps = {bandit_steps}
n_shoppers = 500

[ope]
n_folds = 2
n_bootstrap_samples = 50
max_eval_rows = 2000
{report}""")
    return out
