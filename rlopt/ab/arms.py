"""Arms of a simulated A/B test: what copy each variant shows for an impression.

Arm specs (strings, as on the command line):

``logging``
    The market's logging policy over its templated copy pool (the status quo).
``pool-random``
    A uniformly random copy from the pool.
``pool-best``
    The oracle-best pool copy per ``(item, segment, placement)`` by expected revenue per
    impression. It peeks at the ground truth: an *upper reference*, not a deployable variant.
``copies:PATH.jsonl``
    Generated copies (data-contract JSONL: ``item_id, segment, placement, copy_text`` [+ ``generator,
    sample_idx``]). An impression gets one of the ``K`` copies of its ``(item, segment, placement)``
    context uniformly; uncovered contexts fall back to the ``(item, placement)`` copies, else fail.
``policy:NAME``
    A bandit from :func:`rlopt.policies.make_policy` choosing among the pool copies, learning online
    from this arm's clicks (``NAME`` may carry parameters, e.g. ``policy:linucb:alpha=1.0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rlopt.errors import InputError

ARM_SPECS = ("logging", "pool-random", "pool-best", "copies:PATH.jsonl", "policy:NAME")
_COPY_COLUMNS = ("item_id", "segment", "placement", "copy_text")


@dataclass(frozen=True)
class Arm:
    """A parsed arm spec: ``kind`` in ``logging | pool-random | pool-best | copies | policy``."""

    spec: str
    kind: str
    target: str | None = None

    @classmethod
    def parse(cls, spec: str | Arm) -> Arm:
        """Parse an arm spec, raising :class:`InputError` listing the valid forms.

        >>> Arm.parse("copies:runs/x.jsonl")
        Arm(spec='copies:runs/x.jsonl', kind='copies', target='runs/x.jsonl')
        """
        if isinstance(spec, Arm):
            return spec
        text = str(spec).strip()
        if text in ("logging", "pool-random", "pool-best"):
            return cls(text, text)
        kind, _, target = text.partition(":")
        if kind in ("copies", "policy") and target:
            return cls(text, kind, target)
        raise InputError(f"arm spec {spec!r} does not resolve; valid forms: {', '.join(ARM_SPECS)}.",
                         column="arm", rule="arm spec", value=spec)

    @property
    def label(self) -> str:
        """Spec plus a note for arms that are references rather than deployable variants."""
        return f"{self.spec} (oracle upper reference)" if self.kind == "pool-best" else self.spec

    @property
    def learns_online(self) -> bool:
        return self.kind == "policy"


def _pool_lookup(market, keys: pd.DataFrame, index: np.ndarray) -> np.ndarray:
    """Copy text of pool entry ``index[i]`` for ``(item_id, placement)`` of row ``i``."""
    pools: dict[tuple[str, str], list[str]] = {}
    out = np.empty(len(keys), dtype=object)
    for i, (item, plc, k) in enumerate(zip(keys["item_id"], keys["placement"], index, strict=True)):
        pool = pools.get((item, plc))
        if pool is None:
            pool = pools[(item, plc)] = list(market.copy_pool(item, plc))
        out[i] = pool[int(k)]
    return out


def _read_copies(path: Path, market) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("copies file not found", file=str(path), rule="copies:PATH must be an existing JSONL file")
    try:
        from rlopt.data import read_copies  # validates against catalog and placements
    except ImportError:  # data package without a copies reader: check the contract here
        read_copies = None
    if read_copies is not None:
        return read_copies(path, market.catalog, market.placements)
    try:
        df = pd.read_json(path, lines=True, dtype=False)
    except ValueError as err:
        raise InputError(f"not valid JSONL ({err})", file=str(path), rule="one JSON object per line") from None
    for col in _COPY_COLUMNS:
        if col not in df.columns:
            raise InputError("missing column", file=str(path), column=col, rule=f"columns {_COPY_COLUMNS}")
    bad = df["copy_text"].isna() | (df["copy_text"].astype(str).str.strip() == "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InputError("empty copy_text", file=str(path), row=row, column="copy_text", rule="non-empty")
    return df


class CopiesChooser:
    """Uniform choice among the generated copies of an impression's context."""

    def __init__(self, path: Path, market) -> None:
        df = _read_copies(path, market)
        self.path = path
        self.by_context = {k: g["copy_text"].astype(str).tolist()
                           for k, g in df.groupby(["item_id", "segment", "placement"], sort=False)}
        self.by_item = {k: g["copy_text"].astype(str).tolist()
                        for k, g in df.groupby(["item_id", "placement"], sort=False)}

    def covers(self, imps: pd.DataFrame) -> np.ndarray:
        """Boolean mask of impressions whose context (or item and placement) has copies."""
        return np.array([(i, s, p) in self.by_context or (i, p) in self.by_item for i, s, p in
                         zip(imps["item_id"], imps["segment"], imps["placement"], strict=True)], dtype=bool)

    def __call__(self, imps: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        out = np.empty(len(imps), dtype=object)
        u = rng.random(len(imps))
        for i, (item, seg, plc) in enumerate(zip(imps["item_id"], imps["segment"], imps["placement"],
                                                 strict=True)):
            texts = self.by_context.get((item, seg, plc)) or self.by_item.get((item, plc))
            if texts is None:
                raise InputError(f"no copy for context item_id={item!r}, segment={seg!r}, placement={plc!r} "
                                 "(nor for that item and placement in any segment); generate copies for every "
                                 "(item, placement) or run with traffic='covered' (--traffic covered)",
                                 file=str(self.path),
                                 column="item_id", rule="copies cover every (item, placement) the market shows")
            out[i] = texts[int(u[i] * len(texts))]
        return out


class PoolBestChooser:
    """The pool copy with the highest oracle expected revenue per impression for each context."""

    def __init__(self, market, oracle) -> None:
        self.market, self.oracle = market, oracle
        self.best: dict[tuple[str, str, str], str] = {}

    def _fill(self, contexts: list[tuple[str, str, str]]) -> None:
        rows = [(item, seg, plc, text) for item, seg, plc in contexts
                for text in self.market.copy_pool(item, plc)]
        frame = pd.DataFrame(rows, columns=["item_id", "segment", "placement", "copy_text"])
        scored = self.oracle.evaluate(frame)
        frame["value"] = np.asarray(scored["expected_revenue"], dtype=float)
        top = frame.sort_values("value", ascending=False, kind="stable").drop_duplicates(
            ["item_id", "segment", "placement"])
        for item, seg, plc, text in zip(top["item_id"], top["segment"], top["placement"], top["copy_text"],
                                        strict=True):
            self.best[(item, seg, plc)] = text

    def __call__(self, imps: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        keys = list(zip(imps["item_id"], imps["segment"], imps["placement"], strict=True))
        missing = sorted(set(keys) - self.best.keys())
        if missing:
            self._fill(missing)
        return np.array([self.best[k] for k in keys], dtype=object)


def make_chooser(arm: Arm, market, oracle) -> Callable[[pd.DataFrame, np.random.Generator], np.ndarray]:
    """A function ``(impressions, rng) -> copy_text array`` for a non-learning arm."""
    if arm.kind == "logging":
        def logging(imps, rng):
            index, _ = market.logging_policy.choose(imps, rng)
            return _pool_lookup(market, imps, np.asarray(index))
        return logging
    if arm.kind == "pool-random":
        return lambda imps, rng: _pool_lookup(market, imps, rng.integers(0, market.pool_size, len(imps)))
    if arm.kind == "pool-best":
        return PoolBestChooser(market, oracle)
    if arm.kind == "copies":
        return CopiesChooser(Path(arm.target), market)
    raise InputError(f"arm {arm.spec!r} learns online; use run_policy_arm", column="arm")
