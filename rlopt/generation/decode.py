"""Batched sampling from a causal LM that stops computing rows as soon as they are finished.

``transformers``' ``generate`` keeps every row of a batch in every forward pass until the last row
is done (finished rows are fed padding), and encodes a prompt once per requested sample. For
short copy behind long prompts on a CPU both are most of the cost, so :func:`sample_tokens`

1. encodes the batch's common prompt prefix (the system prompt and chat-template head) once,
   each prompt's remainder once, and repeats the key/value cache for its ``num`` samples;
2. drops a row from the batch (and its cache) the step it finishes — at an end token, or when a
   ``row_done`` check says so (:func:`first_line_complete`: the first line with content has ended);
3. samples with temperature, top-k and top-p (nucleus) as ``generate`` does, by inverse CDF from
   one uniform number per row and step drawn for the *whole* batch, so a row's tokens depend only
   on the seed and its own history, never on which other rows have finished.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence

from rlopt.generation.postprocess import first_line

_BREAK_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> its line-break ids


def line_break_token_ids(tokenizer) -> list[int]:
    """Ids of every vocabulary token whose text contains a line break (``"\\n"``, ``".\\n"``, ...).

    Decoding the whole vocabulary takes ~0.7 s for SmolLM2's 49k tokens, so the answer is kept per
    tokenizer object (and recomputed if its vocabulary grows).
    """
    cached = _BREAK_IDS.get(tokenizer)
    if cached is None or cached[0] != len(tokenizer):
        ids = [i for i, text in enumerate(tokenizer.batch_decode([[i] for i in range(len(tokenizer))]))
               if "\n" in text]
        cached = _BREAK_IDS[tokenizer] = (len(tokenizer), ids)
    return list(cached[1])


def end_token_ids(model, tokenizer) -> list[int]:
    """The model's end-of-sequence ids (``generation_config.eos_token_id``, an int or a list), with
    the tokenizer's EOS first when the config lacks it."""
    eos = model.generation_config.eos_token_id
    ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.insert(0, tokenizer.eos_token_id)
    return ids


def first_line_complete(text: str) -> bool:
    """True once ``text`` holds a finished line with content (letters or digits before a line break).

    :func:`rlopt.generation.postprocess.first_line` of such a text can no longer change, whatever
    follows.

    >>> first_line_complete("Fresh shoes\\n"), first_line_complete("\\n\\n"), first_line_complete("Fresh")
    (True, False, False)
    """
    cut = text.rfind("\n")
    return cut >= 0 and first_line(text[:cut]) != ""


def filter_and_sample(logits, uniform, temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0):
    """One token per row: temperature, then top-k, then top-p, then inverse-CDF sampling.

    Parameters
    ----------
    logits : Tensor, shape (rows, vocab)
    uniform : Tensor, shape (rows,)
        One U(0, 1) draw per row; the token is the first whose cumulative probability exceeds it.
    temperature, top_k, top_p
        As in ``transformers``: ``p_i ∝ exp(logit_i / T)`` over the ``top_k`` most likely tokens,
        then the smallest prefix of them whose mass reaches ``top_p`` (at least one token).
        ``temperature <= 0`` is greedy decoding (the limit T -> 0): the most likely token, with
        ``uniform`` unused.

    Returns
    -------
    Tensor, shape (rows,)
        Token ids.
    """
    import torch

    if temperature <= 0:  # dividing by a tiny T instead would overflow to inf / NaN in half precision
        return logits.argmax(dim=-1)
    logits = logits.float() / float(temperature)
    k = logits.shape[-1] if top_k <= 0 else min(int(top_k), logits.shape[-1])
    values, ids = torch.topk(logits, k, dim=-1)  # sorted, most likely first
    probs = torch.softmax(values, dim=-1)
    if top_p < 1.0:
        outside = (torch.cumsum(probs, dim=-1) - probs) >= top_p  # mass before this token already >= top_p
        probs = probs.masked_fill(outside, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    pick = (torch.cumsum(probs, dim=-1) < uniform[:, None]).sum(dim=-1).clamp(max=k - 1)
    return ids.gather(1, pick[:, None]).squeeze(1)


def _cache_of(out):
    """The key/value cache a forward returned (``cache`` in newer transformers, else ``past_key_values``)."""
    return out.cache if hasattr(out, "cache") else out.past_key_values


def _cache_keyword(model) -> str:
    """The forward keyword for a key/value cache: ``cache`` in newer transformers, else ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def common_prefix_length(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all ``seqs`` share.

    >>> common_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    """
    if not seqs:
        return 0
    n = min(len(q) for q in seqs)
    first = seqs[0]
    for i in range(n):
        if any(q[i] != first[i] for q in seqs):
            return i
    return n


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int, device=None):
    """``(input_ids, attention_mask)``, shape (len(seqs), longest): sequences right-aligned, mask 0 on padding."""
    import torch

    width = max(len(q) for q in seqs)
    ids = torch.full((len(seqs), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, q in enumerate(seqs):
        if q:
            ids[r, width - len(q):] = torch.as_tensor(list(q), dtype=torch.long)
            mask[r, width - len(q):] = 1
    return ids.to(device), mask.to(device)


def _positions(mask):
    """Positions as ``generate`` computes them: the count of real tokens before each (0 on padding)."""
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)


def prefill(model, prompts: Sequence[Sequence[int]], pad_id: int, device=None, min_shared: int = 8):
    """Run the prompts through the model once; return ``(cache, last_logits, attention_mask, last_position)``.

    When the prompts share a prefix of at least ``min_shared`` tokens (the system prompt, the chat
    template's head), it is encoded once and its cache repeated for every row; each row's remainder
    is then encoded left-padded *after* the prefix (mask ``[1] * prefix + [0] * pad + [1] * rest``,
    positions counting real tokens only), so every real token keeps its position and its context.
    The same tokens as encoding each whole prompt, with the prefix computed once instead of per row.

    Returns
    -------
    cache
        The model's key/value cache for every row.
    last_logits : Tensor, shape (rows, vocab)
        Next-token logits after each prompt.
    attention_mask : Tensor, shape (rows, cache length)
    last_position : Tensor, shape (rows,)
        Position of each prompt's last token.
    """
    import torch

    key = _cache_keyword(model)
    # Only the last position's logits are needed: skip the LM head elsewhere where the model allows it.
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    shared = min(common_prefix_length(prompts), min(len(q) for q in prompts) - 1)
    if len(prompts) > 1 and shared >= min_shared:
        head = torch.as_tensor([list(prompts[0][:shared])], dtype=torch.long, device=device)
        out = model(input_ids=head, position_ids=torch.arange(shared, device=device)[None], use_cache=True,
                    **last_only)
        cache = _cache_of(out)
        cache.batch_repeat_interleave(len(prompts))
        rest, rest_mask = left_pad([q[shared:] for q in prompts], pad_id, device)
        mask = torch.cat([torch.ones((len(prompts), shared), dtype=torch.long, device=device), rest_mask], dim=1)
        positions = _positions(mask)
        out = model(input_ids=rest, attention_mask=mask, position_ids=positions[:, shared:], use_cache=True,
                    **last_only, **{key: cache})
    else:
        ids, mask = left_pad(prompts, pad_id, device)
        positions = _positions(mask)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **last_only)
        cache = _cache_of(out)
    return cache, out.logits[:, -1, :], mask, positions[:, -1]


class PromptCache:
    """Prompts encoded once (:func:`prefill`), sampled from as often as needed.

    :func:`sample_tokens` samples every prompt once; a caller that samples some prompts again (the
    copies that fell back to the item title, ``generate_copies(resample=...)``) keeps the encoded
    prompts and samples the chosen ones again without encoding them a second time -- on a CPU with
    long few-shot prompts, encoding is most of a sample's cost.

    Parameters
    ----------
    model, prompts, pad_id, share_prefix
        As for :func:`sample_tokens`.
    """

    def __init__(self, model, prompts: Sequence[Sequence[int]], pad_id: int, *, share_prefix: bool = True) -> None:
        self.model = model
        self.n = len(prompts)
        self.device = next(model.parameters()).device
        self.cache, self.logits, self.mask, self.last_pos = prefill(
            model, prompts, pad_id, self.device, min_shared=8 if share_prefix else 10**9)

    def sample(self, rows: Sequence[int] | None = None, *, num: int = 1, keep: bool = False,
               **options) -> list[list[int]]:
        """Sample ``num`` continuations of the prompts ``rows`` (default: all, in order).

        ``keep``: leave the encoded prompts as they are for a later call (the cache is copied; without
        it the cache is used up). ``options``: :func:`sample_tokens`' sampling arguments.

        Returns
        -------
        list of list of int, length len(rows) * num
            Prompt ``rows[b]``'s samples are ``b * num ... b * num + num - 1``.
        """
        import copy

        import torch

        every = rows is None or list(rows) == list(range(self.n))
        cache = copy.deepcopy(self.cache) if keep else self.cache
        logits, mask, last_pos = self.logits, self.mask, self.last_pos
        if not every:
            pick = torch.as_tensor(list(rows), dtype=torch.long, device=self.device)
            cache.batch_select_indices(pick)
            logits, mask, last_pos = logits[pick], mask[pick], last_pos[pick]
        if not keep:
            self.cache = None  # used up: its rows were selected, repeated and extended in place
        return _decode(self.model, cache, logits, mask, last_pos, num=num, **options)


def sample_tokens(model, prompts: Sequence[Sequence[int]], pad_id: int, *, num: int = 1,
                  max_new_tokens: int = 32, temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0,
                  stop_ids: Sequence[int] = (), row_done: Callable[[list[int]], bool] | None = None,
                  check_ids: Sequence[int] = (), drop_finished: bool = True,
                  share_prefix: bool = True) -> list[list[int]]:
    """Sample ``num`` continuations of every prompt; call under ``torch.no_grad()``.

    Parameters
    ----------
    model
        A causal LM in eval mode whose forward takes ``position_ids`` and a cache
        (``logits_to_keep`` is used where the forward takes it).
    prompts : sequence of sequence of int
        Token ids of each prompt (unpadded).
    pad_id : int
        Token id used for padding (masked out).
    num : int
        Samples per prompt; prompt ``b``'s samples are rows ``b * num ... b * num + num - 1``.
    max_new_tokens : int
        Token budget per row.
    temperature, top_k, top_p
        See :func:`filter_and_sample`.
    stop_ids : sequence of int
        End tokens: a row that samples one is finished (the token is kept in its output).
    row_done : callable, optional
        ``row_done(tokens) -> bool`` on a row's new tokens, asked only after it samples one of
        ``check_ids`` (e.g. a line break); True finishes the row.
    drop_finished : bool, default True
        Remove finished rows from the batch and cache. False keeps computing them (and ignores
        what they sample): the same tokens, for checking that dropping changes nothing.
    share_prefix : bool, default True
        Encode the prompts' common prefix once (:func:`prefill`).

    Returns
    -------
    list of list of int, length len(prompts) * num
        Each row's sampled tokens, its end token included.
    """
    return PromptCache(model, prompts, pad_id, share_prefix=share_prefix).sample(
        num=num, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
        stop_ids=stop_ids, row_done=row_done, check_ids=check_ids, drop_finished=drop_finished)


def _decode(model, cache, logits, mask, last_pos, *, num: int = 1, max_new_tokens: int = 32,
            temperature: float = 1.0, top_k: int = 50, top_p: float = 1.0, stop_ids: Sequence[int] = (),
            row_done: Callable[[list[int]], bool] | None = None, check_ids: Sequence[int] = (),
            drop_finished: bool = True) -> list[list[int]]:
    """The decoding loop of :func:`sample_tokens` from encoded prompts (``cache`` is extended in place)."""
    import torch

    device = logits.device
    rows = logits.shape[0] * num
    if num > 1:
        cache.batch_repeat_interleave(num)
        logits, mask, last_pos = (t.repeat_interleave(num, dim=0) for t in (logits, mask, last_pos))
    key = _cache_keyword(model)
    stop = torch.tensor(sorted(set(stop_ids)), dtype=torch.long, device=device)
    check = torch.tensor(sorted(set(check_ids)), dtype=torch.long, device=device)
    alive = torch.arange(rows, device=device)  # batch row -> output row
    running = torch.ones(rows, dtype=torch.bool, device=device)  # only used when not dropping
    tokens: list[list[int]] = [[] for _ in range(rows)]
    for step in range(max_new_tokens):
        uniform = torch.rand(rows, device=device)[alive]  # the whole batch's draw, whoever is left
        nxt = filter_and_sample(logits, uniform, temperature, top_k, top_p)
        finished = torch.isin(nxt, stop)
        checked = torch.isin(nxt, check) if row_done is not None else torch.zeros_like(finished)
        for j, (row, tok) in enumerate(zip(alive.tolist(), nxt.tolist(), strict=True)):
            if drop_finished or running[row]:
                tokens[row].append(tok)
                if checked[j] and not finished[j]:
                    finished[j] = bool(row_done(tokens[row]))
        if not drop_finished:
            running[alive[finished]] = False
            finished = ~running[alive]
        if step == max_new_tokens - 1 or bool(finished.all()):
            break
        if drop_finished and bool(finished.any()):
            keep = (~finished).nonzero().flatten()
            cache.batch_select_indices(keep)
            alive, nxt, mask, last_pos = alive[keep], nxt[keep], mask[keep], last_pos[keep]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        last_pos = last_pos + 1
        out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos[:, None],
                    use_cache=True, **{key: cache})
        logits = out.logits[:, -1, :]
    return tokens
