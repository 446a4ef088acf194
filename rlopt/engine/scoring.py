"""Score many copies with the reward model on an engine: each worker loads the model once.

:class:`CopyScorer` is the per-batch class: ``__init__`` loads the reward model (and keeps the
catalog), ``__call__`` scores one chunk of validated copy rows (``item_id, segment, placement,
copy_text`` ...) and returns the rows with ``p_click, p_purchase, expected_revenue, reward`` --
what :meth:`reward_models.RewardModel.score` gives for the whole table. On the Ray engine it runs
on a pool of actors (one model per actor); the driver writes the chunks in order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlopt.engine import Engine

DEFAULT_CHUNK_ROWS = 4096  # rows per scoring call: many distinct copies per encoder pass, many chunks per worker


class CopyScorer:
    """Load a reward model once; score chunks of copy rows.

    Parameters
    ----------
    model_dir : path
        A directory written by :meth:`reward_models.RewardModel.save_pretrained`.
    catalog : pandas.DataFrame
        The validated catalog (as :func:`rlopt.data.read_catalog` returns it).
    precision : {"auto", "fp32", "bf16"}, optional
        Overrides the saved encoder precision.
    runtime : {"torch", "onnx", "onnx-int8"}, optional
        Overrides the saved encoder runtime (:mod:`reward_models.onnx_runtime`).
    """

    def __init__(self, model_dir: str | os.PathLike[str], catalog: pd.DataFrame, precision: str | None = None,
                 runtime: str | None = None) -> None:
        from reward_models import RewardModel

        self.model = RewardModel.from_pretrained(model_dir, precision=precision, runtime=runtime)
        self.catalog = catalog

    @classmethod
    def loaded(cls, model: Any, catalog: pd.DataFrame) -> CopyScorer:
        """A scorer around a reward model already loaded in this process."""
        scorer = cls.__new__(cls)
        scorer.model, scorer.catalog = model, catalog
        return scorer

    def __call__(self, chunk: pd.DataFrame, *, weights: Any = None, source: str | None = None) -> ScoredChunk:
        """The chunk's rows (score columns replaced) with the four score columns, in row order."""
        scored = self.model.score(chunk, self.catalog, weights=weights, source=source)
        table = chunk.drop(columns=[c for c in scored.columns if c in chunk.columns]).join(scored)
        return ScoredChunk(table, self.model.encoder.compute_precision)


@dataclass
class ScoredChunk:
    table: pd.DataFrame
    encoder_precision: str


def chunks(frame: pd.DataFrame, rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """``frame`` in consecutive pieces of at most ``rows`` rows (index kept)."""
    for start in range(0, len(frame), rows):
        yield frame.iloc[start:start + rows]


def score_on_engine(copies: pd.DataFrame | Iterable[pd.DataFrame], catalog: pd.DataFrame,
                    model_dir: str | os.PathLike[str], engine: Engine, *, out: str | os.PathLike[str],
                    weights: Any = None, precision: str | None = None, runtime: str | None = None,
                    source: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    concurrency: int | None = None, scorer: CopyScorer | None = None) -> dict[str, Any]:
    """Score validated copies chunk by chunk on ``engine`` and write the table to ``out`` (atomically).

    Parameters
    ----------
    copies : DataFrame, or iterable of DataFrame
        The copies whole (cut into ``chunk_rows`` pieces here), or already in pieces (a file larger
        than memory, :func:`rlopt.data.stream.stream_valid_rows`): one piece is held at a time.
    scorer : CopyScorer, optional
        A scorer already loaded in this process (the local engine then calls it instead of loading
        the model again); None: each worker loads ``model_dir``.

    Returns
    -------
    dict
        ``rows``, ``mean_p_click``, ``mean_p_purchase``, ``mean_reward`` and the workers'
        ``encoder_precision``.
    """
    from rlopt.data.table_writer import TableWriter

    pieces = chunks(copies, chunk_rows) if isinstance(copies, pd.DataFrame) else iter(copies)
    sums = dict.fromkeys(("p_click", "p_purchase", "reward"), 0.0)  # running sums: the rows are never all here
    precisions: set[str] = set()
    rows = 0
    fn, args = (scorer, ()) if scorer is not None else (CopyScorer, (str(model_dir), catalog, precision, runtime))
    with TableWriter(Path(out)) as writer:
        for part in engine.map_batches(fn, pieces, fn_constructor_args=args,
                                       fn_kwargs={"weights": weights, "source": source}, concurrency=concurrency):
            writer.write(part.table)
            rows += len(part.table)
            precisions.add(part.encoder_precision)
            for col in sums:
                sums[col] += float(part.table[col].to_numpy(dtype="float64").sum())
    means = {f"mean_{c}": s / rows if rows else float("nan") for c, s in sums.items()}
    return {"rows": rows, **means, "encoder_precision": ", ".join(sorted(precisions)) or None}


SCORE_COLUMNS = ("p_click", "p_purchase", "expected_revenue", "reward")


def score_frame_on_engine(frame: pd.DataFrame, catalog: pd.DataFrame, model_dir: str | os.PathLike[str],
                          engine: Engine, *, weights: Any = None, precision: str | None = None,
                          runtime: str | None = None, source: str | None = None,
                          chunk_rows: int = DEFAULT_CHUNK_ROWS, concurrency: int | None = None) -> pd.DataFrame:
    """:meth:`reward_models.RewardModel.score` of ``frame``, computed chunk by chunk on ``engine``.

    The same four columns (:data:`SCORE_COLUMNS`) with ``frame``'s index, rows in its order, equal
    to scoring the whole table in one process within float rounding (the tests ask for 1e-6). For
    frames that fit in memory (the pipeline's generated and logged copies); :func:`score_on_engine`
    writes a table instead.
    """
    parts = [part.table[list(SCORE_COLUMNS)] for part in engine.map_batches(
        CopyScorer, chunks(frame, chunk_rows), fn_constructor_args=(str(model_dir), catalog, precision, runtime),
        fn_kwargs={"weights": weights, "source": source}, concurrency=concurrency)]
    if not parts:
        return pd.DataFrame({c: np.zeros(0) for c in SCORE_COLUMNS}, index=frame.index)
    return pd.concat(parts)


class RewardModelOnEngine:
    """A saved reward model whose :meth:`score` runs on an engine's workers (each loads it once).

    Stands in for :class:`reward_models.RewardModel` where only ``score`` is called: the pipeline's
    generation stage scores the base and tuned copies (and the logged ones) with it when
    ``[run] engine = "ray"``.

    Parameters
    ----------
    model_dir : path
        A directory written by :meth:`reward_models.RewardModel.save_pretrained`.
    engine : rlopt.engine.Engine
    chunk_rows : int, optional
        Rows per scoring call (:data:`DEFAULT_CHUNK_ROWS`).
    """

    def __init__(self, model_dir: str | os.PathLike[str], engine: Engine, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.model_dir = str(model_dir)
        self.engine = engine
        self.chunk_rows = chunk_rows

    def score(self, frame: pd.DataFrame, catalog: pd.DataFrame, weights: Any = None,
              source: str | None = None) -> pd.DataFrame:
        """As :meth:`reward_models.RewardModel.score`: ``p_click, p_purchase, expected_revenue, reward``."""
        return score_frame_on_engine(frame, catalog, self.model_dir, self.engine, weights=weights, source=source,
                                     chunk_rows=self.chunk_rows)
