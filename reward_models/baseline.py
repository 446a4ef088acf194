"""A strong-but-simple baseline: logistic regression on hashed word n-grams + one-hot context.

    x = [hash(copy word 1-2 grams), hash(segment x n-gram), hash(placement x n-gram),
         one-hot(segment, placement, (placement, position), category, item, (placement, length bucket)),
         one-hot(seen_copy = 1, 2, 3+), one-hot(seen_template = 1, 2, 3+),
         [t, one-hot(segment) x t] with t the copy-vs-item statistics, log1p(price), discount_pct / 100]
    P(click) = sigmoid(w_c . x + b_c),   P(purchase) = sigmoid(w_p . x + b_p)   (both over all impressions)

The crosses (``crosses``), the item one-hot (``item``: an item's own appeal, as any production CTR
model keeps an item id), the copy-length bucket per placement (``length``: ``min(chars // 10, 12)``,
so a length the placement's readers dislike can cost clicks whatever the words), the copy-vs-item
statistics ``t`` and their segment crosses (``surface``: :func:`copy_item_stats`, what n-grams of one
copy cannot say: does it name this item's brand, use its title's words, state its real discount or
another one) and the exposure
one-hots (``exposure_window`` > 0: :mod:`reward_models.exposure`, how often the shopper just saw the
same copy or template; 0 when scoring fresh copy) are options, off in models saved before they
existed. Each hashed block is L2-normalized per row (``HashingVectorizer(norm="l2")``), so a long copy does
not outweigh a short one. Training always fits it beside the encoder model
(:mod:`reward_models.stacking` decides which one, or which blend, scores); ``benchmarks/bench_reward.py``
reports it on the same split.

Persistence without pickles: the hashing is stateless (rebuilt from ``n_features`` and
``ngram_range``), the context vocabularies are JSON lists, and the weights are the non-zero
coefficients as safetensors tensors (:meth:`state` / :meth:`from_state`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.special import expit
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from reward_models.inputs import join_items

CONTEXT = ("segment", "placement", "slot", "category", "item", "length")  # "item" / "length" only when enabled
LENGTH_BUCKET, LENGTH_BUCKETS = 10, 12  # chars per bucket, last bucket
EXPOSURE_BINS = (1, 2, 3)  # one-hot of count == 1, == 2, >= 3 (0 is the reference)
HEADS = ("click", "purchase")
C_GRID = (0.1, 0.3, 1.0, 3.0)  # inverse L2 strengths tried by fit_tuned


def _context(joined: pd.DataFrame, with_slot: bool) -> pd.DataFrame:
    """Context columns as strings; without the slot term every row counts as position 0."""
    length = (joined["copy_text"].astype(str).str.len() // LENGTH_BUCKET).clip(upper=LENGTH_BUCKETS)
    n = len(joined)
    position = joined["position"] if with_slot and "position" in joined else pd.Series(0, index=joined.index)
    segment = joined["segment"].astype(str) if "segment" in joined else pd.Series(["na"] * n, index=joined.index)
    placement = joined["placement"].astype(str)
    return pd.DataFrame({"segment": segment, "placement": placement,
                         "slot": placement + "#" + position.astype(int).astype(str),
                         "category": joined["category"].astype(str), "item": joined["item_id"].astype(str),
                         "length": placement + "#" + length.astype(str)})


_PCT = re.compile(r"(?<![\d.])(\d{1,2})\s*%")  # "100% wool" states no discount
N_STATS = 10


def copy_item_stats(joined: pd.DataFrame) -> np.ndarray:
    """Copy-vs-item statistics, shape (n, N_STATS): the 8 surface statistics of
    :func:`reward_models.features.surface_features` (length, words, caps, "!", digit, "%", share of the
    title's words used, brand named), whether a stated percentage is the item's own discount (within 2
    points, items with >= 1% off), and whether one is not (a claim the catalog does not back)."""
    from reward_models.features import surface_features

    surf = surface_features(joined["copy_text"], joined["title"], joined["brand"], joined["category"])
    real = np.round(joined["discount_pct"].to_numpy(float))
    states, other = np.zeros(len(joined)), np.zeros(len(joined))
    for r, text in enumerate(joined["copy_text"].astype(str)):
        stated = [int(p) for p in _PCT.findall(text)]
        states[r] = float(real[r] >= 1 and any(abs(p - real[r]) <= 2 for p in stated))
        other[r] = float(any(abs(p - real[r]) > 2 for p in stated))
    return np.column_stack([surf, states, other]).astype(np.float64)


def _labels(logs: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"click": logs["clicked"].to_numpy(), "purchase": logs["converted"].to_numpy()}


@dataclass
class HashedNgramBaseline:
    """Two logistic regressions (click, purchase) on hashed n-grams, their context crosses and one-hots.

    ``C`` is sklearn's inverse L2 strength; ``crosses`` adds the segment x n-gram and placement x
    n-gram blocks (copy that works for one segment or placement only); ``item``, ``length`` and
    ``exposure_window`` add the blocks of the module docstring.
    """

    n_features: int = 2**18
    C: float = 1.0
    crosses: bool = False
    item: bool = False
    length: bool = False
    surface: bool = False
    exposure_window: int = 0
    seed: int = 0
    vocab: dict[str, list[str]] = field(default_factory=dict)
    coef: dict[str, np.ndarray] = field(default_factory=dict)  # head -> (n_columns,) dense
    intercept: dict[str, float] = field(default_factory=dict)
    recalibration: dict[str, list[float]] = field(default_factory=dict)  # head -> [scale, shift] on the logit

    # ---------------------------------------------------------------- features
    def _hashers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        words = HashingVectorizer(ngram_range=(1, 2), n_features=self.n_features, alternate_sign=False, norm="l2")
        tokens = HashingVectorizer(analyzer=lambda grams: grams, n_features=self.n_features, alternate_sign=False,
                                   norm="l2")
        return words, tokens

    @property
    def n_columns(self) -> int:
        blocks = 3 if self.crosses else 1
        exposure = 2 * len(EXPOSURE_BINS) if self.exposure_window else 0
        surface = N_STATS * (1 + len(self.vocab["segment"])) if self.surface else 0
        return blocks * self.n_features + sum(len(v) for v in self.vocab.values()) + exposure + surface + 2

    @property
    def context_columns(self) -> tuple[str, ...]:
        return tuple(c for c in CONTEXT if (c != "item" or self.item) and (c != "length" or self.length))

    def _matrix(self, frame: pd.DataFrame, catalog: pd.DataFrame, with_slot: bool = True) -> sp.csr_matrix:
        """Design matrix, shape (n, n_columns); unknown context values get all-zero one-hots."""
        joined = join_items(frame, catalog)
        texts = joined["copy_text"].astype(str)
        words, tokens = self._hashers()
        ctx = _context(joined, with_slot)
        blocks = [words.transform(texts)]
        if self.crosses:
            analyze = words.build_analyzer()
            grams = [analyze(t) for t in texts]
            for col in ("segment", "placement"):
                blocks.append(tokens.transform([[f"{v}|{g}" for g in gs] for v, gs in zip(ctx[col], grams, strict=True)]))
        rows = np.arange(len(joined))
        for col in self.context_columns:
            index = {v: i for i, v in enumerate(self.vocab[col])}
            codes = ctx[col].map(index)
            known = codes.notna().to_numpy()
            onehot = sp.csr_matrix((np.ones(known.sum()), (rows[known], codes[known].astype(int).to_numpy())),
                                   shape=(len(joined), len(index)))
            blocks.append(onehot)
        if self.exposure_window:
            from reward_models.exposure import exposure_of

            seen = exposure_of(joined, self.exposure_window)
            bins = [(seen[:, k] == b) if b < EXPOSURE_BINS[-1] else (seen[:, k] >= b)
                    for k in range(2) for b in EXPOSURE_BINS]
            blocks.append(sp.csr_matrix(np.column_stack(bins).astype(np.float64)))
        if self.surface:
            stats = copy_item_stats(joined)
            seg = {v: i for i, v in enumerate(self.vocab["segment"])}
            codes = ctx["segment"].map(seg)
            rows_known = np.flatnonzero(codes.notna().to_numpy())
            col = codes.to_numpy()[rows_known].astype(int)[:, None] * N_STATS + np.arange(N_STATS)
            cross = sp.csr_matrix((stats[rows_known].ravel(), (np.repeat(rows_known, N_STATS), col.ravel())),
                                  shape=(len(joined), N_STATS * len(seg)))
            blocks += [sp.csr_matrix(stats), cross]
        num = np.column_stack([np.log1p(joined["price"].to_numpy(float)),
                               joined["discount_pct"].to_numpy(float) / 100])
        blocks.append(sp.csr_matrix(num))
        return sp.hstack(blocks, format="csr")

    # ---------------------------------------------------------------- fit / predict
    def _set_vocab(self, logs: pd.DataFrame, catalog: pd.DataFrame) -> None:
        ctx = _context(join_items(logs, catalog), with_slot=True)
        self.vocab = {col: sorted(ctx[col].unique().tolist()) for col in self.context_columns}

    def _fit_matrix(self, x: sp.csr_matrix, labels: dict[str, np.ndarray]) -> HashedNgramBaseline:
        """Fit both heads on design matrix ``x`` (n, n_columns) and ``labels`` {head: (n,)}."""
        # Only the columns some row uses: a column no row touches gets weight 0 under L2 anyway, and
        # lbfgs over the few thousand used columns is far faster than over all hashed ones.
        used = np.unique(x.indices)
        x_used = x[:, used]
        for head in HEADS:
            lr = LogisticRegression(C=self.C, max_iter=1000, solver="lbfgs", random_state=self.seed)
            lr.fit(x_used, labels[head])
            self.coef[head] = np.zeros(x.shape[1], dtype=np.float64)
            self.coef[head][used] = lr.coef_[0]
            self.intercept[head] = float(lr.intercept_[0])
        self.recalibration = {}
        return self

    def fit(self, logs: pd.DataFrame, catalog: pd.DataFrame) -> HashedNgramBaseline:
        """Fit both heads on logged rows (the slot one-hot included)."""
        self._set_vocab(logs, catalog)
        return self._fit_matrix(self._matrix(logs, catalog), _labels(logs))

    def logits(self, frame: pd.DataFrame, catalog: pd.DataFrame, with_slot: bool = True) -> dict[str, np.ndarray]:
        """``{"click": (n,), "purchase": (n,)}`` linear scores ``w . x + b`` (``scale * (w . x + b) + shift``
        with a ``recalibration``, see :func:`reward_models.stacking.select_combiner`)."""
        x = self._matrix(frame, catalog, with_slot)
        out = {head: x @ self.coef[head] + self.intercept[head] for head in HEADS}
        for head, (scale, shift) in self.recalibration.items():
            out[head] = scale * out[head] + shift
        return out

    def predict(self, frame: pd.DataFrame, catalog: pd.DataFrame,
                with_slot: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(p_click, p_purchase)`` per row, shape (n,) each; ``with_slot=False`` scores at position 0."""
        z = self.logits(frame, catalog, with_slot)
        return expit(z["click"]), expit(z["purchase"])

    @classmethod
    def fit_tuned(cls, fit_logs: pd.DataFrame, valid_logs: pd.DataFrame, catalog: pd.DataFrame,
                  grid: tuple[float, ...] = C_GRID, **kwargs: Any) -> tuple[HashedNgramBaseline, dict[str, float]]:
        """Choose ``C`` from ``grid`` by the validation rows' log-loss (click + purchase), refit on both.

        Few logs want a stronger prior (small ``C``) than many; the choice is made on the logs at hand.
        Returns the refitted baseline and ``{str(C): validation log-loss}``.

        The design matrices are built once (vocabularies of both parts; a context value only the
        validation rows hold has no fitted weight, as if unknown) and shared by every ``C``: the
        same fits as one :meth:`fit` per ``C``, without rebuilding the features each time.
        """
        from sklearn.metrics import log_loss

        both = pd.concat([fit_logs, valid_logs])
        model = cls(**kwargs)
        model._set_vocab(both, catalog)
        x_fit, x_valid = model._matrix(fit_logs, catalog), model._matrix(valid_logs, catalog)
        y_fit, y_valid = _labels(fit_logs), _labels(valid_logs)
        losses = {}
        for c in grid:
            model.C = c
            model._fit_matrix(x_fit, y_fit)
            losses[str(c)] = float(sum(log_loss(y_valid[head], expit(x_valid @ model.coef[head] + model.intercept[head]),
                                                labels=[0, 1]) for head in HEADS))
        model.C = min(grid, key=lambda c: losses[str(c)])
        # Exposure counted on the rows themselves (no seen_* columns) depends on the rows before: recount.
        own_counts = model.exposure_window and not {"seen_copy", "seen_template"} <= set(both.columns)
        x_both = model._matrix(both, catalog) if own_counts else sp.vstack([x_fit, x_valid], format="csr")
        return model._fit_matrix(x_both, _labels(both)), losses

    # ---------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, config)``: non-zero coefficients (indices, values) and the JSON-able settings."""
        tensors = {}
        for head in HEADS:
            nz = np.flatnonzero(self.coef[head])
            tensors[f"{head}.index"] = torch.from_numpy(nz.astype(np.int64))
            tensors[f"{head}.value"] = torch.from_numpy(self.coef[head][nz].astype(np.float64))
        config = {"n_features": self.n_features, "C": self.C, "crosses": self.crosses, "item": self.item,
                  "length": self.length, "surface": self.surface, "exposure_window": self.exposure_window, "seed": self.seed,
                  "ngram_range": [1, 2], "vocab": self.vocab, "intercept": self.intercept,
                  "recalibration": self.recalibration}
        return tensors, config

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> HashedNgramBaseline:
        """Rebuild a fitted baseline from :meth:`state`'s output."""
        model = cls(n_features=int(config["n_features"]), C=float(config["C"]), crosses=bool(config["crosses"]),
                    item=bool(config.get("item", False)), length=bool(config.get("length", False)),
                    surface=bool(config.get("surface", False)),
                    exposure_window=int(config.get("exposure_window", 0)), seed=int(config["seed"]),
                    vocab={k: list(v) for k, v in config["vocab"].items()},
                    intercept={k: float(v) for k, v in config["intercept"].items()},
                    recalibration={k: [float(a), float(b)] for k, (a, b) in config.get("recalibration", {}).items()})
        for head in HEADS:
            coef = np.zeros(model.n_columns, dtype=np.float64)
            coef[tensors[f"{head}.index"].numpy()] = tensors[f"{head}.value"].numpy()
            model.coef[head] = coef
        return model
