"""UCCH (TPAMI 2023) on frozen features (reference penghu-cs/UCCH@0c20e62b9987: UCCH.py,
NCE/NCEAverage.py, NCE/NCECriterion.py, src/utils.py, nets/ImageNet.py, nets/TextNet.py,
utils/config.py).

* Hash networks: image d → h → h → L, text d → h → L (Linear layers with ReLU between; the
  reference's 3 / 2 "hidden layers" count Linear layers), tanh, then ℓ2 normalisation.
* Contrastive hashing against a **momentum memory bank of binary codes**
  (:class:`MomentumCodeBank`): one row per training pair, initialised to normalise(sign(z − ½))
  for z ~ N(0, 1), so about 31 % of the bits are +1 (``memory_init=reference``, as
  NCEAverage.py:18-20; ``balanced`` = sign(z)); for pair i the scores are sign(m_j)ᵀh / (T·√L)
  for j = i (the positive) and K indices drawn uniformly from the bank (with replacement), and
  L_c is the softmax cross-entropy of the positive, for h = h^x and for h = h^y. After each
  step m_i ← normalise(ρ·m_i + (1 − ρ)·normalise((h^x_i + h^y_i)/2)). During the warm-up
  epoch ρ = 0 and the candidates are the batch's own (h^x + h^y)/2 (the pair itself first, the
  rest of the batch as negatives).
* **Cross-modal ranking loss** (:func:`cross_modal_ranking_loss`): for the score matrix
  s_ij = h^x_iᵀ h^y_j, entries below the positive minus the margin are shifted down by ``shift``
  (they are outside the margin); the loss is the log-sum-exp relaxation
  mean_i(−s_ii + log Σ_j e^{s'_ij} + margin) over rows and the same over columns.
* loss = α·L_c + (1 − α)·L_r; Adam (weight decay 1e-6), gradient norm clipped to 1, the epoch
  with the best validation score kept (the reference keeps the epoch with the best mAP on part
  of its retrieval set; here ctx.validate(), never the query set).

Deviations (README table): hidden width 2048 instead of 8192 (time on 2 CPU cores; the
reference value is ``hidden=8192``); with fewer pairs than one batch, the single batch holds
them all (the reference drops the incomplete batch and would not train at all).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.method import DeepHashing, report_due
from bench.deep.nets import MLP
from bench.deep.training import LossLog, ValidationSelector, epoch_batches
from bench.methods.ucch import SPEC
from bench.plugins import FitContext


def binary(t: torch.Tensor) -> torch.Tensor:
    """±1 of ``t``'s dtype, sign(0) = +1."""
    return torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


class HashNet(nn.Module):
    """An MLP with ``layers`` Linear layers, then tanh and ℓ2 normalisation."""

    def __init__(self, dim: int, hidden: int, bits: int, layers: int):
        super().__init__()
        self.mlp = MLP(dim, [hidden] * (layers - 1), bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.tanh(self.mlp(x)), dim=1)


class MomentumCodeBank:
    """UCCH's memory bank: one unit-norm row per training pair, read through sign()."""

    def __init__(self, n: int, bits: int, generator: torch.Generator,
                 device: torch.device | str = "cpu", init: str = "reference"):
        rows = torch.randn(n, bits, generator=generator).to(device)
        if init == "reference":  # sign(randn·2σ − σ) = sign(randn − 1/2): biased towards −1
            rows = rows - 0.5
        self.memory = F.normalize(binary(rows), dim=1)
        self.bits = bits

    def candidates(self, idx: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """(m, k+1, L) binary candidates: the pair's own row first, then k uniform draws."""
        draws = torch.randint(0, len(self.memory), (len(idx), k), generator=generator)
        rows = torch.cat([idx[:, None], draws.to(idx.device)], dim=1)
        return binary(self.memory[rows])

    @torch.no_grad()
    def update(self, idx: torch.Tensor, hx: torch.Tensor, hy: torch.Tensor,
               momentum: float) -> None:
        """m_i ← normalise(momentum·m_i + (1 − momentum)·normalise((h^x_i + h^y_i)/2))."""
        new = F.normalize((hx + hy) / 2, dim=1)
        mixed = momentum * self.memory[idx] + (1 - momentum) * new
        self.memory[idx] = F.normalize(mixed, dim=1)


def batch_candidates(hx: torch.Tensor, hy: torch.Tensor) -> torch.Tensor:
    """Warm-up candidates (m, m, L): sign of the batch's (h^x + h^y)/2, own pair first."""
    mean = binary((hx + hy) / 2)
    m = len(mean)
    order = torch.stack([torch.cat([torch.tensor([i]), torch.arange(m)[torch.arange(m) != i]])
                         for i in range(m)]).to(mean.device)
    return mean[order]


def contrastive_hashing_loss(cands: torch.Tensor, hx: torch.Tensor, hy: torch.Tensor,
                             temperature: float) -> torch.Tensor:
    """Softmax cross-entropy of candidate 0 for both modalities' codes; scores / (T·√L)."""
    t = temperature * math.sqrt(hx.shape[1])
    target = torch.zeros(len(hx), dtype=torch.long, device=hx.device)
    loss = 0.0
    for h in (hx, hy):
        logits = torch.bmm(cands, h[:, :, None])[:, :, 0] / t
        loss = loss + F.cross_entropy(logits, target)
    return loss


def cross_modal_ranking_loss(hx: torch.Tensor, hy: torch.Tensor, margin: float,
                             shift: float) -> torch.Tensor:
    """UCCH's CRL: log-sum-exp over each row (image anchor) and column (text anchor)."""
    s = hx @ hy.T
    pos = torch.diagonal(s)
    rows = torch.where(s >= pos[:, None] - margin, s, s - shift)
    cols = torch.where(s >= pos[None, :] - margin, s, s - shift)
    row_loss = (-pos + torch.logsumexp(rows, dim=1) + margin).mean()
    col_loss = (-pos + torch.logsumexp(cols, dim=0) + margin).mean()
    return row_loss + col_loss


class UCCH(DeepHashing):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        self.positive("lr", "temperature", "hidden", "negatives")
        if not 0 <= float(p["alpha"]) <= 1 or not 0 <= float(p["memory_momentum"]) < 1:
            raise ValueError("ucch: alpha must lie in [0, 1] and memory_momentum in [0, 1)")
        if int(p["image_layers"]) < 1 or int(p["text_layers"]) < 1:
            raise ValueError("ucch: image_layers and text_layers must be >= 1")
        self.option("memory_init", ("reference", "balanced"))

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, hidden, dev = len(x), int(p["hidden"]), x.device
        nets = {"image": HashNet(x.shape[1], hidden, bits, int(p["image_layers"])).to(dev),
                "text": HashNet(y.shape[1], hidden, bits, int(p["text_layers"])).to(dev)}
        self.nets[bits] = nets
        params = [q for net in nets.values() for q in net.parameters()]
        opt = torch.optim.Adam(params, lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(v) for v in p["lr_milestones"]],
                                                     gamma=0.1)
        bank = MomentumCodeBank(n, bits, gen, dev, str(p["memory_init"]))
        self.banks = getattr(self, "banks", {})
        self.banks[bits] = bank
        epochs, k = int(p["epochs"]), int(p["negatives"])
        alpha, temp = float(p["alpha"]), float(p["temperature"])
        selector = ValidationSelector(ctx.validate, nets, int(p["val_every"]),
                                      report and p["selection"] == "validation")
        for epoch in range(epochs):
            warm = epoch < int(p["warmup_epochs"])
            momentum = 0.0 if warm else float(p["memory_momentum"])
            for net in nets.values():
                net.train()
            log = LossLog()
            for idx in epoch_batches(n, int(p["batch_size"]), gen, bool(p["drop_last"])):
                idx = idx.to(dev)
                hx, hy = nets["image"](x[idx]), nets["text"](y[idx])
                cands = batch_candidates(hx, hy) if warm else bank.candidates(idx, k, gen)
                l_c = contrastive_hashing_loss(cands, hx, hy, temp)
                l_r = cross_modal_ranking_loss(hx, hy, float(p["margin"]), float(p["shift"]))
                loss = alpha * l_c + (1 - alpha) * l_r
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if float(p["clip_grad"]) > 0:
                    torch.nn.utils.clip_grad_norm_(params, float(p["clip_grad"]))
                opt.step()
                bank.update(idx, hx.detach(), hy.detach(), momentum)
                log.add({"loss": loss, "contrastive": l_c, "ranking": l_r}, len(idx))
            sched.step()
            if report and report_due(epoch, epochs, int(p["report_every"])):
                ctx.report(epoch + 1, **log.means())
            selector.after_epoch(epoch, epochs)
        selector.finish(self.info[bits])
