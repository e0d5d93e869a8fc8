"""Contrastive losses shared by GNAH and the contrastive baselines (UCMFH)."""

from __future__ import annotations

import torch


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, same: torch.Tensor,
             other: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean of -log e^{a_i.p_i/t} / (e^{a_i.p_i/t} + sum_{j!=i} e^{a_i.s_j/t} + e^{a_i.o_j/t})
    with s = ``same``, o = ``other`` and t = ``tau``."""
    m = anchor.shape[0]
    eye = torch.eye(m, dtype=torch.bool, device=anchor.device)
    pos = (anchor * positive).sum(1, keepdim=True) / tau
    neg_same = (anchor @ same.T / tau).masked_fill(eye, float("-inf"))
    neg_other = (anchor @ other.T / tau).masked_fill(eye, float("-inf"))
    logits = torch.cat([pos, neg_same, neg_other], dim=1)
    return (torch.logsumexp(logits, dim=1) - pos[:, 0]).mean()


def cross_modal_nt_xent(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's NT-Xent over the 2m unit-norm rows [a; b]: pair i's positive is its other
    modality, the 2(m−1) negatives are every other row; averaged over the 2m anchors."""
    return (info_nce(a, b, a, b, tau) + info_nce(b, a, b, a, tau)) / 2
