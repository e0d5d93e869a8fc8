"""GNAH's losses and CSNA's Gaussian neighbourhood, from the paper's formulas (arXiv 2606.31517;
no public code). Every loss is a mean over the pairs of the batch (the paper writes sums over
the training set; the ratio between the terms is the same)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bench.deep.losses import info_nce


def prototype_kl(target: torch.Tensor, target_neg_entropy: torch.Tensor, codes: torch.Tensor,
                 anchors: torch.Tensor, tau: float) -> torch.Tensor:
    """PAGA: mean_i KL(p_i || softmax(C_b^T h_i / tau)) for unit-norm ``codes`` (m, L).

    ``target`` (m, K) are the fixed latent soft assignments p and ``target_neg_entropy`` (m,) is
    sum_k p log p, precomputed, so only the cross-entropy part carries gradients.
    """
    log_q = F.log_softmax(codes @ anchors.T / tau, dim=1)
    return (target_neg_entropy - (target * log_q).sum(1)).mean()


def neighbourhood_contrastive(hx: torch.Tensor, hy: torch.Tensor, pos_for_x: torch.Tensor,
                              pos_for_y: torch.Tensor, tau: float) -> torch.Tensor:
    """CSNA (and GNAH-A): l(x_i, y_i) + l(y_i, x_i), averaged over i; all inputs unit-norm (m, L).

    Anchor h_i^x has positive ``pos_for_x[i]`` (h~_i^y, the text net's code of the sampled
    neighbour; or h_i^y for the plain pairwise GNAH-A) and the 2(m-1) negatives h_j^x, h_j^y
    (j != i); symmetrically for the text anchor.
    """
    return info_nce(hx, pos_for_x, hx, hy, tau) + info_nce(hy, pos_for_y, hy, hx, tau)


def quantisation(codes: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """DCMH-style ||h - scale*sgn(h)||^2 per instance (sgn(0)=+1, held constant), averaged."""
    target = (torch.where(codes >= 0, scale, -scale)).to(codes.dtype).detach()
    return (codes - target).pow(2).sum(-1).mean()


def neighbourhood_gaussian(x: torch.Tensor, y: torch.Tensor,
                           noise: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CSNA's Gaussian around each pair of unit-norm features (n, d): mu = norm(f^x + f^y) and
    sigma = ||f^x - f^y|| / 2 (n, 1); ``noise="total"`` divides sigma by sqrt(d) (eps ~ N(0, I/d),
    so E||sigma*eps||^2 = sigma^2), ``"literal"`` keeps it, ``"diag"`` is |f^x - f^y| / 2 (n, d)."""
    mu = F.normalize(x + y, dim=1)
    if noise == "diag":
        sigma = (x - y).abs() / 2
    else:
        sigma = (x - y).norm(dim=1, keepdim=True) / 2
    if noise == "total":
        sigma = sigma / math.sqrt(x.shape[1])
    return mu, sigma


def sample_neighbour(mu: torch.Tensor, sigma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """A stochastic neighbour f~ = norm(mu + sigma * eps) for standard-normal ``eps``."""
    return F.normalize(mu + sigma * eps, dim=1)
