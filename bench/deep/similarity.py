"""Similarity and affinity matrices shared by the similarity-reconstruction methods
(DJSRH, JDSH, DGCPN, DSAH, CIRH, CAGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity matrix of the rows of ``a`` and ``b`` (``b`` = ``a`` when None)."""
    an = F.normalize(a, dim=1)
    bn = an if b is None else F.normalize(b, dim=1)
    return an @ bn.T


def signed_cosine(x: torch.Tensor) -> torch.Tensor:
    """DJSRH's feature similarity 2·cos − 1 (maps [0, 1] cosines of non-negative features to
    [−1, 1])."""
    return cosine(x) * 2 - 1


def code_similarity_mse(a: torch.Tensor, b: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the cosine matrix of codes ``a`` and ``b`` and the target affinity."""
    return F.mse_loss(cosine(a, b), target)


def keep_largest(s: torch.Tensor, keep: int) -> torch.Tensor:
    """``s`` with every row's entries zeroed except its ``keep`` largest (ties by position)."""
    keep = max(1, min(int(keep), s.shape[1]))
    idx = s.topk(keep, dim=1).indices
    return torch.zeros_like(s).scatter(1, idx, s.gather(1, idx))
