"""Sample K copies per context from a causal LM: batched, left-padded, seeded, post-processed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlopt.generation.compliance import price_terms
from rlopt.generation.decode import PromptCache, end_token_ids, first_line_complete, line_break_token_ids
from rlopt.generation.postprocess import cap_length, clean_copy, repair_quality
from rlopt.generation.prompts import catalog_index, context_messages, max_chars_for
from rlopt.precision import use_bf16
from rlopt.threads import threads_for


def max_new_tokens_for(max_chars: int) -> int:
    """Token budget for a character limit: ~3 characters per token plus slack for the cleanup."""
    return int(math.ceil(max_chars / 3.0)) + 8


def chat_prompts(tokenizer, messages: list[list[dict[str, str]]]) -> list[str]:
    """Render chat messages to prompt strings with the tokenizer's chat template."""
    return [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]


def generate_copies(model, tokenizer, contexts: pd.DataFrame, catalog: pd.DataFrame,
                    placements: Mapping[str, Any], segments: Mapping[str, Any] | None = None, num: int = 1,
                    seed: int = 0, batch_size: int = 16, temperature: float = 0.8, top_p: float = 0.95, top_k: int = 50,
                    generator_name: str = "", source: str = "contexts", compliance: bool = True,
                    precision: str = "auto", stop_at_first_line: bool = True,
                    decoder: str = "rlopt", threads: int = 0, quality: bool = True,
                    resample: int = 0, claim_support: Any = None) -> pd.DataFrame:
    """Generate ``num`` copies for every context.

    Parameters
    ----------
    model, tokenizer
        From :func:`rlopt.generation.models.resolve_generator` (left padding, pad token set).
    contexts : DataFrame, shape (n, >=3)
        ``item_id, segment, placement`` (+ optional ``user_features``, carried through).
    catalog : DataFrame
        Contract catalog (``title, brand, category, price, discount_pct, attributes``).
    placements : mapping name -> Placement
        Character limits (``max_chars``).
    segments : mapping name -> Segment or str, optional
        Segment descriptions for the prompt; the segment name is used when missing.
    num : int
        Samples per context (``num_return_sequences``).
    seed : int
        Batch ``b`` samples under ``torch.manual_seed(seed + b)``, so the same seed, batch size and
        device give identical copies.
    compliance : bool, default True
        Repair misleading discount claims after cleaning (:func:`rlopt.generation.compliance.repair`
        against the item's list price, real discount and currency); copy that cannot be repaired falls back
        to the item title. Off: the cleaned text is shown as the model wrote it.
    quality : bool, default True
        After the compliance repair, repair the defects of :mod:`rlopt.generation.quality`
        (:func:`rlopt.generation.postprocess.repair_quality`: links, contacts, leaked
        instructions, empty slots, doubled words, a dangling tail); copy it rejects falls back to
        the item title. Off: ``quality_action`` is ``off``.
    temperature : float
        Sampling temperature; ``0`` is greedy decoding (every sample of a context is then the
        same). Negative values are an error.
    precision : {"auto", "fp32", "bf16"}
        Sampling of an fp32 model runs under bf16 autocast when ``"bf16"``, or ``"auto"`` and the
        device computes bf16 natively (:mod:`rlopt.precision`; 1.4x faster on such a CPU). A model
        already in a 16-bit dtype runs as it is.
    stop_at_first_line : bool, default True
        End a sample once its first line with content is complete
        (:func:`rlopt.generation.decode.first_line_complete`): only that line is shown, so the copies
        are the same as without the stop, at a fraction of the decoding.
    decoder : {"rlopt", "transformers"}
        ``"rlopt"``: :func:`rlopt.generation.decode.sample_tokens` (the batch's common prompt prefix
        encoded once, each prompt once for its ``num`` samples, finished rows dropped from the
        batch). ``"transformers"``: the model's own ``generate`` with ``num_return_sequences`` and
        no first-line stop (the baseline the benchmark compares against; other samples for the
        same seed).
    threads : int, default 0
        torch CPU threads while decoding; 0 chooses them from the cores that are free now
        (:func:`rlopt.threads.choose_threads`: one per idle core, so a busy machine's descheduled
        threads do not stall every decode step). The copies do not depend on it.
    claim_support : rlopt.generation.claims.ClaimSupport, optional
        After the repairs, a copy stating a claim (a number or a fact phrase) that its item's catalog
        row and the shop's logged copy do not back ("Loved by 10,000+ shoppers" for an item the shop never said it of) is
        rejected like a defective one (``quality_action`` ``unbacked``: title, or a new sample with
        ``resample``). None: claims are not checked.
    resample : int, default 0
        Rounds of fresh samples for the copies that would fall back to the item title (cleaned to
        nothing, unrepairable claim, or rejected for a defect): round ``r`` samples each such copy
        again under seed ``seed + r * RESAMPLE_SEED_STEP`` and keeps the new sample when it does not
        fall back itself. The title is shown only after every round failed. 0: no resampling; the
        first round's copies are the same either way.

    Returns
    -------
    DataFrame, shape (n * num, ...)
        The context columns + ``copy_text, raw_copy_text, compliance_action, generator,
        sample_idx``. ``copy_text`` is what is shown and fits its placement's ``max_chars``;
        ``raw_copy_text`` is the cleaned model output before the compliance repair (what the model
        itself wrote), ``compliance_action`` one of ``ok, corrected, removed, unrepairable, empty``
        (``off`` when compliance is off), ``quality_action`` one of ``ok, repaired, rejected, unbacked,
        empty`` (``off`` when quality is off; ``ok`` where compliance already replaced an unrepairable
        copy by the title). A sample that cleans to nothing (``empty``: there was
        nothing to check), or cannot be repaired, or is rejected for its defects, falls back to the item
        title. ``title_fallback`` (bool) marks the copies that show the title after all rounds,
        ``resample_round`` the round whose sample is shown (0: the first). ``attrs`` holds
        ``title_fallbacks`` (after the rounds), ``compliance`` and ``quality`` (count per action in
        the first round) and, with ``resample``, ``resample`` (``rounds``, ``tried``: samples drawn
        again, ``recovered``: copies no longer on the title, ``title_fallbacks_first``: before the rounds).
    """
    import torch

    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if not temperature >= 0:  # also catches NaN
        from rlopt.errors import InputError

        raise InputError(f"temperature must be >= 0 (0 = greedy decoding), got {temperature}",
                         column="temperature", rule="temperature >= 0", value=temperature)
    contexts = contexts.reset_index(drop=True)
    messages = context_messages(contexts, catalog, placements, segments, source=source)
    prompts = chat_prompts(tokenizer, messages)
    limits = [max_chars_for(placements, p) for p in contexts["placement"]]
    device = next(model.parameters()).device
    autocast = next(model.parameters()).dtype == torch.float32 and use_bf16(precision, device.type)
    texts: list[str] = [""] * (len(contexts) * num)
    # Group by placement so each batch gets a token budget that fits its own limit.
    order = sorted(range(len(contexts)), key=lambda i: (limits[i], i))
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    items = catalog_index(catalog)
    item_ids = contexts["item_id"].astype(str).tolist()
    titles = [items[str(i)]["title"] for i in contexts["item_id"]]
    all_terms = price_terms(catalog)
    terms = [all_terms[i] for i in item_ids]
    raws: list[str] = [""] * len(texts)
    actions: list[str] = ["ok" if compliance else "off"] * len(texts)
    qualities: list[str] = ["ok" if quality else "off"] * len(texts)
    fallback = [False] * len(texts)
    rounds = [0] * len(texts)
    if decoder not in ("rlopt", "transformers"):
        raise ValueError(f"unknown decoder {decoder!r}; valid: rlopt, transformers")
    break_ids = line_break_token_ids(tokenizer) if stop_at_first_line else []
    row_done = (lambda toks: first_line_complete(tokenizer.decode(toks, skip_special_tokens=True))) \
        if stop_at_first_line else None
    stop_ids = end_token_ids(model, tokenizer)
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "stop_ids": stop_ids,
                "row_done": row_done, "check_ids": break_ids}

    def finish(i: int, decoded: str) -> tuple[str, str, str, str, bool]:
        """Context ``i``'s sample as shown: ``(text, raw, compliance action, quality action, title fallback)``."""
        raw = text = clean_copy(decoded, limits[i])
        action, kept = ("ok" if compliance else "off"), ("ok" if quality else "off")
        if compliance and text:
            text, action = terms[i].repair(text, limits[i])
        elif compliance:  # nothing came out: "ok" would claim a checked copy is shown
            action = "empty"
        if quality and text:  # after compliance: a removed claim can leave a dangling tail
            text, kept = repair_quality(text, limits[i])
        elif quality and not raw:  # compliance's own fallback (unrepairable) stays "ok" here
            kept = "empty"
        if claim_support is not None and text and claim_support.unsupported(text, item_ids[i]):
            text, kept = "", "unbacked"  # a fact of another item: never shown
        if not text:  # nothing usable (or honest) came out: show the title, not an empty slot
            return cap_length(str(titles[i]), limits[i]), raw, action, kept, True
        return text, raw, action, kept, False

    tried = 0
    first_round: list[Any] = [Counter(), Counter(), 0]  # compliance and quality actions, title fallbacks
    reuse = decoder == "rlopt" and resample > 0  # the rounds sample again from each batch's encoded prompts
    was_training = model.training
    model.eval()
    try:
        with threads_for("decode", threads, device=device.type):
            for b, idx in enumerate(batches):
                batch_prompts = [prompts[i] for i in idx]
                torch.manual_seed(seed + b)
                budget = max_new_tokens_for(max(limits[i] for i in idx))
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    if decoder == "rlopt":
                        ids = tokenizer(batch_prompts, add_special_tokens=False)["input_ids"]
                        encoded = PromptCache(model, ids, tokenizer.pad_token_id)
                        new = encoded.sample(num=num, max_new_tokens=budget, keep=reuse, **sampling)
                    else:
                        enc = tokenizer(batch_prompts, return_tensors="pt", padding=True,
                                        add_special_tokens=False).to(device)
                        # transformers rejects T = 0, and greedy search returns one sequence per prompt
                        options = ({"do_sample": True, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                                    "num_return_sequences": num} if temperature > 0 else {"do_sample": False})
                        out = model.generate(**enc, **options, max_new_tokens=budget,
                                             pad_token_id=tokenizer.pad_token_id)
                        if temperature <= 0:
                            out = out.repeat_interleave(num, dim=0)
                        new = out[:, enc["input_ids"].shape[1]:]
                    decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
                    for j, i in enumerate(idx):
                        for k in range(num):
                            r = i * num + k
                            texts[r], raws[r], actions[r], qualities[r], fallback[r] = finish(i, decoded[j * num + k])
                            first_round[0][actions[r]] += 1
                            first_round[1][qualities[r]] += 1
                            first_round[2] += fallback[r]
                    for rnd in range(1, resample + 1 if reuse else 1):
                        # the batch's copies on the title get one new sample each, from the prompts encoded above
                        again = [(j, i * num + k) for j, i in enumerate(idx) for k in range(num) if fallback[i * num + k]]
                        if not again:
                            break
                        tried += len(again)
                        torch.manual_seed(seed + rnd * RESAMPLE_SEED_STEP + b)
                        redo = tokenizer.batch_decode(
                            encoded.sample([j for j, _ in again], max_new_tokens=budget, keep=rnd < resample,
                                           **sampling), skip_special_tokens=True)
                        for (j, r), text in zip(again, redo, strict=True):
                            shown = finish(idx[j], text)
                            if not shown[4]:  # the new sample is kept only where it does not fall back itself
                                texts[r], raws[r], actions[r], qualities[r], fallback[r] = shown
                                rounds[r] = rnd
    finally:
        model.train(was_training)
    rows = contexts.loc[contexts.index.repeat(num)].reset_index(drop=True)
    rows["copy_text"] = texts
    rows["raw_copy_text"] = raws
    rows["compliance_action"] = actions
    rows["quality_action"] = qualities
    rows["generator"] = generator_name
    rows["sample_idx"] = list(range(num)) * len(contexts)
    rows["title_fallback"] = fallback
    rows["resample_round"] = rounds
    rows.attrs["title_fallbacks"] = int(sum(fallback))
    rows.attrs["quality"] = {a: first_round[1][a] for a in QUALITY_ACTIONS if first_round[1][a]}
    rows.attrs["compliance"] = {a: first_round[0][a] for a in COMPLIANCE_ACTIONS if first_round[0][a]}
    if reuse:
        rows.attrs["resample"] = {"rounds": int(resample), "tried": tried, "recovered": first_round[2] - sum(fallback),
                                  "title_fallbacks_first": first_round[2]}
    elif resample > 0:  # the transformers decoder: the fallbacks go through generate again
        again = {"batch_size": batch_size, "temperature": temperature, "top_p": top_p, "top_k": top_k,
                 "generator_name": generator_name, "source": source, "compliance": compliance,
                 "precision": precision, "stop_at_first_line": stop_at_first_line, "decoder": decoder,
                 "threads": threads, "quality": quality, "claim_support": claim_support}
        rows = _resample_fallbacks(rows, model, tokenizer, contexts, catalog, placements, segments, num, seed,
                                   resample, again)
    return rows


#: ``compliance_action`` and ``quality_action`` values, in the order the counts list them.
COMPLIANCE_ACTIONS = ("ok", "corrected", "removed", "unrepairable", "empty", "off")
QUALITY_ACTIONS = ("ok", "repaired", "rejected", "unbacked", "empty", "off")
#: Seed offset between resampling rounds (far from the batch offsets ``seed + b`` of one round).
RESAMPLE_SEED_STEP = 1_000_003
_RESAMPLED_COLUMNS = ["copy_text", "raw_copy_text", "compliance_action", "quality_action", "title_fallback"]


def _resample_fallbacks(rows: pd.DataFrame, model, tokenizer, contexts: pd.DataFrame, catalog: pd.DataFrame,
                        placements: Mapping[str, Any], segments: Mapping[str, Any] | None, num: int, seed: int,
                        rounds: int, kwargs: dict[str, Any]) -> pd.DataFrame:
    """Sample the title-fallback copies of ``rows`` again (``rounds`` rounds); see ``resample``."""
    first = int(rows["title_fallback"].sum())
    tried = 0
    for r in range(1, rounds + 1):
        bad = np.flatnonzero(rows["title_fallback"].to_numpy(bool))
        if not len(bad):
            break
        tried += len(bad)
        sub = contexts.iloc[bad // num].reset_index(drop=True)  # one new sample per copy that fell back
        new = generate_copies(model, tokenizer, sub, catalog, placements, segments, num=1,
                              seed=seed + r * RESAMPLE_SEED_STEP, resample=0, **kwargs)
        good = ~new["title_fallback"].to_numpy(bool)
        target = rows.index[bad[good]]
        for col in _RESAMPLED_COLUMNS:
            rows.loc[target, col] = new.loc[good, col].to_numpy()
        rows.loc[target, "resample_round"] = r
    rows["title_fallback"] = rows["title_fallback"].astype(bool)
    last = int(rows["title_fallback"].sum())
    rows.attrs["title_fallbacks"] = last
    rows.attrs["resample"] = {"rounds": int(rounds), "tried": int(tried), "recovered": first - last,
                              "title_fallbacks_first": first}
    return rows
