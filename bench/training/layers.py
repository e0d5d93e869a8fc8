"""Layers and loss terms shared by the deep hashing methods (PromptHash, DCHMT, MITH, DSPH,
DCMH)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TwoHeadCLIP(nn.Module):
    """A CLIP with one hash head per modality, on the pooled image feature and the projected
    end-of-text feature (unnormalised, float32) - the DCHMT and DSPH networks."""

    def __init__(self, clip: nn.Module, image_hash: nn.Module, text_hash: nn.Module):
        super().__init__()
        self.clip = clip
        self.image_hash = image_hash
        self.text_hash = text_hash

    def forward(self, images: torch.Tensor,
                captions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from bench.encoders.backbone import encode_text_tokens

        img = self.clip.encode_image(images)
        txt, _ = encode_text_tokens(self.clip, captions)
        return self.image_hash(img.float()), self.text_hash(txt.float())


class ResidualMLPs(nn.Module):
    """``layers`` pre-LN residual blocks x + W2·Dropout(act(W1·LN(x))) (MITH's ResMLP, reused
    by PromptHash)."""

    def __init__(self, dim: int, hidden: int, layers: int = 2, dropout: float = 0.5,
                 activation: str = "gelu"):
        super().__init__()
        act = {"gelu": nn.GELU, "relu": nn.ReLU}[activation]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), act(), nn.Dropout(dropout),
                          nn.Linear(hidden, dim))
            for _ in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


def pairwise_nll(a: torch.Tensor, b: torch.Tensor, sim: torch.Tensor,
                 clamp: float | None = 64.0, clamp_scaled: bool = True,
                 reduction: str = "mean") -> torch.Tensor:
    """DPSH/DCMH negative log-likelihood of the pair similarities ``sim`` (rows of ``a`` ×
    rows of ``b``): with Θ = ½·a·bᵀ, softplus(Θ) − S⊙Θ, averaged (``mean``) or summed.

    ``clamp``: a·bᵀ limited to ±clamp before halving (``clamp_scaled=False``: PromptHash and
    MITH, as their references) or Θ itself limited to ±clamp (``clamp_scaled=True``); None: no
    clamp (DCMH)."""
    prod = a @ b.t()
    if clamp is None:
        theta = 0.5 * prod
    elif clamp_scaled:
        theta = (0.5 * prod).clamp(-clamp, clamp)
    else:
        theta = 0.5 * prod.clamp(-clamp, clamp)
    nll = F.softplus(theta) - sim * theta
    return nll.mean() if reduction == "mean" else nll.sum()


def info_nce(u: torch.Tensor, v: torch.Tensor, tau: float) -> torch.Tensor:
    """Symmetric InfoNCE on L2-normalised rows; positives on the diagonal."""
    logits = u @ v.t() / tau
    target = torch.arange(len(u), device=u.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
