"""Tiny random models for tests and smoke runs (built from config, seconds to create).

They keep the real tokenizers (SmolLM2's for the generator, MiniLM's for the encoder) so every
code path — chat templates, padding, special tokens — is exercised, but the networks are
2-layer toys with random weights. Nothing here is used by the product's defaults.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_causal_lm(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a 2-layer random Llama with the SmolLM2 tokenizer to ``out_dir`` (safetensors)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rlopt.resources import smollm2_tokenizer_dir

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_tokenizer_dir()))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out


def build_tiny_encoder(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a 2-layer random BERT with the MiniLM tokenizer to ``out_dir`` (safetensors)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rlopt.resources import minilm_dir

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out
