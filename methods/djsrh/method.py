"""DJSRH (ICCV 2019) on frozen features: joint-semantics affinity with a diffusion step, and
reconstruction of it by the codes' cosine similarities (baselines.md §3.1).

Faithful to the reference setting: per-batch affinity from the frozen features, batches of 32
with the last partial batch dropped, SGD (momentum 0.9, weight decay 5e-4, lr 0.001 image /
0.01 text), codes tanh(√(t+1)·hid), 80 epochs, the final model. Deviations (README table): the
image network is a d → 4096 → L MLP trained from scratch (the reference fine-tunes a pretrained
AlexNet's fc6-fc7 and adds fc_encode), the diffusion divides by the actual batch size, and with
fewer pairs than one batch the single batch holds them all.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, signed_cosine
from bench.methods.djsrh import SPEC


def joint_affinity(x: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """S~ = beta·(2cos(x) − 1) + (1 − beta)·(2cos(y) − 1)."""
    return beta * signed_cosine(x) + (1 - beta) * signed_cosine(y)


def diffuse(s: torch.Tensor, eta: float, mu: float) -> torch.Tensor:
    """mu · ((1 − eta)·S + eta·S Sᵀ / m): one diffusion step over the m items, then scaled."""
    return mu * ((1 - eta) * s + eta * (s @ s.T) / s.shape[0])


class DJSRH(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        if not (0 <= float(p["beta"]) <= 1 and 0 <= float(p["eta"]) <= 1):
            raise ValueError("djsrh: beta and eta must lie in [0, 1]")

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        return diffuse(joint_affinity(x, y, float(p["beta"])), float(p["eta"]), float(p["mu"]))

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        p = self.params
        ii = code_similarity_mse(b.hx, b.hx, s)
        it = code_similarity_mse(b.hx, b.hy, s)
        tt = code_similarity_mse(b.hy, b.hy, s)
        loss = float(p["lambda1"]) * ii + it + float(p["lambda2"]) * tt
        return {"loss": loss, "image_image": ii, "image_text": it, "text_text": tt}
