"""The hashing model after the CLIP encoders (CCRG-XJU/PromptHash@6bfbe3f, hash_model.py):
fusion applied twice with shared weights, residual MLPs, tanh hash encoders and decoders to the
auxiliary code."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.training.layers import ResidualMLPs

from .fusion import FusionMode, FusionTransMamba
from .mamba import Backend


class HashingModel(nn.Module):
    """(img_cls, txt_eos, prompt_eos) -> per-stream features, hashes and reconstructions.

    ``bits`` are the requested lengths; ``aux_bits`` the auxiliary length (256 in the
    reference). Encoders (tanh(Linear(dim, k))) and decoders (tanh(Linear(aux, aux)(ReLU(
    Linear(k, aux))))) are shared across modalities.
    """

    def __init__(self, dim: int, bits: Sequence[int], aux_bits: int = 256, mlp_layers: int = 2,
                 mlp_ratio: int = 4, dropout: float = 0.5, activation: str = "gelu",
                 fusion: FusionMode = "batch", fusion_heads: int = 4, d_state: int = 16,
                 d_conv: int = 4, expand: int = 2, backend: Backend = "auto"):
        super().__init__()
        self.bits = tuple(int(b) for b in bits)
        self.aux_bits = int(aux_bits)
        self.fuse = FusionTransMamba(dim, nhead=fusion_heads, d_state=d_state, d_conv=d_conv,
                                     expand=expand, mode=fusion, backend=backend)
        self.mlp = ResidualMLPs(dim, mlp_ratio * dim, mlp_layers, dropout, activation)
        lengths = sorted(set(self.bits) | {self.aux_bits})
        self.encoders = nn.ModuleDict({str(k): nn.Linear(dim, k) for k in lengths})
        self.decoders = nn.ModuleDict({
            str(k): nn.Sequential(nn.Linear(k, self.aux_bits), nn.ReLU(),
                                  nn.Linear(self.aux_bits, self.aux_bits), nn.Tanh())
            for k in lengths if k != self.aux_bits
        })

    def features(self, img: torch.Tensor, txt: torch.Tensor,
                 prm: torch.Tensor) -> dict[str, torch.Tensor]:
        """Residual-MLP outputs of the image, text and prompt streams (not normalised)."""
        img1, txt1 = self.fuse(img, txt)
        img2, prm1 = self.fuse(img1, prm)
        return {
            "image": self.mlp(0.5 * img + 0.5 * img2),
            "text": self.mlp(0.5 * txt + 0.5 * txt1),
            "prompt": self.mlp(0.5 * prm + 0.5 * prm1),
        }

    def hash(self, feat: torch.Tensor, k: int) -> torch.Tensor:
        return torch.tanh(self.encoders[str(k)](feat))

    def forward(self, img: torch.Tensor, txt: torch.Tensor,
                prm: torch.Tensor) -> dict[str, dict]:
        feats = self.features(img, txt, prm)
        out: dict[str, dict] = {"features": {m: F.normalize(f, dim=-1) for m, f in feats.items()},
                                "hash": {}, "recon": {}}
        for m in ("image", "text"):  # the prompt hashes are never used by the reference losses
            out["hash"][m] = {k: self.hash(feats[m], k) for k in (*self.bits, self.aux_bits)}
            out["recon"][m] = {k: self.decoders[str(k)](out["hash"][m][k])
                               for k in self.bits if k != self.aux_bits}
        return out
