"""Support guard: a penalty for copy unlike anything the logs show for its item.

A reward model is only evidence where it was trained: on the kinds of copy the logging policy showed.
GRPO/RLOO search for the highest score and find the reward model's errors first, off its data —
measured in rlopt: off-task preambles ("Here is the product-page copy:") that every member of an
ensemble scored high, which no logged copy resembles. Offline RL meets the same problem with a support
constraint (stay where the behaviour policy has data: BCQ, Fujimoto et al. 2019; BEAR, Kumar et al.
2019). This guard is its text version, in a sentence-embedding space:

    s(c, i) = max_{l in L_i} cos(e(c), e(l))

with ``e`` the frozen MiniLM sentence encoder (rlopt's default reward-model encoder, from an installed
package) and ``L_i`` the distinct logged copies of item ``i`` (all logged copies for an item the logs
do not show). The threshold ``tau`` comes from the logs themselves: the ``quantile`` of every logged
copy's similarity to the nearest *other* logged copy of its item. The penalty ramps linearly from 0 at
``tau`` to -1 at similarity 0:

    r(c, i) = -min(1, max(0, tau - s(c, i)) / tau)

so copy at least as close to the item's logged copy as most logged copies are to each other is free,
and copy about nothing the logs show (similarity near 0) costs as much as the other guards' worst.

Why the quartile (``quantile=0.25``) and not a far tail: logging pools hold deliberately off-topic
filler ("Big news inside."), whose nearest other copy is far, so the low tail measures filler, not the
item's copy. On the default market's logs the nearest-other similarity has quantiles 0.10: 0.36,
0.25: 0.77, 0.50: 0.84; copy that names the item scores 0.84-0.94 against its logs, on-topic copy that
does not 0.67-0.74, the off-task preambles 0.36-0.40 (penalty about -0.5 at the quartile, none at the
0.10 quantile).

**Value-weighted support** (``top_share < 1``): the logs hold bad copy as well as good — on a shop
whose logged copy is shouting discount templates, staying near *any* logged copy pulls the generator
toward shouting and discount talk (measured on bazaar: raw misleading claims 4% -> 39% under the
plain guard). With ``top_share`` the reference set ``L_i`` keeps only the item's logged copies that
are honest (rlopt's discount rule, :func:`rlopt.generation.compliance.check`) and in the top
``top_share`` of the item's copies by logged value lift

    lift(l) = sum_g n_eff(g, l) log(m(g, l) / mbar(g)) / sum_g n_eff(g, l)

over the (item, segment, placement) groups ``g`` that showed ``l``, with ``m`` the posterior mean
value of :func:`rlopt.tuning.pairs.copy_stats` (clicks + 5 x purchases per examined impression,
shrunk toward the placement's rate) and ``mbar`` its ``n_eff``-weighted mean in the group. So the
guard asks "is this copy like copy that *worked* for the item", the support of a better behaviour
policy (as advantage-filtered behaviour cloning keeps the better actions). ``tau`` still comes from
all logged copies: it measures how close copies of one item are, not which are good.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlopt.errors import InputError
from rlopt.generation.compliance import price_terms
from rlopt.tuning.pairs import copy_stats
from rlopt.tuning.shown import dataset_column, shown_copies


def check_support_quantile(quantile: float) -> None:
    """The guard's threshold quantile must lie in (0, 1); an InputError naming ``support_quantile``."""
    if not 0.0 < quantile < 1.0:
        raise InputError(f"support_quantile ({quantile}) must be in (0, 1)", column="support_quantile")


def check_support_top_share(top_share: float) -> None:
    """The value-weighted reference share must lie in (0, 1]; an InputError naming ``support_top_share``."""
    if not 0.0 < top_share <= 1.0:
        raise InputError(f"support_top_share ({top_share}) must be in (0, 1]", column="support_top_share")


def copy_value_lift(logs: pd.DataFrame, placements: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Each distinct (item, copy)'s logged value lift over the other copies of its contexts.

    ``lift = sum_g n_eff log(m / mbar_g) / sum_g n_eff`` over the (item, segment, placement) groups
    that showed the copy (module docstring); ``m`` from :func:`rlopt.tuning.pairs.copy_stats`.

    Returns
    -------
    DataFrame
        ``item_id, copy_text, n_eff, lift``, one row per distinct logged (item, copy).
    """
    stats = copy_stats(logs, placements)
    group = ["item_id", "segment", "placement"]
    weight = stats["n_eff"].clip(lower=1e-9)
    mbar = (stats["mean"] * weight).groupby([stats[c] for c in group]).transform("sum") \
        / weight.groupby([stats[c] for c in group]).transform("sum")
    stats = stats.assign(w=weight, wlift=weight * np.log(stats["mean"] / mbar))
    out = stats.groupby(["item_id", "copy_text"], sort=True)[["w", "wlift"]].sum().reset_index()
    out["lift"] = out["wlift"] / out["w"]
    return out.rename(columns={"w": "n_eff"})[["item_id", "copy_text", "n_eff", "lift"]]


def reference_copies(logs: pd.DataFrame, placements: Mapping[str, Any] | None, top_share: float = 1.0,
                     catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """The logged copies the guard measures support against: ``item_id, copy_text``, distinct.

    ``top_share = 1``: every non-empty logged copy. Below 1: per item, the honest copies (not
    misleading for the item's real discount and price in ``catalog``) whose :func:`copy_value_lift`
    is at least the item's ``1 - top_share`` quantile (of its honest copies, so at least its best one);
    an item with no honest copy has no reference (the guard then measures it against every item's
    reference copy, as for an item the logs lack).
    """
    check_support_top_share(top_share)
    logged = logs[["item_id", "copy_text"]].astype(str).drop_duplicates()
    logged = logged[logged["copy_text"].str.strip() != ""]
    if top_share >= 1.0:
        return logged.reset_index(drop=True)
    if catalog is None:
        raise ValueError("value-weighted support (top_share < 1) needs the catalog to drop misleading copy")
    lift = copy_value_lift(logs, placements)
    lift = lift.assign(item_id=lift["item_id"].astype(str), copy_text=lift["copy_text"].astype(str))
    lift = lift[lift["copy_text"].str.strip() != ""]
    terms = price_terms(catalog)
    honest = [i not in terms or not terms[i].misleading(t)
              for i, t in zip(lift["item_id"], lift["copy_text"], strict=True)]
    lift = lift[np.asarray(honest, dtype=bool)]
    cut = lift.groupby("item_id")["lift"].transform(lambda x: np.quantile(x, 1.0 - top_share))
    keep = lift[lift["lift"] >= cut]  # the item's best copy always passes its own quantile
    return keep[["item_id", "copy_text"]].drop_duplicates().reset_index(drop=True)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nearest_other_similarity(emb: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's cosine similarity to the nearest other row of its group (NaN for a group of one).

    Parameters
    ----------
    emb : ndarray, shape (n, d)
        Unit-norm embeddings.
    groups : ndarray, shape (n,)
        Group label per row (the item).

    Examples
    --------
    >>> e = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> nearest_other_similarity(e, np.array(["a", "a", "b"])).round(2).tolist()
    [0.6, 0.6, nan]
    """
    out = np.full(len(emb), np.nan)
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        if len(rows) < 2:
            continue
        sims = emb[rows] @ emb[rows].T
        np.fill_diagonal(sims, -np.inf)
        out[rows] = sims.max(axis=1)
    return out


class LoggedSupportPenalty:
    """TRL reward function: ``-min(1, max(0, tau - s) / tau)`` for copy ``s``-similar to its item's logs.

    See the module docstring for ``s`` and ``tau``.

    Parameters
    ----------
    logs : DataFrame
        Contract logs (``item_id``, ``copy_text``): the copy the reward model was trained on.
    placements : mapping name -> Placement
        Character limits: completions are scored as shown (cleaned and capped), like the reward model's.
    quantile : float in (0, 1), default 0.25
        Which quantile of the logged copies' nearest-other similarity is ``tau``; lower is more lenient.
    encoder : str or TextEncoder, default "default"
        Sentence encoder (``reward_models.encoder.TextEncoder`` spec or instance), loaded lazily.
    top_share : float in (0, 1], default 1.0
        Share of each item's logged copies, by logged value lift, that count as support
        (:func:`reference_copies`); 1 = every logged copy. Below 1 also drops misleading copy and
        needs ``catalog`` and the logs' ``clicked`` / ``converted`` columns.
    catalog : DataFrame, optional
        ``item_id, price, discount_pct``; needed when ``top_share < 1``.

    Attributes
    ----------
    tau : float
        The threshold, computed on first use (``fit``).
    """

    __name__ = "logged_support"

    def __init__(self, logs: pd.DataFrame, placements: Mapping[str, Any], quantile: float = 0.25,
                 encoder: Any = "default", top_share: float = 1.0, catalog: pd.DataFrame | None = None):
        check_support_quantile(quantile)
        for column in ("item_id", "copy_text"):
            if column not in logs.columns:
                raise InputError(f"the support guard needs the logs column '{column}'", column=column)
        logged = reference_copies(logs, placements, 1.0)
        if logged.empty:
            raise InputError("the support guard needs logged copy; the logs have none", column="copy_text")
        self.logged_items = logged["item_id"].to_numpy()
        self.logged_texts = logged["copy_text"].tolist()
        reference = reference_copies(logs, placements, top_share, catalog)
        if reference.empty:
            raise InputError("value-weighted support kept no logged copy: every logged copy is misleading "
                             "for its item", column="copy_text")
        keys = set(zip(reference["item_id"], reference["copy_text"], strict=True))
        self.is_reference = np.array([k in keys for k in zip(self.logged_items, self.logged_texts, strict=True)])
        self.placements = dict(placements)
        self.quantile = float(quantile)
        self.top_share = float(top_share)
        self.encoder = encoder
        self.tau: float | None = None
        self._emb: np.ndarray | None = None
        self._rows: dict[str, np.ndarray] = {}
        self._all_reference = np.flatnonzero(self.is_reference)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if isinstance(self.encoder, str):
            from reward_models.encoder import TextEncoder

            self.encoder = TextEncoder(self.encoder)
        return _unit_rows(np.asarray(self.encoder.encode(texts), dtype=np.float64))

    def fit(self) -> LoggedSupportPenalty:
        """Embed the logged copies and set ``tau`` (once)."""
        if self._emb is None:
            self._emb = self._encode(self.logged_texts)
            ref = self.is_reference
            self._rows = {str(i): np.flatnonzero((self.logged_items == i) & ref)
                          for i in pd.unique(self.logged_items[ref])}
            self._all_reference = np.flatnonzero(ref)
            nearest = nearest_other_similarity(self._emb, self.logged_items)
            nearest = nearest[np.isfinite(nearest)]
            if nearest.size == 0:
                raise InputError("the support guard needs an item with two or more distinct logged copies "
                                 "to set its threshold; the logs have none", column="copy_text")
            self.tau = float(max(np.quantile(nearest, self.quantile), 1e-6))
        return self

    def similarity(self, texts: list[str], items: list[str]) -> np.ndarray:
        """``s``: each text's cosine similarity to the nearest reference copy of its item, shape (n,)."""
        self.fit()
        emb = self._encode(texts)
        out = np.empty(len(texts))
        for k, (vec, item) in enumerate(zip(emb, items, strict=True)):
            rows = self._rows.get(str(item), self._all_reference)  # an item the logs lack: all reference copy
            logged = self._emb[rows]
            out[k] = float((logged @ vec).max())
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not isinstance(state["encoder"], str):  # the spec, not the model, travels
            state["encoder"] = getattr(state["encoder"], "spec", "default")
            state["_emb"], state["_rows"], state["tau"] = None, {}, None
        return state

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        items = dataset_column(kwargs, "item_id", len(completions))
        shown = shown_copies(completions, kwargs, self.placements)
        out = np.full(len(shown), -1.0)  # empty copy: about nothing
        keep = [k for k, t in enumerate(shown) if t]
        if keep:
            sims = self.similarity([shown[k] for k in keep], [str(items[k]) for k in keep])
            out[keep] = -np.minimum(1.0, np.maximum(0.0, self.tau - sims) / self.tau)
            log_metric = kwargs.get("log_metric")
            if callable(log_metric):
                log_metric("support/similarity", float(sims.mean()))
        return out.tolist()
