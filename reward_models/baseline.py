"""A strong-but-simple baseline: logistic regression on hashed word n-grams + one-hot context.

    x = [HashingVectorizer(copy, word 1-2 grams, 2^18 features), one-hot(segment, placement,
         (placement, position), category), log1p(price), discount_pct / 100]
    P(click) = sigmoid(w_c . x),   P(purchase) = sigmoid(w_p . x)   (both over all impressions)

Same split, same run as the reward model in ``benchmarks/bench_reward.py``: the reward model has to
beat it on log-loss to be worth its encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from reward_models.inputs import join_items

CONTEXT = ("segment", "placement", "slot", "category")


@dataclass
class HashedNgramBaseline:
    """Two logistic regressions (click, purchase) on hashed n-grams and context one-hots."""

    n_features: int = 2**18
    C: float = 1.0
    seed: int = 0

    def _context(self, joined: pd.DataFrame) -> pd.DataFrame:
        position = joined["position"] if "position" in joined else pd.Series(0, index=joined.index)
        ctx = pd.DataFrame({
            "segment": joined["segment"].astype(str) if "segment" in joined else "na",
            "placement": joined["placement"].astype(str),
            "slot": joined["placement"].astype(str) + "#" + position.astype(str),
            "category": joined["category"].astype(str),
        })
        return ctx[list(CONTEXT)]

    def _matrix(self, frame: pd.DataFrame, catalog: pd.DataFrame, fit: bool) -> sp.csr_matrix:
        joined = join_items(frame, catalog)
        text = self.vectorizer.transform(joined["copy_text"].astype(str))
        ctx = self._context(joined)
        onehot = self.onehot.fit_transform(ctx) if fit else self.onehot.transform(ctx)
        num = np.column_stack([np.log1p(joined["price"].to_numpy(float)),
                               joined["discount_pct"].to_numpy(float) / 100])
        return sp.hstack([text, onehot, sp.csr_matrix(num)], format="csr")

    def fit(self, logs: pd.DataFrame, catalog: pd.DataFrame) -> HashedNgramBaseline:
        self.vectorizer = HashingVectorizer(ngram_range=(1, 2), n_features=self.n_features,
                                            alternate_sign=False, norm="l2")
        self.onehot = OneHotEncoder(handle_unknown="ignore")
        x = self._matrix(logs, catalog, fit=True)
        kw = dict(C=self.C, max_iter=1000, solver="lbfgs", random_state=self.seed)
        self.click = LogisticRegression(**kw).fit(x, logs["clicked"].to_numpy())
        self.purchase = LogisticRegression(**kw).fit(x, logs["converted"].to_numpy())
        return self

    def predict(self, frame: pd.DataFrame, catalog: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(p_click, p_purchase)`` per row, shape (n,) each (logged rows: slot one-hot included)."""
        x = self._matrix(frame, catalog, fit=False)
        return self.click.predict_proba(x)[:, 1], self.purchase.predict_proba(x)[:, 1]
