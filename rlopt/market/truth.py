"""The ground-truth response model: how simulated shoppers react to a piece of copy.

This is the world of the simulator. The simulator uses it to draw clicks and purchases; evaluators
reach it only through :mod:`rlopt.market.oracle`. Training code (reward_models/, rlopt/tuning
trainers, rlopt/policies) must never import this module or the oracle (``tests/market/
test_oracle_boundary.py`` enforces it).

Model
-----
With ``f`` the text features of the visible copy (see :mod:`rlopt.market.text_features`; copy longer
than the placement's ``max_chars`` is cut first) and ``t`` the shopper's effective taste
(``t_k = segment.taste[k] + user_gain * (u_j - segment.user_means[j])`` for the user feature ``j``
tied to lexicon ``k``)::

    click logit  = base[placement] + cat_aff[seg, category] + tier_aff[seg, tier]
                 + w_rel * relevance - w_off * off_topic + w_benefit * benefit + w_cta * cta
                 + w_claim * t_discount * min(claim, 70) / 100
                 + w_lex * (sum_k t_k * lex_k + t_brand * brand_hit)
                 - w_trunc * truncated - w_rep * repetition - w_gib * gibberish - w_short * too_short
                 - w_stuff * stuffing - w_shout * shouting - w_fill * underfill - w_mixed * mixed
                 - w_other * other_brand - w_defect * defects         (empty copy: logit = truth.empty)
    P(click | examined)   = sigmoid(click logit)
    purchase logit = purchase_base + seg.purchase_propensity + 0.5 * cat_aff
                   - seg.price_weight * (0.5 + u_price) * log(price / 50)
                   + w_real * (0.5 + u_price) * discount_pct / 100 + w_prel * relevance - 0.5 * off_topic
                   + w_acc * accurate_claim - w_over_flat * [claim > discount + 2]
                   - w_over * max(0, claim - discount) / 100 - gibberish - w_other / 2 * other_brand
    P(purchase | click)   = sigmoid(purchase logit)
    P(click)              = examination[placement][position] * P(click | examined)

``claim`` is the largest discount the copy claims, in percent of the list price: "30% off", "$20 off"
(20 / price), or a claimed price ("only $29.99" -> 1 - 29.99 / price). ``underfill`` =
max(0, 0.2 - visible length / max_chars) / 0.2 (a few words lost in a big slot). ``t_quality``
also moves by ``-0.5 * user_gain * (u_price - mean)`` (price-sensitive shoppers care less for quality
talk). All weights ``w_*`` are fields of ``[truth]`` in the market config (:class:`TruthConfig`).

``defects`` counts the copy defects of the visible copy (0..4,
:func:`rlopt.generation.quality.copy_defects`) that the other terms do not already price: it leaks
the prompt or talks like an assistant, invents a URL / contact / @handle, carries punctuation junk,
or ends mid-phrase although it was not cut at ``max_chars`` (a cut is ``truncated``; repetition has
its own term): a shopper skips copy a marketer would not ship. ``w_defect`` is ``[truth] copy_defect``; it came with market
version 2 and is 0 unless a config opts in (the packaged markets do), so configs written before it
keep their behaviour.

A claimed discount is what the shopper sees, so any claim raises clicks; but the product page shows
the real price, so an over-claim (including any claim on an undiscounted item) sharply cuts purchases.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.special import expit

from rlopt.errors import InputError
from rlopt.generation.quality import defect_frame
from rlopt.market.config import USER_FEATURE_NAMES, MarketConfig
from rlopt.market.lexicon import base_vocabulary
from rlopt.market.text_features import (
    ITEM_FEATURES,
    LEXICON_NAMES,
    TEXT_FEATURES,
    catalog_words,
    cut_to_limit,
    item_features,
    item_word_sets,
    text_feature_matrix,
)

#: Which user feature moves which taste (user_gain * (u - segment mean)); quality moves against price.
_TASTE_USER_FEATURE = {"discount": "price_sensitivity", "urgency": "urgency", "eco": "eco_affinity",
                       "brand": "brand_loyalty"}
_CACHE_LIMIT = 500_000
#: Copy defects the ``copy_defect`` term counts besides ``incomplete`` (which counts only for copy
#: the truth did not cut itself); repetition has its own term.
PRICED_DEFECTS = ("leaked_instructions", "invented_url", "junk")
_F = {name: i for i, name in enumerate(TEXT_FEATURES)}
_I = {name: i for i, name in enumerate(ITEM_FEATURES)}


class GroundTruth:
    """Vectorized P(click | examined) and P(purchase | click) for a market.

    Parameters
    ----------
    config : MarketConfig
    catalog : pandas.DataFrame
        The market's catalog (``attributes`` dicts with ``key_attribute``, ``benefit``, ``noun``, ``tier``).
    """

    def __init__(self, config: MarketConfig, catalog: pd.DataFrame) -> None:
        self.config = config
        self.catalog = catalog.reset_index(drop=True)
        self.item_index = {item: i for i, item in enumerate(self.catalog["item_id"])}
        self.segment_names = list(config.segments)
        self.segment_index = {s: i for i, s in enumerate(self.segment_names)}
        self.placement_names = list(config.placements)
        self.placement_index = {p: i for i, p in enumerate(self.placement_names)}
        self.max_chars = np.array([config.placements[p].max_chars for p in self.placement_names])
        self.examination = [np.asarray(config.placements[p].examination) for p in self.placement_names]
        synonyms = {(c, a): phrases for c, spec in config.catalog.categories.items()
                    for a, phrases in spec.attribute_synonyms.items()}
        self.vocab = base_vocabulary() | catalog_words(
            list(self.catalog["title"]) + [a["key_attribute"] + " " + a["benefit"]
                                           for a in self.catalog["attributes"]]
            + [p for phrases in synonyms.values() for p in phrases])
        attrs = list(self.catalog["attributes"])
        brands = frozenset(config.catalog.brands) | frozenset(self.catalog["brand"])
        self._item_sets = [
            item_word_sets(r.title, r.brand, r.category, a["noun"], a["key_attribute"], a["benefit"],
                           brands, synonyms.get((r.category, a["key_attribute"]), ()))
            for r, a in zip(self.catalog.itertuples(index=False), attrs, strict=True)
        ]
        segs = [config.segments[s] for s in self.segment_names]
        categories = list(config.catalog.categories)
        cat_idx = self.catalog["category"].map({c: i for i, c in enumerate(categories)}).to_numpy()
        tiers = ("budget", "mid", "premium")
        tier_idx = np.array([tiers.index(a["tier"]) for a in attrs])
        cat_aff = np.array([[s.category_affinity.get(c, 0.0) for c in categories] for s in segs])
        tier_aff = np.array([[s.tier_affinity.get(t, 0.0) for t in tiers] for s in segs])
        self.seg_item_click = cat_aff[:, cat_idx] + tier_aff[:, tier_idx]  # (n_segments, n_items)
        self.seg_item_purchase = 0.5 * cat_aff[:, cat_idx]
        self.taste = np.array([[s.taste.get(k, 0.0) for k in (*LEXICON_NAMES, "brand")] for s in segs])
        self.user_means = np.array([[s.user_means.get(f, 0.5) for f in USER_FEATURE_NAMES] for s in segs])
        self.purchase_propensity = np.array([s.purchase_propensity for s in segs])
        self.price_weight = np.array([s.price_weight for s in segs])
        self.base = np.array([config.truth.placement_base.get(p, -3.0) for p in self.placement_names])
        self.price = self.catalog["price"].to_numpy(dtype=float)
        self._exam_table = np.zeros((len(self.examination), max(len(e) for e in self.examination)))
        for i, e in enumerate(self.examination):
            self._exam_table[i, : len(e)] = e
        self.discount = self.catalog["discount_pct"].to_numpy(dtype=float)
        # caches keyed by text; cleared when they pass _CACHE_LIMIT entries (novel generated copy)
        self._text_cache: dict[str, tuple[float, ...]] = {}
        self._item_cache: dict[tuple[str, int], tuple[float, ...]] = {}
        self._defect_cache: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------------ input normalization
    def _codes(self, values, index: dict[str, int], column: str) -> np.ndarray:
        codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)), use_na_sentinel=False)
        mapping = np.empty(len(uniques), dtype=np.int64)
        for j, u in enumerate(uniques):
            if u not in index:
                row = int(np.flatnonzero(codes == j)[0]) + 1
                raise InputError(f"unknown {column} '{u}'; known: {', '.join(map(str, list(index)[:12]))}"
                                 f"{' ...' if len(index) > 12 else ''}", row=row, column=column,
                                 rule=f"{column} known to the market", value=u)
            mapping[j] = index[u]
        return mapping[codes]

    def user_matrix(self, user_features, seg: np.ndarray) -> np.ndarray:
        """Numeric user features as an ``(n, len(USER_FEATURE_NAMES))`` array.

        ``None`` (or a missing entry / key) means the segment's mean; accepts an array, one dict,
        or a sequence of dicts (or JSON strings of dicts).
        """
        n = len(seg)
        means = self.user_means[seg]
        if user_features is None:
            return means
        if isinstance(user_features, np.ndarray) and user_features.dtype != object:
            arr = np.asarray(user_features, dtype=float)
            if arr.shape != (n, len(USER_FEATURE_NAMES)):
                raise InputError(f"user_features array must have shape ({n}, {len(USER_FEATURE_NAMES)})",
                                 column="user_features", rule="shape", value=arr.shape)
            return arr
        if isinstance(user_features, dict):
            user_features = [user_features] * n
        listed = list(user_features)
        if len(listed) != n:
            raise InputError(f"user_features has {len(listed)} entries, expected {n}", column="user_features",
                             rule="equal lengths")
        values = np.empty(n, dtype=object)
        values[:] = listed
        out = means.copy()
        # logs share one dict per user: parse each distinct object once
        codes, uniques = pd.factorize(np.fromiter(map(id, values), dtype=np.int64, count=n))
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(n)[::-1]
        parsed = np.full((len(uniques), len(USER_FEATURE_NAMES)), np.nan)
        for u, i in enumerate(first):
            feats = values[i]
            if isinstance(feats, str):
                try:
                    feats = json.loads(feats)
                except json.JSONDecodeError:
                    raise InputError("user_features is not a JSON object", row=int(i) + 1,
                                     column="user_features", rule="JSON object", value=feats) from None
            if isinstance(feats, dict):
                for j, name in enumerate(USER_FEATURE_NAMES):
                    value = feats.get(name)
                    if value is not None:
                        parsed[u, j] = float(value)
        rows = parsed[codes]
        return np.where(np.isnan(rows), out, rows)

    def _defects(self, texts) -> np.ndarray:
        """``(n, 2)``: each text's count of :data:`PRICED_DEFECTS`, and whether it ends mid-phrase (cached)."""
        new = [t for t in dict.fromkeys(texts) if t not in self._defect_cache]
        if new:
            found = defect_frame(pd.Series(new, dtype=object))
            priced = found[list(PRICED_DEFECTS)].to_numpy().sum(axis=1)
            rows = np.column_stack([priced, found["incomplete"].to_numpy()]).astype(float)
            self._defect_cache.update(zip(new, map(tuple, rows), strict=True))
        return np.array([self._defect_cache[t] for t in texts], dtype=float).reshape(len(texts), 2)

    # ------------------------------------------------------------------ the model
    def logits(self, copy_text, item_id, segment, placement, user_features=None,
               position=None) -> dict[str, np.ndarray]:
        """Click and purchase logits (and examination) for equal-length inputs.

        Returns
        -------
        dict with ``click_logit, purchase_logit, examination`` arrays of shape (n,)
        """
        texts = np.asarray(copy_text, dtype=object)
        missing = pd.isna(texts)
        if missing.any():
            row = int(np.flatnonzero(missing)[0]) + 1
            raise InputError("copy_text is missing", row=row, column="copy_text", rule="non-empty text")
        item = self._codes(item_id, self.item_index, "item_id")
        seg = self._codes(segment, self.segment_index, "segment")
        plc = self._codes(placement, self.placement_index, "placement")
        if not (len(item) == len(seg) == len(plc) == len(texts)):
            raise InputError("copy_text, item_id, segment and placement must have equal lengths",
                             rule="equal lengths")
        t_codes, t_uniques = pd.factorize(texts)
        users = self.user_matrix(user_features, seg)
        return self.logits_coded(t_codes, np.asarray(t_uniques, dtype=object), item, seg, plc, users, position)

    def logits_coded(self, text_code: np.ndarray, texts: np.ndarray, item: np.ndarray, seg: np.ndarray,
                     plc: np.ndarray, users: np.ndarray, position=None) -> dict[str, np.ndarray]:
        """:meth:`logits` on integer codes (the simulator's fast path).

        Everything that depends only on (text, placement, item) is computed once per distinct
        triple; taste terms are a ``(n_pairs, n_segments)`` product; per row only a few scalars
        are gathered, so a million rows over a few thousand copies cost a few array passes.

        Parameters
        ----------
        text_code : int array (n,), index into ``texts`` (distinct copy texts)
        item, seg, plc : int arrays (n,), catalog / segment / placement order of this model
        users : float array (n, len(USER_FEATURE_NAMES))
        position : int array (n,) or None (top slot)
        """
        n_plc, n_items = len(self.placement_names), len(self.item_index)
        if len(self._text_cache) > _CACHE_LIMIT or len(self._item_cache) > _CACHE_LIMIT:
            self._text_cache.clear()
            self._item_cache.clear()
            self._defect_cache.clear()
        # distinct (text, placement) -> the visible text (cut at max_chars)
        combo, combo_uniques = pd.factorize(np.asarray(text_code, dtype=np.int64) * n_plc + plc)
        visible, cut, fill = [], [], []
        for key in combo_uniques:
            limit = int(self.max_chars[key % n_plc])
            v, c = cut_to_limit(str(texts[key // n_plc]), limit)
            visible.append(v)
            cut.append(c)
            fill.append(len(v) / limit)
        v_codes, v_uniques = pd.factorize(np.asarray(visible, dtype=object))
        tf_vis = text_feature_matrix(list(v_uniques), self.vocab, self._text_cache)
        tw = self.config.truth
        defects = np.zeros(len(combo_uniques))  # per (text, placement)
        if tw.copy_defect:  # market version 2, on each distinct visible text
            found = self._defects(v_uniques)  # (n_visible, 2): priced defects, incomplete
            # a cut at max_chars is the truncated term's, not counted twice
            defects = found[v_codes, 0] + found[v_codes, 1] * (1.0 - np.asarray(cut, dtype=float))
        # distinct (text, placement, item) "pairs": every static part of the model
        pair, pair_uniques = pd.factorize(combo.astype(np.int64) * n_items + item)
        p_combo, p_item = pair_uniques // n_items, pair_uniques % n_items
        p_vis, p_plc = v_codes[p_combo], combo_uniques[p_combo] % n_plc
        tf = tf_vis[p_vis]
        itf = np.empty((len(pair_uniques), len(ITEM_FEATURES)))
        for j, (vis, it) in enumerate(zip(p_vis, p_item, strict=True)):
            key = (v_uniques[vis], int(it))
            row = self._item_cache.get(key)
            if row is None:
                row = self._item_cache[key] = item_features(key[0], self._item_sets[key[1]])
            itf[j] = row
        truncated = np.asarray(cut, dtype=float)[p_combo]
        underfill = np.maximum(0.2 - np.asarray(fill, dtype=float), 0.0)[p_combo] / 0.2

        price, disc = self.price[p_item], self.discount[p_item]
        claimed_price = tf[:, _F["price_claim"]]
        claim = np.clip(np.maximum.reduce([
            tf[:, _F["claim"]],
            100.0 * tf[:, _F["dollars_off"]] / price,
            np.where(claimed_price > 0, 100.0 * (1.0 - claimed_price / price), 0.0),
        ]), 0.0, 95.0)
        rel, off = itf[:, _I["relevance"]], itf[:, _I["off_topic"]]
        other = itf[:, _I["other_brand"]]
        benefit = np.maximum(tf[:, _F["benefit"]], itf[:, _I["item_benefit"]])
        static_click = (
            self.base[p_plc] + tw.relevance * rel - tw.off_topic * off + tw.benefit * benefit
            + tw.cta * tf[:, _F["cta"]]
            - tw.truncated * truncated - tw.repetition * np.maximum(tf[:, _F["repetition"]] - 0.1, 0.0)
            - tw.gibberish * tf[:, _F["gibberish"]] - tw.too_short * tf[:, _F["too_short"]]
            - tw.stuffing * tf[:, _F["stuffing"]] - tw.shouting * tf[:, _F["shouting"]]
            - tw.underfill * underfill - tw.other_brand * other - tw.mixed_message * tf[:, _F["mixed"]]
            - tw.copy_defect * defects[p_combo]
        )
        # taste-weighted terms: W[:, k] multiplies the shopper's effective taste for key k
        names = (*LEXICON_NAMES, "brand")
        weights = tw.lexicon * np.column_stack([tf[:, [_F[f"lex_{k}"] for k in LEXICON_NAMES]],
                                                itf[:, _I["brand_hit"]]])
        weights[:, 0] += tw.claim * np.minimum(claim, 70.0) / 100.0
        by_segment = weights @ self.taste.T  # (n_pairs, n_segments)
        click = static_click[pair] + by_segment[pair, seg] + self.seg_item_click[seg, item]
        delta = users - self.user_means[seg]
        for k, feat in _TASTE_USER_FEATURE.items():
            click += tw.user_gain * delta[:, USER_FEATURE_NAMES.index(feat)] * weights[pair, names.index(k)]
        click -= 0.5 * tw.user_gain * delta[:, 0] * weights[pair, names.index("quality")]
        click = np.where(tf[:, _F["empty"]][pair] > 0, tw.empty, click)

        over = np.where(claim > 0, np.maximum(claim - disc, 0.0), 0.0)
        accurate = (claim > 0) & (np.abs(claim - disc) <= 2.0)
        static_purchase = (
            tw.purchase_base + tw.purchase_relevance * rel - 0.5 * off
            + tw.accurate_claim * accurate - tw.overclaim_flat * (over > 2.0) - tw.overclaim * over / 100.0
            - tf[:, _F["gibberish"]] - 0.5 * tw.other_brand * other
        )
        price_term = np.log(self.price / 50.0)[item]
        purchase = (
            static_purchase[pair] + self.purchase_propensity[seg] + self.seg_item_purchase[seg, item]
            + (0.5 + users[:, 0]) * (tw.real_discount * self.discount[item] / 100.0
                                     - self.price_weight[seg] * price_term)
        )
        if position is None:
            exam = np.array([e[0] for e in self.examination])[plc]
        else:
            pos = np.asarray(position, dtype=np.int64)
            slots = np.array([len(e) for e in self.examination])[plc]
            bad = (pos < 0) | (pos >= slots)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"position {pos[row]} is outside placement "
                                 f"'{self.placement_names[plc[row]]}' (slots 0..{slots[row] - 1})",
                                 row=row + 1, column="position", rule="0 <= position < slots")
            exam = self._exam_table[plc, pos]
        return {"click_logit": click, "purchase_logit": purchase, "examination": exam}

    def attractiveness(self, *args, **kwargs) -> np.ndarray:
        """P(click | examined) = sigmoid(click logit)."""
        return expit(self.logits(*args, **kwargs)["click_logit"])

    def probabilities(self, copy_text, item_id, segment, placement, user_features=None,
                      position=None) -> dict[str, np.ndarray]:
        """``attractiveness, p_click`` (x examination) and ``p_purchase_given_click`` arrays."""
        z = self.logits(copy_text, item_id, segment, placement, user_features, position)
        attr = expit(z["click_logit"])
        return {"attractiveness": attr, "p_click": attr * z["examination"],
                "p_purchase_given_click": expit(z["purchase_logit"])}
