"""DSAH (ICMR 2020) on frozen features (baselines.md §3.1).

Semantic alignment: S = k·(α·S_I + (1 − α)·S_T) with S_m = 2cos − 1 of the batch's frozen
features; loss
  η·MSE(B_I B_Iᵀ, S) + η·MSE(B_T B_Tᵀ, S) + MSE(B_I B_Tᵀ, S)
  + diagonal·mean_i (⟨b_I,i, b_T,i⟩ − k)²          (the paired diagonal pulled to k)
  + symmetry·MSE(B_I B_Tᵀ, B_T B_Iᵀ)
  + reconstruction·(‖Dec_I(b_T) − x‖² + ‖Dec_T(b_I) − y‖²)  (cross-modal reconstruction)
on unit-norm codes; decoders L → 4096 → d. SGD (lr 0.005, momentum 0.7), batch 32, 200 epochs,
the best epoch kept (the reference saves its best checkpoint; here chosen by ctx.validate() on
the validation split, never the query set).

**A reconstruction** in its details: the public code could not be read. The weights of the
diagonal and reconstruction terms (1), the decoder shape and the per-item squared-error form of
the reconstruction are reconstructed (README table).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.deep.nets import MLP
from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, cosine, signed_cosine
from bench.methods.dsah import SPEC


def semantic_affinity(x: torch.Tensor, y: torch.Tensor, alpha: float, k: float) -> torch.Tensor:
    """k · (alpha·(2cos(x) − 1) + (1 − alpha)·(2cos(y) − 1))."""
    return k * (alpha * signed_cosine(x) + (1 - alpha) * signed_cosine(y))


class DSAH(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        if not 0 <= float(self.params["alpha"]) <= 1:
            raise ValueError("dsah: alpha must lie in [0, 1]")

    def extra_modules(self, dx: int, dy: int, bits: int) -> dict[str, nn.Module]:
        h = int(self.params["decoder_hidden"])
        # image features from text codes, text features from image codes
        return {"decode_image": MLP(bits, [h], dx), "decode_text": MLP(bits, [h], dy)}

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return semantic_affinity(x, y, float(self.params["alpha"]), float(self.params["k"]))

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        p = self.params
        it = cosine(b.hx, b.hy)
        align = (float(p["eta"]) * (code_similarity_mse(b.hx, b.hx, s)
                                    + code_similarity_mse(b.hy, b.hy, s))
                 + torch.mean((it - s) ** 2))
        diagonal = torch.mean((torch.diagonal(it) - float(p["k"])) ** 2)
        symmetry = torch.mean((it - it.T) ** 2)
        recon = (((extra["decode_image"](b.hy) - b.x) ** 2).sum(1).mean()
                 + ((extra["decode_text"](b.hx) - b.y) ** 2).sum(1).mean())
        loss = (align + float(p["diagonal"]) * diagonal + float(p["symmetry"]) * symmetry
                + float(p["reconstruction"]) * recon)
        return {"loss": loss, "alignment": align, "diagonal": diagonal, "symmetry": symmetry,
                "reconstruction": recon}
