"""Write marketing copy with a (base or tuned) causal LM, post-processed to fit each placement and
repaired where it claims a wrong discount.

Public API (imported on first use, see :mod:`rlopt.lazy`):

- :func:`resolve_generator` — ``"default"`` | a tuned output directory | a model directory | a HF id
  -> ``(model, tokenizer)``; ``DEFAULT_GENERATOR``.
- :func:`generate_copies` — seeded copies for a frame of contexts (the generated-copies contract).
- :func:`build_messages` — the chat prompt of one context.
- :func:`clean_copy`, :func:`is_misleading`, :func:`repair` — post-processing and the discount-claim rule.
- :func:`sample_tokens` — rlopt's decoder (prefix-shared prefill, finished rows dropped).
- :func:`find_placements`, :func:`find_segments` — placements / segment descriptions next to an input file.
- :func:`best_of_n`, :func:`select_best` — show the reward model's best of n samples (:mod:`rlopt.generation.rerank`).
- :func:`add_examples` — each context's best logged copies as few-shot examples (:mod:`rlopt.generation.fewshot`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlopt.lazy import lazy_exports

_EXPORTS = {
    "resolve_generator": "models", "DEFAULT_GENERATOR": "models", "generate_copies": "sample",
    "build_messages": "prompts", "clean_copy": "postprocess", "is_misleading": "postprocess",
    "repair": "compliance", "sample_tokens": "decode", "find_placements": "inputs", "find_segments": "inputs",
    "best_of_n": "rerank", "select_best": "rerank", "add_examples": "fewshot",
}

if TYPE_CHECKING:
    from rlopt.generation.compliance import repair
    from rlopt.generation.decode import sample_tokens
    from rlopt.generation.fewshot import add_examples
    from rlopt.generation.inputs import find_placements, find_segments
    from rlopt.generation.models import DEFAULT_GENERATOR, resolve_generator
    from rlopt.generation.postprocess import clean_copy, is_misleading
    from rlopt.generation.prompts import build_messages
    from rlopt.generation.rerank import best_of_n, select_best
    from rlopt.generation.sample import generate_copies

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "DEFAULT_GENERATOR",
    "add_examples",
    "best_of_n",
    "build_messages",
    "clean_copy",
    "find_placements",
    "find_segments",
    "generate_copies",
    "is_misleading",
    "repair",
    "resolve_generator",
    "sample_tokens",
    "select_best",
]
