"""Sample K copies per context from a causal LM: batched, left-padded, seeded, post-processed."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from rlopt.generation.compliance import repair
from rlopt.generation.postprocess import cap_length, clean_copy
from rlopt.generation.prompts import catalog_index, context_messages, max_chars_for
from rlopt.precision import use_bf16


def max_new_tokens_for(max_chars: int) -> int:
    """Token budget for a character limit: ~3 characters per token plus slack for the cleanup."""
    return int(math.ceil(max_chars / 3.0)) + 8


class FirstLineDone:
    """Stopping criterion: a sequence is done once its first line with content has ended.

    Only :func:`rlopt.generation.postprocess.first_line` of a sample is ever shown, so every token
    after that line's break is wasted compute. The criterion marks such sequences finished (TRL and
    ``generate`` then pad them) and ``generate`` returns when all are; the kept line is unchanged,
    since sampling draws for the whole batch at every step whichever rows are finished.

    Parameters
    ----------
    tokenizer
        Decodes the new tokens of a row whose last token holds a line break (the only rows checked).
    prompt_length : int
        Columns of ``input_ids`` that belong to the (left-padded) prompt.
    break_ids : Tensor, shape (n,)
        :func:`line_break_token_ids` of the tokenizer (computed once per vocabulary by the caller).
    """

    def __init__(self, tokenizer, prompt_length: int, break_ids):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.break_ids = break_ids

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if input_ids.shape[1] <= self.prompt_length:
            return done
        ended = torch.isin(input_ids[:, -1], self.break_ids.to(input_ids.device))
        for row in ended.nonzero().flatten().tolist():
            text = self.tokenizer.decode(input_ids[row, self.prompt_length:], skip_special_tokens=True)
            done[row] = bool(re.search(r"\w", text[: text.rfind("\n")]))  # a finished line with content
        return done


def line_break_token_ids(tokenizer) -> list[int]:
    """Ids of every vocabulary token whose text contains a line break (``"\\n"``, ``".\\n"``, ...)."""
    return [i for i, text in enumerate(tokenizer.batch_decode([[i] for i in range(len(tokenizer))]))
            if "\n" in text]


def shared_prompt_inputs(model, enc, num: int) -> dict[str, Any]:
    """``generate`` inputs for ``num`` samples per prompt that encode each prompt only once.

    The prompt minus its last token runs through the model once; its key/value cache is repeated
    ``num`` times per row, and ``generate`` continues from it with the prompts repeated the same
    way (``repeat_interleave``, the row order of ``num_return_sequences``), so only the last prompt
    token and the samples are computed per sequence.

    Parameters
    ----------
    model
        A causal LM in eval mode.
    enc : mapping
        Left-padded ``input_ids`` and ``attention_mask``, shape (batch, length).
    num : int
        Samples per prompt.

    Returns
    -------
    dict
        ``input_ids`` and ``attention_mask`` of shape (batch * num, length) and the cache, under
        the keyword this transformers version's ``generate`` takes (``cache`` or ``past_key_values``).
    """
    import inspect

    ids, mask = enc["input_ids"], enc["attention_mask"]
    # Positions as generate computes them for left padding (padding slots get 0).
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                use_cache=True, logits_to_keep=1)  # the logits are not needed: keep one position, not 130
    cache = getattr(out, "cache", None) or out.past_key_values
    cache.batch_repeat_interleave(num)
    return {"input_ids": ids.repeat_interleave(num, dim=0), "attention_mask": mask.repeat_interleave(num, dim=0),
            key: cache}


def chat_prompts(tokenizer, messages: list[list[dict[str, str]]]) -> list[str]:
    """Render chat messages to prompt strings with the tokenizer's chat template."""
    return [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]


def generate_copies(model, tokenizer, contexts: pd.DataFrame, catalog: pd.DataFrame,
                    placements: Mapping[str, Any], segments: Mapping[str, Any] | None = None, num: int = 1,
                    seed: int = 0, batch_size: int = 16, temperature: float = 0.8, top_p: float = 0.95,
                    generator_name: str = "", source: str = "contexts", compliance: bool = True,
                    precision: str = "auto", stop_at_first_line: bool = True,
                    share_prompt: bool = True) -> pd.DataFrame:
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
        against the item's list price and real discount); copy that cannot be repaired falls back
        to the item title. Off: the cleaned text is shown as the model wrote it.
    precision : {"auto", "fp32", "bf16"}
        Sampling of an fp32 model runs under bf16 autocast when ``"bf16"``, or ``"auto"`` and the
        device computes bf16 natively (:mod:`rlopt.precision`; 1.4x faster on such a CPU). A model
        already in a 16-bit dtype runs as it is.
    stop_at_first_line : bool, default True
        End each sample once its first line with content is complete (:class:`FirstLineDone`): the
        copies are the same as without it, and a batch returns as soon as all its rows are done
        instead of running to the token budget.
    share_prompt : bool, default True
        With ``num > 1``, encode each prompt once and give its ``num`` samples copies of that
        prompt's key/value cache (:func:`shared_prompt_inputs`) instead of encoding it ``num``
        times; the prompt is most of the compute (~130 tokens against ~15-40 sampled).

    Returns
    -------
    DataFrame, shape (n * num, ...)
        The context columns + ``copy_text, raw_copy_text, compliance_action, generator,
        sample_idx``. ``copy_text`` is what is shown and fits its placement's ``max_chars``;
        ``raw_copy_text`` is the cleaned model output before the compliance repair (what the model
        itself wrote), ``compliance_action`` one of ``ok, corrected, removed, unrepairable`` (``off``
        when compliance is off). A sample that cleans to nothing, or cannot be repaired, falls back
        to the item title. ``attrs`` holds ``title_fallbacks`` and ``compliance`` (count per action).
    """
    import torch
    from transformers import StoppingCriteriaList

    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
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
    titles = [items[str(i)]["title"] for i in contexts["item_id"]]
    prices = [float(items[str(i)]["price"]) for i in contexts["item_id"]]
    discounts = [float(items[str(i)]["discount_pct"]) for i in contexts["item_id"]]
    raws: list[str] = [""] * len(texts)
    actions: list[str] = ["ok" if compliance else "off"] * len(texts)
    n_fallback = 0
    break_ids = torch.tensor(line_break_token_ids(tokenizer), dtype=torch.long) if stop_at_first_line else None
    was_training = model.training
    model.eval()
    try:
        for b, idx in enumerate(batches):
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
            torch.manual_seed(seed + b)
            stops = [FirstLineDone(tokenizer, enc["input_ids"].shape[1], break_ids)] if stop_at_first_line else []
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                inputs = shared_prompt_inputs(model, enc, num) if share_prompt and num > 1 else \
                    {**enc, "num_return_sequences": num}
                out = model.generate(**inputs, do_sample=True, temperature=temperature, top_p=top_p,
                                     max_new_tokens=max_new_tokens_for(max(limits[i] for i in idx)),
                                     pad_token_id=tokenizer.pad_token_id,
                                     stopping_criteria=StoppingCriteriaList(stops))
            new = out[:, enc["input_ids"].shape[1]:]
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, i in enumerate(idx):
                for k in range(num):
                    raw = text = clean_copy(decoded[j * num + k], limits[i])
                    if compliance and text:
                        text, actions[i * num + k] = repair(text, prices[i], discounts[i], limits[i])
                    if not text:  # nothing usable (or honest) came out: show the title, not an empty slot
                        text = cap_length(str(titles[i]), limits[i])
                        n_fallback += 1
                    texts[i * num + k] = text
                    raws[i * num + k] = raw
    finally:
        model.train(was_training)
    rows = contexts.loc[contexts.index.repeat(num)].reset_index(drop=True)
    rows["copy_text"] = texts
    rows["raw_copy_text"] = raws
    rows["compliance_action"] = actions
    rows["generator"] = generator_name
    rows["sample_idx"] = list(range(num)) * len(contexts)
    rows.attrs["title_fallbacks"] = n_fallback
    rows.attrs["compliance"] = {a: actions.count(a) for a in ("ok", "corrected", "removed", "unrepairable", "off")
                                if a in actions}
    return rows
