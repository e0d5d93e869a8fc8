"""DGCPN (AAAI 2021) on frozen features: graph-neighbour coherence (baselines.md §3.1).

**A reconstruction.** The public code could not be read; the spec gives the ingredients
(first-order cosine similarity weighted by a1, second-order agreement of kNN neighbour sets
weighted by a2, the code's ``knn_number`` = n − K zeroes all but each row's K largest entries,
intra- and inter-modal similarity-preserving MSE losses with weights dw and cw, scale K = 1.5,
SGD lr 0.005, batch 32). Built here:

* over the **whole training set** (neighbours are global, not per batch):
  S1 = a1·cos(X) + (1 − a1)·cos(Y);
  N = S1 with all but each row's ⌈knn_fraction·n⌉ largest entries zeroed (the neighbour graph);
  S2_ij = cos(N_i, N_j), the coherence of the two items' weighted neighbour sets;
  S = scale · (2·((1 − a2)·S1 + a2·S2) − 1), in [−scale, scale];
* per batch, the block S[idx, idx] is the target; loss
  dw·(MSE(B_I B_Iᵀ, S) + MSE(B_T B_Tᵀ, S)) + cw·(MSE(B_I B_Tᵀ, S) + MSE(B_T B_Iᵀ, S)).

knn_fraction = 0.4 (2,000 of 5,000, as its successor CIRH keeps), a1 = 0.6, a2 = 0.5 and 80
epochs are reconstructed values (README table).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, cosine, keep_largest
from bench.methods.dgcpn import SPEC


def neighbour_coherence_affinity(x: torch.Tensor, y: torch.Tensor, a1: float, a2: float,
                                 knn: int, scale: float) -> torch.Tensor:
    """The global affinity S (n, n) described in the module docstring."""
    s1 = a1 * cosine(x) + (1 - a1) * cosine(y)
    s2 = cosine(keep_largest(s1, knn))
    return scale * (2 * ((1 - a2) * s1 + a2 * s2) - 1)


class DGCPN(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        if not 0 < float(p["knn_fraction"]) <= 1:
            raise ValueError("dgcpn: knn_fraction must lie in (0, 1]")
        if not (0 <= float(p["a1"]) <= 1 and 0 <= float(p["a2"]) <= 1):
            raise ValueError("dgcpn: a1 and a2 must lie in [0, 1]")

    def prepare(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> None:
        p = self.params
        knn = max(1, math.ceil(float(p["knn_fraction"]) * len(x)))
        self.global_affinity = neighbour_coherence_affinity(
            x, y, float(p["a1"]), float(p["a2"]), knn, float(p["scale"]))

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.global_affinity[idx][:, idx]

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        p = self.params
        intra = code_similarity_mse(b.hx, b.hx, s) + code_similarity_mse(b.hy, b.hy, s)
        inter = code_similarity_mse(b.hx, b.hy, s) + code_similarity_mse(b.hy, b.hx, s)
        loss = float(p["dw"]) * intra + float(p["cw"]) * inter
        return {"loss": loss, "intra": intra, "inter": inter}
