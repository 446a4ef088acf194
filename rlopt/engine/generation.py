"""Generate copy on an engine: contexts in chunks, each worker loads the generator once.

The contexts are cut into consecutive chunks of a fixed size; chunk ``[start, start + size)``
samples under seed ``seed + start`` (:func:`rlopt.generation.sample.generate_copies` then seeds its
batch ``b`` with ``seed + start + b``). The chunks, and so the seeds, depend on the contexts, the
chunk size and the seed only -- never on the engine or on which worker ran a chunk -- so the local
engine and Ray write the same copies. A chunk has at most ``size`` contexts and so fewer than
``size`` batches: no two batches of one call share a seed.

:class:`CopyGenerator` is the per-batch class: ``__init__`` resolves the generator (and, for
best-of-n, the reward model that ranks the samples), ``__call__`` generates one chunk. On the Ray
engine it runs on a pool of actors (one model per actor, one GPU each when the cluster has GPUs);
the driver writes the chunks in order (:func:`write_generated`), so the output streams.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rlopt.engine import Engine

DEFAULT_CHUNK_BATCHES = 4  # contexts per chunk = this x --batch-size unless --chunk-contexts says otherwise
_COUNT_TABLES = ("compliance", "quality", "rerank", "resample")  # attrs of generate_copies / best_of_n
_SETTINGS = frozenset({"n", "rounds"})  # entries of the attrs' count tables that are settings, not counts


@dataclass
class ContextChunk:
    """Contexts ``start .. start + len(contexts) - 1`` of the whole input (index reset)."""

    start: int
    contexts: pd.DataFrame


@dataclass
class GeneratorSpec:
    """What each worker loads.

    Attributes
    ----------
    generator : str
        ``default`` | a tuned output directory | a model directory | a Hugging Face id
        (:func:`rlopt.generation.models.resolve_generator`).
    device : str
        ``auto | cpu | cuda | cuda:N`` on the worker.
    reward_model : str, optional
        Reward model directory whose scores pick the best of ``best_of`` samples.
    rerank_metric : str
        The reward-model column the reranking maximizes.
    """

    generator: str = "default"
    device: str = "auto"
    reward_model: str | None = None
    rerank_metric: str = "reward"


@dataclass
class GeneratedChunk:
    """One chunk's copies (in context order) and its counts (``attrs`` do not always survive transport)."""

    start: int
    copies: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)


def chunk_rows(batch_size: int, chunk_contexts: int = 0) -> int:
    """Contexts per chunk: ``chunk_contexts``, or :data:`DEFAULT_CHUNK_BATCHES` batches when 0."""
    return chunk_contexts if chunk_contexts > 0 else DEFAULT_CHUNK_BATCHES * batch_size


def context_chunks(contexts: pd.DataFrame, rows: int) -> Iterator[ContextChunk]:
    """``contexts`` in consecutive chunks of at most ``rows`` rows.

    >>> ctx = pd.DataFrame({"item_id": list("abcde")})
    >>> [(c.start, len(c.contexts)) for c in context_chunks(ctx, 2)]
    [(0, 2), (2, 2), (4, 1)]
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    contexts = contexts.reset_index(drop=True)
    for start in range(0, len(contexts), rows):
        yield ContextChunk(start, contexts.iloc[start:start + rows].reset_index(drop=True))


class CopyGenerator:
    """Load a generator once (and a reward model for best-of-n); generate chunks of contexts.

    Parameters
    ----------
    spec : GeneratorSpec
    catalog : pandas.DataFrame
        The validated catalog.
    placements : mapping name -> Placement
    segments : mapping name -> Segment or str, optional
        Segment descriptions for the prompt.
    """

    def __init__(self, spec: GeneratorSpec, catalog: pd.DataFrame, placements: Mapping[str, Any],
                 segments: Mapping[str, Any] | None = None) -> None:
        from rlopt.generation.models import resolve_generator

        model, tokenizer = resolve_generator(spec.generator, device=spec.device)
        scorer = None
        if spec.reward_model:
            from reward_models import RewardModel
            from rlopt.generation.rerank import reward_model_scorer

            scorer = reward_model_scorer(RewardModel.from_pretrained(spec.reward_model), catalog, spec.rerank_metric)
        self._bind(model, tokenizer, catalog, placements, segments, scorer)

    @classmethod
    def loaded(cls, model: Any, tokenizer: Any, catalog: pd.DataFrame, placements: Mapping[str, Any],
               segments: Mapping[str, Any] | None = None, scorer: Any = None) -> CopyGenerator:
        """An instance around a model this process has loaded already (the local engine's path)."""
        self = cls.__new__(cls)
        self._bind(model, tokenizer, catalog, placements, segments, scorer)
        return self

    def _bind(self, model: Any, tokenizer: Any, catalog: pd.DataFrame, placements: Mapping[str, Any],
              segments: Mapping[str, Any] | None, scorer: Any) -> None:
        self.model, self.tokenizer, self.scorer = model, tokenizer, scorer
        self.catalog, self.placements, self.segments = catalog, placements, segments

    @property
    def device(self) -> str:
        return str(next(self.model.parameters()).device)

    def __call__(self, chunk: ContextChunk, *, seed: int, num: int = 1, best_of: int = 1,
                 **generate_kwargs: Any) -> GeneratedChunk:
        """The chunk's copies under seed ``seed + chunk.start``.

        ``best_of > 1`` keeps the scorer's best of that many samples
        (:func:`rlopt.generation.rerank.best_of_n`); contexts with an ``examples`` column get
        ``verbatim_example``. ``generate_kwargs`` go to
        :func:`rlopt.generation.sample.generate_copies` (``batch_size``, ``temperature``, ...).
        """
        from rlopt.generation.fewshot import mark_verbatim
        from rlopt.generation.rerank import best_of_n
        from rlopt.generation.sample import generate_copies

        args = (self.model, self.tokenizer, chunk.contexts, self.catalog, self.placements, self.segments)
        if best_of > 1:
            if self.scorer is None:
                raise ValueError("best_of > 1 needs a reward model (GeneratorSpec.reward_model)")
            part = best_of_n(*args, n=best_of, num=num, scorer=self.scorer, seed=seed + chunk.start,
                             **generate_kwargs)
        else:
            part = generate_copies(*args, num=num, seed=seed + chunk.start, **generate_kwargs)
        if "examples" in part.columns:
            part = mark_verbatim(part)  # keeps attrs
        # the count tables among the attrs (others came with the contexts), less the settings in them
        counts: dict[str, Any] = {key: {k: v for k, v in part.attrs[key].items() if k not in _SETTINGS}
                                  for key in _COUNT_TABLES if isinstance(part.attrs.get(key), dict)}
        counts["title_fallbacks"] = int(part.attrs.get("title_fallbacks", 0))
        part.attrs = {}
        return GeneratedChunk(chunk.start, part, counts)


def generate_on_engine(engine: Engine, contexts: pd.DataFrame, *, seed: int, chunk: int,
                       spec: GeneratorSpec | None = None, loaded: CopyGenerator | None = None,
                       catalog: pd.DataFrame | None = None, placements: Mapping[str, Any] | None = None,
                       segments: Mapping[str, Any] | None = None, **call_kwargs: Any) -> Iterator[GeneratedChunk]:
    """Yield the chunks' copies in context order.

    Give ``loaded`` (a :class:`CopyGenerator` built here, run as a plain function: the local engine)
    or ``spec`` with ``catalog``, ``placements``, ``segments`` (each worker builds its own). On
    a Ray cluster with GPUs, each actor of a generator whose device is not ``cpu`` takes one GPU.
    ``call_kwargs`` go to :meth:`CopyGenerator.__call__` (``num``, ``best_of``, ``batch_size`` ...).
    """
    units = context_chunks(contexts, chunk)
    kwargs = {"seed": seed, **call_kwargs}
    if loaded is not None:
        yield from engine.map_batches(loaded, units, fn_kwargs=kwargs)
        return
    if spec is None or catalog is None or placements is None:
        raise ValueError("generate_on_engine needs a loaded generator, or a spec with catalog and placements")
    gpus = 1 if getattr(engine, "gpus", 0) and spec.device != "cpu" else 0
    if not gpus and getattr(engine, "name", "") == "ray":
        kwargs.setdefault("threads", 1)  # one CPU per actor: as many torch threads, not one per core each
    yield from engine.map_batches(CopyGenerator, units, fn_constructor_args=(spec, catalog, placements, segments),
                                  fn_kwargs=kwargs, num_gpus=gpus)


@dataclass
class GeneratedTotals:
    """What :func:`write_generated` counted over all chunks."""

    copies: int = 0
    chars: int = 0
    counts: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in ("compliance", "quality")})
    title_fallbacks: int = 0
    verbatim: int = 0
    with_examples: int = 0

    def add(self, part: GeneratedChunk) -> None:
        from rlopt.generation.prompts import example_list

        frame = part.copies
        self.copies += len(frame)
        self.chars += int(frame["copy_text"].astype(str).str.len().sum()) if len(frame) else 0
        for key, table in part.counts.items():
            if isinstance(table, dict):
                self.counts.setdefault(key, Counter()).update(table)
        self.title_fallbacks += int(part.counts.get("title_fallbacks", 0))
        if "verbatim_example" in frame.columns and "examples" in frame.columns:
            had = [bool(example_list(e)) for e in frame["examples"]]
            self.with_examples += sum(had)
            self.verbatim += int(sum(v for v, h in zip(frame["verbatim_example"].astype(bool), had, strict=True)
                                     if h))

    @property
    def mean_chars(self) -> float:
        return self.chars / self.copies if self.copies else 0.0

    @property
    def verbatim_rate(self) -> float:
        """As :func:`rlopt.generation.fewshot.verbatim_rate` over every chunk (NaN: no examples)."""
        return self.verbatim / self.with_examples if self.with_examples else float("nan")


def write_generated(parts: Iterable[GeneratedChunk], out: str | os.PathLike[str]) -> GeneratedTotals:
    """Write the chunks' copies to ``out`` (JSONL) as they arrive, atomically (temp file, then rename).

    Returns
    -------
    GeneratedTotals
    """
    from rlopt.data.io import frame_records, write_jsonl_rows
    from rlopt.io_utils import atomic_path

    totals = GeneratedTotals()
    with atomic_path(Path(out)) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for part in parts:
            write_jsonl_rows(fh, frame_records(part.copies))
            totals.add(part)
    return totals
