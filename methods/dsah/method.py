"""DSAH (Yang et al., ICMR 2020) on frozen features, rebuilt from idejie/DSAH@b231976
(``train.py``, ``models.py``, ``settings.py``; no code copied).

Per batch (train.py:98-128), with S_m = 2cos(F_m) − 1 of the frozen features of modality m,
S = K·(α·S_I + (1 − α)·S_T) and B_m = the ℓ2-normalised relaxed codes tanh(√(t+1)·hid):

  loss = MSE(B_T B_Tᵀ, S) + MSE(B_I B_Tᵀ, S) + MSE(B_I B_Iᵀ, S)        (joint, weight 1)
       + η·(MSE(B_I B_Iᵀ, K·S_I) + MSE(B_T B_Tᵀ, K·S_T))               (modality-specific)
       + MSE(diag(B_I B_Tᵀ), K)                                        (paired diagonal)
       + MSE(Dec_I(sign c_T), F_I) + MSE(Dec_T(sign c_I), F_T)          (cross reconstruction)
       + 2·MSE(B_I B_Tᵀ, (B_I B_Tᵀ)ᵀ)                                   (symmetry)

every MSE an element mean (F.mse_loss), α = 0.9, K = 1.5, η = 0.1 (settings.py:42-44). The
decoders are one Linear layer each (models.py:15,42) reading sign(code) (models.py:28-29,51-52):
sign has no gradient, so in the reference the reconstruction term trains the decoders only and
never shapes the codes; ``decoder_input='relaxed'`` feeds them the relaxed codes instead.
SGD with Nesterov momentum 0.7, lr 0.005, weight decay 5e-4 (train.py:64-72, settings.py:46-49),
batch 32 with the last partial batch dropped, 200 epochs. The image network: input dropout 0.5
(AlexNet's dropout before fc7, models.py:13), a d → 4096 ReLU layer in place of the fine-tuned
fc7, fc_encode; the text network d → 4096 → L (models.py:39-41). Model selection: best
``ctx.validate()`` every epoch (the reference scores every epoch on its query set, train.py:195).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.nets import MLP
from bench.deep.reconstruction import SimilarityReconstruction
from bench.deep.training import make_optimizer
from bench.methods.dsah import SPEC
from bench.plugins import FitContext

DECODER_INPUTS = ("sign", "relaxed")


def dsah_affinities(x: torch.Tensor, y: torch.Tensor, alpha: float,
                    k: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(S, S_I, S_T): S_m = 2·cos(F_m) − 1 and S = k·(alpha·S_I + (1 − alpha)·S_T)
    (train.py:98-103, 112-113)."""
    xn, yn = F.normalize(x, dim=1), F.normalize(y, dim=1)
    s_i = xn @ xn.T * 2 - 1
    s_t = yn @ yn.T * 2 - 1
    return k * (alpha * s_i + (1 - alpha) * s_t), s_i, s_t


def build_decoders(dx: int, dy: int, bits: int) -> nn.ModuleDict:
    """One Linear layer per direction: image features from text codes (TxtNet.decode,
    models.py:42) and text features from image codes (ImgNet.decode, models.py:15)."""
    return nn.ModuleDict({"image_from_text": nn.Linear(bits, dx),
                          "text_from_image": nn.Linear(bits, dy)})


def decode(decoders: nn.ModuleDict, hx: torch.Tensor, hy: torch.Tensor,
           mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(decoded image features, decoded text features) from the other modality's codes:
    ``sign`` reads sign(code) as the reference (no gradient to the codes), ``relaxed`` the
    relaxed codes themselves."""
    if mode not in DECODER_INPUTS:
        raise ValueError(f"decoder_input must be one of {DECODER_INPUTS}, got {mode!r}")
    cx, cy = (torch.sign(hx), torch.sign(hy)) if mode == "sign" else (hx, hy)
    return decoders["image_from_text"](cy), decoders["text_from_image"](cx)


def dsah_terms(hx: torch.Tensor, hy: torch.Tensor, dec_image: torch.Tensor,
               dec_text: torch.Tensor, x: torch.Tensor, y: torch.Tensor, s: torch.Tensor,
               s_i: torch.Tensor, s_t: torch.Tensor, k: float, eta: float, diagonal: float = 1.0,
               reconstruction: float = 1.0, symmetry: float = 2.0) -> dict[str, torch.Tensor]:
    """The named loss terms and their weighted sum ``loss`` (train.py:105-128).

    ``hx``, ``hy``: relaxed codes; ``s`` the joint target (already scaled by k), ``s_i``,
    ``s_t`` the unscaled modality affinities; ``dec_image``/``dec_text`` the decoders' outputs.
    """
    bi, bt = F.normalize(hx, dim=1), F.normalize(hy, dim=1)
    ii, tt, it = bi @ bi.T, bt @ bt.T, bi @ bt.T
    joint = F.mse_loss(tt, s) + F.mse_loss(it, s) + F.mse_loss(ii, s)
    modality = F.mse_loss(ii, k * s_i) + F.mse_loss(tt, k * s_t)
    diag = F.mse_loss(torch.diagonal(it), torch.full_like(torch.diagonal(it), k))
    recon = (F.mse_loss(dec_image, F.normalize(x, dim=1))
             + F.mse_loss(dec_text, F.normalize(y, dim=1)))
    sym = F.mse_loss(it, it.T)
    loss = joint + diagonal * diag + reconstruction * recon + symmetry * sym + eta * modality
    return {"loss": loss, "joint": joint, "modality": modality, "diagonal": diag,
            "reconstruction": recon, "symmetry": sym}


def image_network(dx: int, hidden: list[int], bits: int, dropout: float) -> nn.Module:
    """Input dropout (AlexNet's dropout before fc7), then the MLP (hid, before tanh)."""
    mlp = MLP(dx, hidden, bits)
    return nn.Sequential(nn.Dropout(dropout), mlp) if dropout > 0 else mlp


class DSAH(SimilarityReconstruction):
    """The DJSRH-family plugin with its own networks, targets and optimiser (Nesterov SGD, each
    decoder in the parameter group of the network whose codes it reads), on the shared epoch
    loop (:meth:`SimilarityReconstruction.run_epochs`)."""

    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        self.option("decoder_input", DECODER_INPUTS)
        if not 0 <= float(self.params["alpha"]) <= 1:
            raise ValueError("dsah: alpha must lie in [0, 1]")
        if not 0 <= float(self.params["image_dropout"]) < 1:
            raise ValueError("dsah: image_dropout must lie in [0, 1)")

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, hidden = len(x), int(p["hidden"])
        image_hidden = [hidden] if p["image_net"] == "mlp" else []
        dropout = float(p["image_dropout"]) if p["image_net"] == "mlp" else 0.0
        nets = {"image": image_network(x.shape[1], image_hidden, bits, dropout),
                "text": MLP(y.shape[1], [hidden], bits)}
        decoders = build_decoders(x.shape[1], y.shape[1], bits)
        for m in (*nets.values(), decoders):
            m.to(x.device)
        self.nets[bits] = nets
        # each decoder belongs to the network whose codes it reads (models.py:15,42)
        groups = [{"params": [*nets["image"].parameters(),
                              *decoders["text_from_image"].parameters()],
                   "lr": float(p["lr_image"])},
                  {"params": [*nets["text"].parameters(),
                              *decoders["image_from_text"].parameters()],
                   "lr": float(p["lr_text"])}]
        # SGD with Nesterov momentum as the reference (train.py:64-72)
        opt = make_optimizer(p["optimizer"], groups, momentum=float(p["momentum"]),
                             weight_decay=float(p["weight_decay"]), nesterov=bool(p["nesterov"]))
        weights = {name: float(p[name]) for name in ("diagonal", "reconstruction", "symmetry")}

        def batch_terms(epoch: int, idx: torch.Tensor, scale: float) -> dict[str, torch.Tensor]:
            xb, yb = x[idx], y[idx]
            hx = torch.tanh(scale * nets["image"](xb))
            hy = torch.tanh(scale * nets["text"](yb))
            with torch.no_grad():
                s, s_i, s_t = dsah_affinities(xb, yb, float(p["alpha"]), float(p["k"]))
            dec_image, dec_text = decode(decoders, hx, hy, p["decoder_input"])
            return dsah_terms(hx, hy, dec_image, dec_text, xb, yb, s, s_i, s_t,
                              float(p["k"]), float(p["eta"]), **weights)

        self.run_epochs({**nets, "decoders": decoders}, opt, n, bits, gen, ctx, report,
                        batch_terms)
