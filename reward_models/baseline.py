"""A strong-but-simple baseline: logistic regression on hashed word n-grams + one-hot context.

    x = [hash(copy word 1-2 grams), hash(segment x n-gram), hash(placement x n-gram),
         one-hot(segment, placement, (placement, position), category), log1p(price), discount_pct / 100]
    P(click) = sigmoid(w_c . x + b_c),   P(purchase) = sigmoid(w_p . x + b_p)   (both over all impressions)

Each hashed block is L2-normalized per row (``HashingVectorizer(norm="l2")``), so a long copy does
not outweigh a short one. Training always fits it beside the encoder model
(:mod:`reward_models.stacking` decides which one, or which blend, scores); ``benchmarks/bench_reward.py``
reports it on the same split.

Persistence without pickles: the hashing is stateless (rebuilt from ``n_features`` and
``ngram_range``), the context vocabularies are JSON lists, and the weights are the non-zero
coefficients as safetensors tensors (:meth:`state` / :meth:`from_state`).
"""

from __future__ import annotations

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

CONTEXT = ("segment", "placement", "slot", "category")
HEADS = ("click", "purchase")
C_GRID = (0.1, 0.3, 1.0, 3.0)  # inverse L2 strengths tried by fit_tuned


def _context(joined: pd.DataFrame, with_slot: bool) -> pd.DataFrame:
    """Context columns as strings; without the slot term every row counts as position 0."""
    n = len(joined)
    position = joined["position"] if with_slot and "position" in joined else pd.Series(0, index=joined.index)
    segment = joined["segment"].astype(str) if "segment" in joined else pd.Series(["na"] * n, index=joined.index)
    placement = joined["placement"].astype(str)
    return pd.DataFrame({"segment": segment, "placement": placement,
                         "slot": placement + "#" + position.astype(int).astype(str),
                         "category": joined["category"].astype(str)})


@dataclass
class HashedNgramBaseline:
    """Two logistic regressions (click, purchase) on hashed n-grams, their context crosses and one-hots.

    ``C`` is sklearn's inverse L2 strength; ``crosses`` adds the segment x n-gram and placement x
    n-gram blocks (copy that works for one segment or placement only).
    """

    n_features: int = 2**18
    C: float = 1.0
    crosses: bool = False
    seed: int = 0
    vocab: dict[str, list[str]] = field(default_factory=dict)
    coef: dict[str, np.ndarray] = field(default_factory=dict)  # head -> (n_columns,) dense
    intercept: dict[str, float] = field(default_factory=dict)

    # ---------------------------------------------------------------- features
    def _hashers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        words = HashingVectorizer(ngram_range=(1, 2), n_features=self.n_features, alternate_sign=False, norm="l2")
        tokens = HashingVectorizer(analyzer=lambda grams: grams, n_features=self.n_features, alternate_sign=False,
                                   norm="l2")
        return words, tokens

    @property
    def n_columns(self) -> int:
        blocks = 3 if self.crosses else 1
        return blocks * self.n_features + sum(len(v) for v in self.vocab.values()) + 2

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
        for col in CONTEXT:
            index = {v: i for i, v in enumerate(self.vocab[col])}
            codes = ctx[col].map(index)
            known = codes.notna().to_numpy()
            onehot = sp.csr_matrix((np.ones(known.sum()), (rows[known], codes[known].astype(int).to_numpy())),
                                   shape=(len(joined), len(index)))
            blocks.append(onehot)
        num = np.column_stack([np.log1p(joined["price"].to_numpy(float)),
                               joined["discount_pct"].to_numpy(float) / 100])
        blocks.append(sp.csr_matrix(num))
        return sp.hstack(blocks, format="csr")

    # ---------------------------------------------------------------- fit / predict
    def fit(self, logs: pd.DataFrame, catalog: pd.DataFrame) -> HashedNgramBaseline:
        """Fit both heads on logged rows (the slot one-hot included)."""
        ctx = _context(join_items(logs, catalog), with_slot=True)
        self.vocab = {col: sorted(ctx[col].unique().tolist()) for col in CONTEXT}
        x = self._matrix(logs, catalog)
        # Only the columns some row uses: a column no row touches gets weight 0 under L2 anyway, and
        # lbfgs over the few thousand used columns is far faster than over all hashed ones.
        used = np.unique(x.indices)
        for head, column in zip(HEADS, ("clicked", "converted"), strict=True):
            lr = LogisticRegression(C=self.C, max_iter=1000, solver="lbfgs", random_state=self.seed)
            lr.fit(x[:, used], logs[column].to_numpy())
            self.coef[head] = np.zeros(x.shape[1], dtype=np.float64)
            self.coef[head][used] = lr.coef_[0]
            self.intercept[head] = float(lr.intercept_[0])
        return self

    def logits(self, frame: pd.DataFrame, catalog: pd.DataFrame, with_slot: bool = True) -> dict[str, np.ndarray]:
        """``{"click": (n,), "purchase": (n,)}`` linear scores ``w . x + b``."""
        x = self._matrix(frame, catalog, with_slot)
        return {head: x @ self.coef[head] + self.intercept[head] for head in HEADS}

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
        """
        from sklearn.metrics import log_loss

        losses = {}
        for c in grid:
            p_click, p_purchase = cls(C=c, **kwargs).fit(fit_logs, catalog).predict(valid_logs, catalog)
            losses[str(c)] = float(log_loss(valid_logs["clicked"], p_click, labels=[0, 1])
                                   + log_loss(valid_logs["converted"], p_purchase, labels=[0, 1]))
        best = min(grid, key=lambda c: losses[str(c)])
        return cls(C=best, **kwargs).fit(pd.concat([fit_logs, valid_logs]), catalog), losses

    # ---------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, config)``: non-zero coefficients (indices, values) and the JSON-able settings."""
        tensors = {}
        for head in HEADS:
            nz = np.flatnonzero(self.coef[head])
            tensors[f"{head}.index"] = torch.from_numpy(nz.astype(np.int64))
            tensors[f"{head}.value"] = torch.from_numpy(self.coef[head][nz].astype(np.float64))
        config = {"n_features": self.n_features, "C": self.C, "crosses": self.crosses, "seed": self.seed,
                  "ngram_range": [1, 2], "vocab": self.vocab, "intercept": self.intercept}
        return tensors, config

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> HashedNgramBaseline:
        """Rebuild a fitted baseline from :meth:`state`'s output."""
        model = cls(n_features=int(config["n_features"]), C=float(config["C"]), crosses=bool(config["crosses"]),
                    seed=int(config["seed"]), vocab={k: list(v) for k, v in config["vocab"].items()},
                    intercept={k: float(v) for k, v in config["intercept"].items()})
        for head in HEADS:
            coef = np.zeros(model.n_columns, dtype=np.float64)
            coef[tensors[f"{head}.index"].numpy()] = tensors[f"{head}.value"].numpy()
            model.coef[head] = coef
        return model
