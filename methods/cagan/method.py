"""CAGAN / AGAH (Sensors 2023) on frozen features (baselines.md §3.1).

Affinity S = μ·(η·S_I + β·S_T + λ·norm(S_I)·norm(S_T)ᵀ) with S_m = 2cos − 1 of the batch's
features (the JDSH-style joint similarity; the reference computes S_I from CLIP image features
and S_T from BoW tags). Losses on unit-norm codes:
  δ·(MSE(B_I B_Iᵀ, S) + MSE(B_T B_Tᵀ, S)) + ε·(MSE(B_I B_Tᵀ, S) − mean_i ⟨b_I,i, b_T,i⟩)
  + φ·MSE(B_G B_Gᵀ, S),
where B_G are auxiliary codes from an adaptive graph-attention layer over the batch.

**A reconstruction** in its graph branch: the public code (a zip archive) could not be read.
Here the branch takes each pair's concatenated hidden features of the two hash networks, one
GAT layer (attention eᵢⱼ = LeakyReLU(aᵀ[Wh_i ‖ Wh_j]) over the edges where S > 0, plus
self-loops, softmax over neighbours) and a linear map to L bits with tanh; its gradient reaches
the hash networks through their hidden layers. Encoding never uses it (codes come from the
per-modality networks alone, so an item's code does not depend on other items).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, cosine, signed_cosine
from bench.methods.cagan import SPEC


def fused_affinity(x: torch.Tensor, y: torch.Tensor, eta: float, beta: float, lamb: float,
                   mu: float) -> torch.Tensor:
    """mu · (eta·S_I + beta·S_T + lamb·norm(S_I) norm(S_T)ᵀ), S_m = 2cos − 1."""
    s_i, s_t = signed_cosine(x), signed_cosine(y)
    high = F.normalize(s_i, dim=1) @ F.normalize(s_t, dim=1).T
    return mu * (eta * s_i + beta * s_t + lamb * high)


class GraphAttentionCodes(nn.Module):
    """One graph-attention layer over the batch, then L relaxed auxiliary codes."""

    def __init__(self, in_dim: int, hidden: int, bits: int, slope: float):
        super().__init__()
        self.proj = nn.Linear(in_dim, hidden, bias=False)
        self.att_src = nn.Parameter(torch.empty(hidden).uniform_(-0.1, 0.1))
        self.att_dst = nn.Parameter(torch.empty(hidden).uniform_(-0.1, 0.1))
        self.out = nn.Linear(hidden, bits)
        self.slope = slope

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        wh = self.proj(h)
        e = F.leaky_relu((wh @ self.att_src)[:, None] + (wh @ self.att_dst)[None, :],
                         self.slope)
        edges = (adjacency > 0) | torch.eye(len(h), dtype=torch.bool, device=h.device)
        att = torch.softmax(e.masked_fill(~edges, float("-inf")), dim=1)
        return torch.tanh(self.out(F.elu(att @ wh)))


class CAGAN(SimilarityReconstruction):
    spec = SPEC

    def extra_modules(self, dx: int, dy: int, bits: int) -> dict[str, nn.Module]:
        p = self.params
        trunk = 2 * int(p["hidden"]) if p["image_net"] == "mlp" else dx + int(p["hidden"])
        return {"graph": GraphAttentionCodes(trunk, int(p["graph_hidden"]), bits,
                                             float(p["graph_slope"]))}

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        return fused_affinity(x, y, float(p["eta"]), float(p["beta"]), float(p["lamb"]),
                              float(p["mu"]))

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        p = self.params
        intra = code_similarity_mse(b.hx, b.hx, s) + code_similarity_mse(b.hy, b.hy, s)
        inter = (code_similarity_mse(b.hx, b.hy, s)
                 - torch.diagonal(cosine(b.hx, b.hy)).mean())
        graph_codes = extra["graph"](torch.cat([b.trunk_x, b.trunk_y], dim=1), s)
        graph = code_similarity_mse(graph_codes, graph_codes, s)
        loss = (float(p["delta"]) * intra + float(p["epsilon"]) * inter
                + float(p["phi"]) * graph)
        return {"loss": loss, "intra": intra, "inter": inter, "graph": graph}
