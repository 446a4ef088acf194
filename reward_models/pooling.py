"""Sentence embeddings from an encoder's last hidden states: the masked mean, L2-normalized.

    e(text) = normalize( sum_t m_t h_t / sum_t m_t ),   shape (hidden_size,)

(the sentence-transformers recipe for MiniLM). :class:`PooledEncoder` puts the encoder and the
pooling in one module, the graph that :mod:`reward_models.onnx_runtime` exports.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, L2-normalized. hidden (b, t, d), mask (b, t) -> (b, d)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


class PooledEncoder(torch.nn.Module):
    """``forward(*tensors) -> (b, d)`` float32 embeddings; ``tensors`` follow ``input_names``.

    Positional inputs (not a dict) because exporters trace positional arguments; ``input_names``
    must include ``attention_mask`` (the pooling needs it).
    """

    def __init__(self, model: torch.nn.Module, input_names: Sequence[str]):
        super().__init__()
        if "attention_mask" not in input_names:
            raise ValueError(f"input_names must include 'attention_mask', got {list(input_names)}")
        self.model = model
        self.input_names = list(input_names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs = dict(zip(self.input_names, tensors, strict=True))
        hidden = self.model(**inputs).last_hidden_state
        return mean_pool(hidden.float(), inputs["attention_mask"])
