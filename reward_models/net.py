"""The network on top of the text encoder: context embeddings, an MLP and two heads.

    x = [e(copy), e(item text), E_seg[s], E_plc[p], E_cat[c], x_num, x_txt]
    h = MLP(x)                          (Linear-GELU-Dropout, twice)
    z_click, z_cvr = W h + b            P(click | slot 0) = sigmoid(z_click),
                                        P(purchase | click) = sigmoid(z_cvr)

The slot term ``b_slot`` is a log examination ratio per ``(placement, position)`` relative to
position 0 of the same placement (index 0 = position 0 or unknown, fixed at 0):

    P(click | slot) = sigmoid(z_click) * exp(b_slot)

It is used in training and when evaluating on logged rows, and dropped at scoring, so a score
means "P(click) in the placement's first slot" and compares copy, not slots.
"""

from __future__ import annotations

import torch
from torch import nn


class RewardNet(nn.Module):
    """Heads over precomputed (or freshly encoded) text embeddings and context features.

    Parameters
    ----------
    text_dim : int
        Encoder hidden size (384 for MiniLM).
    n_segments, n_placements, n_categories, n_slots : int
        Vocabulary sizes (index 0 = unknown).
    n_numeric : int
        Width of the standardized numeric context vector.
    n_surface : int
        Width of the copy surface statistics.
    use_item_text : bool
        Whether the item's "title | key attribute" embedding is an input.
    """

    def __init__(self, text_dim: int, n_segments: int, n_placements: int, n_categories: int, n_slots: int,
                 n_numeric: int, n_surface: int, *, use_item_text: bool = True, hidden: int = 256,
                 emb_dim: int = 16, dropout: float = 0.1):
        super().__init__()
        self.use_item_text = use_item_text
        self.seg = nn.Embedding(n_segments, emb_dim)
        self.plc = nn.Embedding(n_placements, emb_dim)
        self.cat = nn.Embedding(n_categories, emb_dim)
        self.slot_bias = nn.Embedding(n_slots, 1)
        nn.init.zeros_(self.slot_bias.weight)
        # The first layer is split by input: text projections are computed once per DISTINCT text in
        # the batch and gathered per row (logs repeat a few thousand copies over many impressions).
        self.copy_in = nn.Linear(text_dim, hidden, bias=False)
        self.item_in = nn.Linear(text_dim, hidden, bias=False) if use_item_text else None
        self.ctx_in = nn.Linear(3 * emb_dim + n_numeric + n_surface, hidden)
        self.mlp = nn.Sequential(
            nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden // 2, 2),
        )

    def forward(self, copy_emb: torch.Tensor, copy_idx: torch.Tensor, item_emb: torch.Tensor | None,
                item_idx: torch.Tensor | None, segment: torch.Tensor, placement: torch.Tensor,
                category: torch.Tensor, numeric: torch.Tensor, surface: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw logits ``(z_click, z_cvr)``, each of shape (batch,), without the slot term.

        ``copy_emb`` (u, text_dim) holds the distinct copy embeddings and ``copy_idx`` (batch,)
        picks one per row; likewise ``item_emb`` / ``item_idx``.
        """
        ctx = torch.cat([self.seg(segment), self.plc(placement), self.cat(category), numeric, surface], dim=-1)
        h = self.ctx_in(ctx) + self.copy_in(copy_emb)[copy_idx]
        if self.item_in is not None:
            h = h + self.item_in(item_emb)[item_idx]
        z = self.mlp(h)
        return z[:, 0], z[:, 1]

    def slot_log_ratio(self, slot: torch.Tensor) -> torch.Tensor:
        """``b_slot`` of shape (batch,); index 0 (position 0 / unknown) is always 0."""
        return self.slot_bias(slot).squeeze(-1) * (slot > 0).to(self.slot_bias.weight.dtype)
