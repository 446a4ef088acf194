"""Tiny random models for tests and smoke runs (built from config, seconds to create).

They keep the real tokenizers (SmolLM2's for the generator, MiniLM's for the encoder) so every
code path — chat templates, padding, special tokens — is exercised, but the networks are
2-layer toys with random weights. Nothing here is used by the product's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rlopt.io_utils import write_text_atomic


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


#: The tiny budgets of :func:`write_tiny_config` (section -> key -> value): small enough that a full
#: ``rlopt run`` on the tiny models takes a few minutes, large enough that every stage has data to report.
TINY_BUDGETS: dict[str, dict[str, Any]] = {
    "run": {"out_dir": "run", "threads": 1},
    "reward": {"max_epochs": 1},
    "tuning": {"max_steps": 2, "num_train_pairs": 16},
    # resample 0: a random tiny model falls back to the title often, so a round would redo most of it
    "generation": {"num_samples": 1, "batch_size": 32, "resample": 0},
    "ab": {"impressions": 6000},
    "bandit": {"policies": ["uniform", "linucb"], "steps": 600, "n_shoppers": 500},
    "ope": {"n_folds": 2, "n_bootstrap_samples": 50, "max_eval_rows": 2000},
}


def write_tiny_config(
    path: str | Path,
    llm: str | Path,
    enc: str | Path,
    data: Mapping[str, Any],
    **sections: Mapping[str, Any] | None,
) -> Path:
    """Write an experiment config with :data:`TINY_BUDGETS` for the tiny models to ``path``.

    Parameters
    ----------
    llm, enc : the generator and encoder directories (see :func:`build_tiny_causal_lm`,
        :func:`build_tiny_encoder`): ``[tuning] generator`` and ``[reward] encoder``.
    data : the ``[data]`` section (a simulated market or a shop's own logs).
    sections : ``name={key: value}`` merged into that section of the budgets (a new section is added);
        a value of None removes the key, ``name=None`` the whole section (so the stage's defaults apply).

    Examples
    --------
    >>> import tomllib, tempfile
    >>> out = write_tiny_config(Path(tempfile.mkdtemp()) / "x.toml", "llm", "enc", {"logs": "logs.csv"},
    ...                         ab=None, bandit={"steps": None, "batch_size": 50})
    >>> cfg = tomllib.loads(out.read_text())
    >>> cfg["data"], cfg["tuning"]["generator"], "ab" in cfg, cfg["bandit"]
    ({'logs': 'logs.csv'}, 'llm', False, {'policies': ['uniform', 'linucb'], 'n_shoppers': 500, 'batch_size': 50})
    """
    from rlopt.market._toml import dumps

    body: dict[str, dict[str, Any]] = {"run": {}, "data": dict(data)}
    body.update({name: dict(keys) for name, keys in TINY_BUDGETS.items()})
    body["reward"]["encoder"] = str(enc)
    body["tuning"]["generator"] = str(llm)
    for name, keys in sections.items():
        if keys is None:
            body.pop(name, None)
            continue
        section = body.setdefault(name, {})
        for key, value in keys.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = value
    out = Path(path)
    write_text_atomic(out, dumps(body))
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
    """Write a tiny experiment config on a simulated market to ``path`` (and an 8-item market named
    ``market_name`` beside it): :func:`write_tiny_config` with 12,000 simulated impressions.

    ``name`` and ``title`` set ``[run] name`` and ``[report] title`` when given (defaults otherwise).
    """
    out = Path(path)
    write_small_market(out.parent / market_name)
    return write_tiny_config(out, llm, enc, {"market": market_name, "impressions": 12000},
                             run={"name": name}, bandit={"steps": bandit_steps},
                             **({"report": {"title": title}} if title is not None else {}))
