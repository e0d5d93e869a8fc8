"""DCHMT: the "select" hash layer and the label-similarity loss (kalenforn/DCHMT@79bd5e6,
model/hash_model.py, train/hash_train.py:153-272). See methods/dchmt/README.md for every option
and deviation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.encoders.backbone import Backbone, projected_dim
from bench.methods.dchmt import SPEC
from bench.training.layers import TwoHeadCLIP
from bench.training.method import CLIPHashMethod
from bench.training.optim import BertAdam

SCHEDULES = {
    # the reference's example command: batch 256, hash-layer lr 1e-4, 100 epochs (get_args),
    # encoding in batches of the training size, every training pair
    "reference": {"epochs": 100, "batch_size": 256, "eval_batch_size": 256, "max_train": None,
                  "lr": 1e-4},
    # the default generated data on a CPU: the CLIP methods' common quick budget (2,000 pairs,
    # 3 epochs, batch 64) with the lr the reference's get_args pairs with batch 64 (1e-3,
    # utils/get_args.py:26,34); 1e-4 moves the hash layers too little in ~93 steps (README)
    "quick": {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_train": 2000,
              "lr": 1e-3},
}


def kaiming_fan_out_(linear: nn.Linear) -> None:
    """The reference's init of its hash layers: Kaiming-uniform weights (fan_out), zero bias."""
    nn.init.kaiming_uniform_(linear.weight, mode="fan_out")
    nn.init.zeros_(linear.bias)


class SelectHash(nn.Module):
    """Linear(dim, hidden)-ReLU, then for every bit a Linear(hidden, 2) and a softmax over the
    pair (one Linear(hidden, 2K) initialised slice by slice exactly like K separate layers).
    Returns (B, K, 2) probabilities; bit k is +1 where the second is larger."""

    def __init__(self, dim: int, bits: int, hidden: int = 128):
        super().__init__()
        self.bits = bits
        self.fc = nn.Linear(dim, hidden)
        kaiming_fan_out_(self.fc)
        self.select = nn.Linear(hidden, 2 * bits)
        with torch.no_grad():
            for k in range(bits):
                part = nn.Linear(hidden, 2)
                kaiming_fan_out_(part)
                self.select.weight[2 * k:2 * k + 2] = part.weight
            nn.init.zeros_(self.select.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.select(torch.relu(self.fc(x))).view(x.shape[0], self.bits, 2)
        return torch.softmax(logits, dim=-1)


class LinearHash(nn.Module):
    """tanh(dropout(Linear(dim, bits))), Kaiming init as the reference (``hash_layer=linear``)."""

    def __init__(self, dim: int, bits: int, dropout: float = 0.2):
        super().__init__()
        self.fc = nn.Linear(dim, bits)
        kaiming_fan_out_(self.fc)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.drop(self.fc(x)))


def hash_heads(dim: int, bits: int, layer: str, hidden: int) -> tuple[nn.Module, nn.Module]:
    """The image and text hash layers (``select`` or ``linear``)."""
    if layer == "select":
        return SelectHash(dim, bits, hidden), SelectHash(dim, bits, hidden)
    if layer == "linear":
        return LinearHash(dim, bits), LinearHash(dim, bits)
    raise ValueError(f"dchmt: hash_layer must be select or linear, not {layer!r}")


def similarity_terms(a: torch.Tensor, b: torch.Tensor, sim: torch.Tensor, bits: int,
                     p: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) terms of the reference's similarity loss between rows of ``a`` and
    ``b`` (flattened hash outputs) for the label similarity ``sim`` (1: share a label).

    euclidean: d = ‖a_i − b_j‖; positives d, negatives max(0, m − d) with m = sqrt(2·bits·ϑ)
    (the distance of codes differing in ϑ·bits bits). cosine: d = 1 − cos; positives
    max(d, t) − t (t = ``sim_threshold``), negatives 1 − min(d, 1). ``l2`` squares both, ``l1``
    does not; each is the mean over the whole (B, B) matrix, the other pairs counting as 0.
    """
    if p["similarity"] == "euclidean":
        d = torch.cdist(a, b, p=2.0)
        margin = math.sqrt(2.0 * bits * float(p["vartheta"]))
        pos = d * sim
        neg = margin * (1 - sim) - (d * (1 - sim)).clamp(max=margin)
    elif p["similarity"] == "cosine":
        d = 1 - F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()
        t = float(p["sim_threshold"])
        pos = (d * sim).clamp(min=t) - t
        neg = (1 - sim) - (d * (1 - sim)).clamp(max=1.0)
    else:
        raise ValueError(f"dchmt: similarity must be euclidean or cosine, not {p['similarity']!r}")
    if p["loss_type"] == "l2":
        return pos.pow(2).mean(), neg.pow(2).mean()
    if p["loss_type"] == "l1":
        return pos.mean(), neg.mean()
    raise ValueError(f"dchmt: loss_type must be l1 or l2, not {p['loss_type']!r}")


def quantization_term(u: torch.Tensor) -> torch.Tensor:
    """½ · mean over rows of ‖sign(u) − u‖₂ (the reference's hash_loss)."""
    return 0.5 * (torch.sign(u) - u).pow(2).sum(dim=1).sqrt().mean()


def bit_values(h: torch.Tensor) -> torch.Tensor:
    """(B, K) relaxed bits in [-1, 1]: p(+1) − p(−1) for the select layer, tanh outputs as is."""
    return h[..., 1] - h[..., 0] if h.dim() == 3 else h


class DCHMT(CLIPHashMethod):
    """DCHMT as the reference code behaves (README: options and deviations)."""

    spec = SPEC
    SCHEDULES = SCHEDULES

    def hash_lr(self) -> float:
        """The hash layers' lr: ``lr``, or the schedule's when ``lr`` is None."""
        if self.params.get("lr") is not None:
            return float(self.params["lr"])
        return float((self.schedule or self.resolve_schedule(""))["lr"])

    def record_schedule(self, schedule: Mapping[str, Any]) -> None:
        super().record_schedule(schedule)
        if self.params.get("lr") is None:
            self.resolve_param("lr", float(schedule["lr"]))

    def param_groups(self) -> list[dict[str, Any]]:
        """CLIP at ``clip_lr``, the hash layers at :meth:`hash_lr`."""
        assert self.net is not None
        head = [*self.net.image_hash.parameters(), *self.net.text_hash.parameters()]
        groups = [{"params": self.clip_trainable, "lr": float(self.params["clip_lr"])},
                  {"params": head, "lr": self.hash_lr()}]
        return [g for g in groups if g["params"]]

    def make_optimizer(self, steps_per_epoch: int, epochs: int) -> BertAdam:
        p = self.params
        return BertAdam(self.param_groups(), lr=self.hash_lr(),
                        t_total=max(1, steps_per_epoch * epochs), warmup=float(p["warmup"]),
                        weight_decay=float(p["weight_decay"]),
                        max_grad_norm=float(p.get("max_grad_norm", 1.0)))

    def build_network(self, backbone: Backbone) -> nn.Module:
        p = self.params
        heads = hash_heads(projected_dim(backbone.clip), self.bits[0], str(p["hash_layer"]),
                           int(p["select_hidden"]))
        return TwoHeadCLIP(backbone.clip, *heads)

    def quantization_weight(self) -> float:
        w = self.params.get("w_quan")
        if w is not None:
            return float(w)
        return 0.0 if self.params["hash_layer"] == "select" else 1.0

    def loss_terms(self, rows: torch.Tensor, images: torch.Tensor, captions: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.net is not None
        h_img, h_txt = self.net(images, captions)
        lab = labels[rows]
        sim = (lab @ lab.t() > 0).float()
        bits = self.bits[0]
        flat_i, flat_t = h_img.reshape(len(rows), -1), h_txt.reshape(len(rows), -1)
        terms: dict[str, torch.Tensor] = {}
        for name, (a, b) in {"it": (flat_i, flat_t), "ii": (flat_i, flat_i),
                             "tt": (flat_t, flat_t)}.items():
            terms[f"sim_{name}_pos"], terms[f"sim_{name}_neg"] = similarity_terms(
                a, b, sim, bits, self.params)
        w = self.quantization_weight()
        if w > 0:
            terms["quan"] = w * 0.5 * (quantization_term(bit_values(h_img))
                                       + quantization_term(bit_values(h_txt)))
        return terms

    def batch_codes(self, images: torch.Tensor,
                    captions: torch.Tensor) -> dict[str, dict[int, torch.Tensor]]:
        assert self.net is not None
        h_img, h_txt = self.net(images, captions)
        b = self.bits[0]

        def code(h: torch.Tensor) -> torch.Tensor:  # select: argmax of the pair (ties: −1)
            return torch.where(h[..., 1] > h[..., 0], 1.0, -1.0) if h.dim() == 3 else h

        return {"image": {b: code(h_img)}, "text": {b: code(h_txt)}}
