"""A TRL completion as the text the model generated (one definition for every reward function).

TRL passes completions to a reward function either as strings (standard datasets) or as lists of
chat messages (conversational datasets, ``[{"role": "assistant", "content": ...}]``). The copy is
what the *assistant* wrote: every assistant message, joined in order. Messages of other roles (a
tool's answer that a multi-turn completion may carry) are not the model's copy and are left out,
unless the completion has no assistant message at all, when every message's content is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def completion_text(completion: Any) -> str:
    """The text of one completion.

    Examples
    --------
    >>> completion_text("Save 20% today")
    'Save 20% today'
    >>> completion_text([{"role": "assistant", "content": "Save "}, {"role": "tool", "content": "ok"},
    ...                  {"role": "assistant", "content": "20%"}])
    'Save 20%'
    >>> completion_text({"role": "assistant", "content": "Hi"}), completion_text([{"content": "Hi"}])
    ('Hi', 'Hi')
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence):
        parts = [m.get("content", "") for m in completion if isinstance(m, Mapping) and m.get("role") == "assistant"]
        if not parts:
            parts = [m.get("content", "") if isinstance(m, Mapping) else str(m) for m in completion]
        return "".join(str(p) for p in parts)
    return str(completion)
