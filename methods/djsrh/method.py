"""DJSRH (ICCV 2019) on frozen features: joint-semantics affinity with a diffusion step, and
reconstruction of it by the codes' cosine similarities (reference zzs1994/DJSRH@6041c2df8107:
train.py, models.py, settings.py).

Faithful to the reference setting: per-batch affinity S̃ = β·S_I + (1 − β)·S_T of the frozen
features' 2cos − 1 matrices, S = μ·((1 − η)·S̃ + η·S̃S̃ / m) (train.py:92-110); loss
λ1·MSE(B_I B_Iᵀ, S) + MSE(B_I B_Tᵀ, S) + λ2·MSE(B_T B_Tᵀ, S) on unit-norm codes
(train.py:101-115); batches of 32 with the last partial batch dropped, SGD (momentum 0.9,
weight decay 5e-4, lr 0.001 image / 0.01 text), codes tanh(√(t+1)·hid), 80 epochs, the final
model (settings.py:33-63). The reference fine-tunes its whole ImageNet AlexNet (conv layers,
fc6, fc7) plus fc_encode, with the classifier's Dropout(0.5) active in training (models.py:12,
train.py:69); here the image network is a d → 4096 → L MLP trained from scratch on frozen
features, with Dropout(``image_dropout`` = 0.5) on its input in training, the counterpart of
the Dropout in front of fc7. Further deviations (README table): the diffusion divides by the
actual batch size, and with fewer pairs than one batch the single batch holds them all.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, signed_cosine
from bench.methods.djsrh import SPEC
from bench.plugins import FitContext


def joint_affinity(x: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """S~ = beta·(2cos(x) − 1) + (1 − beta)·(2cos(y) − 1)."""
    return beta * signed_cosine(x) + (1 - beta) * signed_cosine(y)


def diffuse(s: torch.Tensor, eta: float, mu: float) -> torch.Tensor:
    """mu · ((1 − eta)·S + eta·S Sᵀ / m): one diffusion step over the m items, then scaled."""
    return mu * ((1 - eta) * s + eta * (s @ s.T) / s.shape[0])


def add_input_dropout(net: nn.Module, p: float) -> None:
    """Put Dropout(p) in front of an MLP's first layer (active in train mode only)."""
    if p > 0:
        net.body.insert(0, nn.Dropout(p))


class DJSRH(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        if not (0 <= float(p["beta"]) <= 1 and 0 <= float(p["eta"]) <= 1):
            raise ValueError("djsrh: beta and eta must lie in [0, 1]")
        if not 0 <= float(p["image_dropout"]) < 1:
            raise ValueError("djsrh: image_dropout must lie in [0, 1)")

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        self._bits = bits
        super().train_model(x, y, bits, gen, ctx, report)

    def prepare(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> None:
        """The nets of this code length exist now (the optimiser does not yet): add the
        image network's input dropout (no parameters, so the optimiser is unaffected)."""
        add_input_dropout(self.nets[self._bits]["image"], float(self.params["image_dropout"]))

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
