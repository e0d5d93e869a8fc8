"""UCMFH (Information Fusion 2023) on frozen joint-space features; reference
XinyuXia97/UCMFH@116f015d512 (``ICMR.py``, ``model.py``, ``metric.py``, ``load_dataset.py``).

A Transformer encoder (2 layers, 4 heads, post-norm, ReLU feed-forward 2048, dropout 0.1) reads
each pair as a single token [x; y] (2d wide); its output is ℓ2-normalised over the 2d
dimensions and split into an image half and a text half (model.py:7-20). Per-modality heads
(ℓ2-normalise, d → 4096, ReLU, dropout 0.3, → L, tanh, ℓ2-normalise; model.py:23-62) give the
codes. Loss (ICMR.py:185-192): NT-Xent (temperature 0.5) between the two halves, each
ℓ2-normalised again first as the reference's ContrastiveLoss does (metric.py:11-23;
``normalize_halves=False``: their raw dot products, this plugin's version 1, which scored
0.780 / 0.779 against 0.765 / 0.760 I→T / T→I mAP@all on the default data, preset gnah, 160
pairs, 32 bits, seeds 0-2), + ``hash_weight`` (0.5) × NT-Xent between the image and text
codes; Adam with betas (0.5, 0.999), 1e-4 for the fusion encoder and 1e-3 for the heads (whose
MultiStepLR the reference steps every iteration: ×1.2 after 30 and 80 iterations; ICMR.py:40-49,
202-203); batch 128, 100 epochs, at most 4,992 training pairs (the reference's first 4,992,
load_dataset.py:51-53; here a seeded subset), the final model.

**Encoding one modality.** The reference encodes every query and database item from its
*paired* token [x; y], so an image query's code also reads its own text
(``fusion_input="paired"``): that is not image→text retrieval. The default ``"own_gap"`` reads
the item's own modality only: the missing half of the token is the item's feature moved across
the modality gap (x + (ȳ − x̄) for an image, y − (ȳ − x̄) for a text, with x̄, ȳ the training
means), at training (for each modality's branch) and at encoding alike. The reference's
evaluation also passes a whole evaluation batch as one unbatched sequence, so attention mixes
the 128 items of a batch at test time (not at training, where each item is its own sequence);
here every item is always its own one-token sequence, so codes never depend on other items.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.features import modality_features
from bench.deep.losses import cross_modal_nt_xent
from bench.deep.method import DeepHashing, report_due
from bench.deep.nets import MLP
from bench.deep.training import LossLog, ValidationSelector, epoch_batches
from bench.methods.ucmfh import SPEC
from bench.plugins import FitContext, Modality, PairedData


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, tau: float,
                     normalize: bool = True) -> torch.Tensor:
    """The reference's ContrastiveLoss (metric.py:11-23): NT-Xent over the ℓ2-normalised rows
    of ``a`` and ``b`` (the fusion halves are not unit-norm on their own); ``normalize=False``
    uses the rows' raw dot products instead (this plugin's version 1)."""
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    return cross_modal_nt_xent(a, b, tau)


def ucmfh_loss(fx: torch.Tensor, fy: torch.Tensor, cx: torch.Tensor | None,
               cy: torch.Tensor | None, tau: float, weight: float,
               normalize: bool = True) -> dict[str, torch.Tensor]:
    """The training loss (``loss``) and its terms: NT-Xent of the fusion halves ``fx``, ``fy``
    + ``weight`` × NT-Xent of the codes ``cx``, ``cy`` (ICMR.py:185-192); the fusion term
    alone when the codes are None (the fusion-only stage, ICMR.py:162-174)."""
    l_fusion = contrastive_loss(fx, fy, tau, normalize)
    if cx is None or cy is None:
        return {"loss": l_fusion, "fusion": l_fusion}
    l_hash = contrastive_loss(cx, cy, tau, normalize)
    return {"loss": l_fusion + weight * l_hash, "fusion": l_fusion, "hash": l_hash}


class FusionEncoder(nn.Module):
    """Transformer encoder over one [x; y] token per item -> (image half, text half), each
    from the ℓ2-normalised 2d-wide output."""

    def __init__(self, dim: int, layers: int, heads: int, feedforward: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(2 * dim, heads, feedforward, dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.dim = dim

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = F.normalize(self.encoder(tokens[:, None, :])[:, 0], dim=1)
        return out[:, :self.dim], out[:, self.dim:]


class HashHead(nn.Module):
    """ℓ2-normalise, d -> hidden -> L (ReLU, dropout), tanh, ℓ2-normalise."""

    def __init__(self, dim: int, hidden: int, bits: int, dropout: float):
        super().__init__()
        self.mlp = MLP(dim, [hidden], bits, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.tanh(self.mlp(F.normalize(x, dim=1))), dim=1)


class ModalityEncoder(nn.Module):
    """What encodes one modality: the fusion encoder's half for it, then its hash head."""

    def __init__(self, fusion: FusionEncoder, head: HashHead, half: int):
        super().__init__()
        self.fusion, self.head, self.half = fusion, head, half

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.fusion(tokens)[self.half])


class UCMFH(DeepHashing):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        self.option("fusion_input", ("own_gap", "paired"))
        self.positive("lr_fusion", "lr_heads", "temperature", "head_hidden")

    def tokens(self, x: torch.Tensor | None, y: torch.Tensor | None,
               modality: Modality) -> torch.Tensor:
        """The fusion tokens for items of ``modality`` (``x`` / ``y`` their features)."""
        if self.params["fusion_input"] == "paired":
            return torch.cat([x, y], dim=1)
        if modality == "image":
            return torch.cat([x, x + self.gap], dim=1)
        return torch.cat([y - self.gap, y], dim=1)

    def encoder_input(self, data: PairedData, modality: Modality) -> np.ndarray:
        if self.params["fusion_input"] == "paired":  # the reference reads both modalities
            x = modality_features(data, "image", "ucmfh")
            y = modality_features(data, "text", "ucmfh")
            return np.concatenate([x, y], axis=1)
        own = torch.from_numpy(modality_features(data, modality, "ucmfh"))
        pair = (own, None) if modality == "image" else (None, own)
        return self.tokens(*pair, modality).numpy()

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, d, dev = len(x), x.shape[1], x.device
        if y.shape[1] != d:
            raise ValueError(f"ucmfh needs image and text features in one joint embedding space "
                             f"(e.g. CLIP); got dimensions {d} and {y.shape[1]}")
        self.gap = (y.mean(0) - x.mean(0)).cpu()
        fusion = FusionEncoder(d, int(p["layers"]), int(p["heads"]), int(p["feedforward"]),
                               float(p["dropout"])).to(dev)
        heads = {m: HashHead(d, int(p["head_hidden"]), bits, float(p["head_dropout"])).to(dev)
                 for m in ("image", "text")}
        self.nets[bits] = {"image": ModalityEncoder(fusion, heads["image"], 0),
                           "text": ModalityEncoder(fusion, heads["text"], 1)}
        betas = (float(p["adam_beta1"]), 0.999)
        opt_f = torch.optim.Adam(fusion.parameters(), lr=float(p["lr_fusion"]), betas=betas)
        head_params = [q for h in heads.values() for q in h.parameters()]
        opt_h = torch.optim.Adam(head_params, lr=float(p["lr_heads"]), betas=betas)
        sched = torch.optim.lr_scheduler.MultiStepLR(
            opt_h, [int(v) for v in p["head_lr_milestones"]], gamma=float(p["head_lr_gamma"]))
        tau, w = float(p["temperature"]), float(p["hash_weight"])
        paired = p["fusion_input"] == "paired"
        normalize = bool(p["normalize_halves"])
        gap = self.gap.to(dev)
        selector = ValidationSelector(ctx.validate, {"fusion": fusion, **heads},
                                      int(p["val_every"]),
                                      report and p["selection"] == "validation")
        pre, epochs = int(p["fusion_epochs"]), int(p["epochs"])
        total = pre + epochs
        for epoch in range(total):
            hashing = epoch >= pre
            fusion.train()
            for h in heads.values():
                h.train()
            log = LossLog()
            for idx in epoch_batches(n, int(p["batch_size"]), gen, bool(p["drop_last"])):
                xb, yb = x[idx], y[idx]
                if paired:
                    fx, fy = fusion(torch.cat([xb, yb], dim=1))
                else:  # each modality's branch from its own token
                    fx = fusion(torch.cat([xb, xb + gap], dim=1))[0]
                    fy = fusion(torch.cat([yb - gap, yb], dim=1))[1]
                codes = (heads["image"](fx), heads["text"](fy)) if hashing else (None, None)
                terms = ucmfh_loss(fx, fy, *codes, tau, w, normalize)
                opt_f.zero_grad(set_to_none=True)
                opt_h.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt_f.step()
                if hashing:
                    opt_h.step()
                    sched.step()  # per iteration, as the reference
                log.add(terms, len(idx))
            if report and report_due(epoch, total, int(p["report_every"])):
                ctx.report(epoch + 1, **log.means())
            if hashing:
                selector.after_epoch(epoch - pre, epochs)
        selector.finish(self.info[bits])
