"""FusionTransMamba: the image/text fusion block of PromptHash (CCRG-XJU/PromptHash@6bfbe3f,
hash_model.py).

Two modes:

* ``batch`` (faithful): the Mamba scans along the *mini-batch* axis after the reference's
  scrambled reshape, and the fusion transformer attends across the samples of the batch, so a
  sample's output depends on its batch mates and their order;
* ``sample`` (clean): the Mamba scans the two-token sequence (image-like, text-like) of each
  sample, and the transformer sees each sample as a sequence of one token, so outputs are
  per-sample functions.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .mamba import Backend, MambaMixer

FusionMode = Literal["batch", "sample"]


class GRN(nn.Module):
    """The reference's "GRN": γ·(x·N(x)) + β + x with N(x) = ‖x‖ / (mean of ‖x‖ over a size-1
    axis + 1e-6), i.e. ≈ (1+γ)⊙x + β; γ = β = 0 at init. Not ConvNeXt-V2 GRN (kept as written).
    ``ndim`` is 2 for (1, dim) parameters (``GRN``) or 3 for (1, 1, dim) (``GRN1``)."""

    def __init__(self, dim: int, ndim: int = 2):
        super().__init__()
        shape = (1,) * (ndim - 1) + (dim,)
        self.gamma = nn.Parameter(torch.zeros(shape))
        self.beta = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=-1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


def scramble(x: torch.Tensor) -> torch.Tensor:
    """The reference's flattening of a contiguous (M, N, C) tensor: a raw reinterpretation as
    (M, C, N), then a transpose: U[m, t, c] = X[m, (c*N + t) // C, (c*N + t) % C]."""
    m, n, c = x.shape
    return x.contiguous().reshape(m, c, n).transpose(1, 2)


def unscramble(u: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`scramble`."""
    m, n, c = u.shape
    return u.transpose(1, 2).contiguous().reshape(m, n, c)


class MambaLayer(nn.Module):
    """(B, 2, d) -> modality-first (2, B, d): Linear + GRN1 + SiLU, a four-direction Mamba scan
    with shared weights, a cosine gate against the input, Linear + GRN1 + SiLU."""

    def __init__(self, dim: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 mode: FusionMode = "batch", backend: Backend = "auto"):
        super().__init__()
        self.mode = mode
        self.nin = nn.Linear(dim, dim)
        self.nin2 = nn.Linear(dim, dim)
        self.norm = GRN(dim, ndim=3)
        self.norm2 = GRN(dim, ndim=3)
        self.mamba = MambaMixer(dim, d_state=d_state, d_conv=d_conv, expand=expand,
                                backend=backend)
        self.temp = nn.Parameter(torch.randn(1).abs())
        self.weight_gate = nn.Parameter(torch.randn(1).abs())

    def _scan4(self, u: torch.Tensor) -> torch.Tensor:
        """Sum of the shared Mamba over u, u flipped on channels, on the sequence, on both."""
        # one call on the four directions stacked along the Mamba batch axis (the mixer treats
        # batch items independently, so this equals four separate calls)
        y = self.mamba(torch.cat([u, u.flip(-1), u.flip(1), u.flip(1, -1)], dim=0))
        y0, y1, y2, y3 = y.chunk(4, dim=0)
        out = y0 + y1.flip(-1) + y2.flip(1) + y3.flip(1, -1)
        return out * self.temp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(1, 0, 2)  # (2, B, d)
        x = F.silu(self.norm(self.nin(x)))
        act_x = x
        if self.mode == "batch":
            # Mamba batch = the 2 modalities, sequence = the scrambled mini-batch axis
            out = unscramble(self._scan4(scramble(x)))
        else:
            # Mamba batch = the samples, sequence = (image-like, text-like)
            out = self._scan4(x.transpose(0, 1)).transpose(0, 1)
        w = torch.sigmoid(F.cosine_similarity(out, act_x, dim=-1).mean(0)).unsqueeze(-1)
        out = self.weight_gate * w * out + (1 - w) * act_x
        return F.silu(self.norm2(self.nin2(out)))


class FusionTransMamba(nn.Module):
    """Fuses two (B, d) streams; returns two (B, d) halves of an L2-normalised (B, 2d) row."""

    def __init__(self, dim: int, nhead: int = 4, d_state: int = 16, d_conv: int = 4,
                 expand: int = 2, ffn_dim: int | None = None, dropout: float = 0.1,
                 mode: FusionMode = "batch", backend: Backend = "auto"):
        super().__init__()
        if mode not in ("batch", "sample"):
            raise ValueError(f"fusion must be 'batch' or 'sample', not {mode!r}")
        self.mode = mode
        self.inproj = nn.Linear(dim, dim)
        self.outproj = nn.Linear(dim, dim)
        self.mamba = MambaLayer(dim, d_state, d_conv, expand, mode=mode, backend=backend)
        self.grn1 = GRN(dim)
        self.grn2 = GRN(2 * dim)
        layer = nn.TransformerEncoderLayer(d_model=2 * dim, nhead=nhead,
                                           dim_feedforward=ffn_dim or 4 * dim, dropout=dropout,
                                           batch_first=False)
        self.transformer = nn.TransformerEncoder(layer, num_layers=1,
                                                 enable_nested_tensor=False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sa, sb = self.inproj(a), self.inproj(b)
        m = self.mamba(torch.stack([a, b], dim=1))  # (2, B, d): split on the modality axis
        a_out = self.outproj(self.grn1(m[0]))
        b_out = self.outproj(self.grn1(m[1]))
        h = self.grn2(torch.cat([0.5 * a_out + 0.5 * sa, 0.5 * b_out + 0.5 * sb], dim=-1))
        if self.mode == "batch":
            h = self.transformer(h)  # 2-D input: one unbatched sequence of length B
        else:
            h = self.transformer(h.unsqueeze(0)).squeeze(0)  # B sequences of length 1
        h = F.normalize(h, dim=-1)
        d = a.shape[-1]
        return h[:, :d], h[:, d:]
