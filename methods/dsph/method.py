"""DSPH: network, proxy loss, code-table threshold (QinLab-WFU/DSPH@078b1a1, utils/utils.py:11-70,
utils/get_args.py:49-50). See methods/dsph/README.md for every option and deviation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.encoders.backbone import Backbone, projected_dim
from bench.methods.dsph import SPEC
from bench.training.layers import TwoHeadCLIP
from bench.training.method import CLIPHashMethod

SCHEDULES = {
    # the reference's get_args: 100 epochs, batch 64 (its example command uses 128), encoding
    # in batches of the training size, every training pair
    "reference": {"epochs": 100, "batch_size": 64, "eval_batch_size": 64, "max_train": None},
    # the default generated data on a CPU: PromptHash's quick budget
    "quick": {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_train": 2000},
}


def griesmer_distance(length: int, dimension: int) -> int:
    """The largest d allowed by the Griesmer bound for a binary linear [length, dimension]
    code: sum_{i<dimension} ceil(d / 2^i) <= length."""
    if dimension <= 0:
        return length
    d = 0
    while sum(math.ceil((d + 1) / 2 ** i) for i in range(dimension)) <= length:
        d += 1
    return d


#: Minimum distances d of the reference's ``utils/codetable.xlsx`` (QinLab-WFU/DSPH@078b1a1,
#: read by ``utils/get_args.py:49-50``; the cell is the cosine 1 - 2d/length) for the usual code
#: lengths and 1..10 message bits (up to 1,024 classes). Facts transcribed from the spreadsheet.
CODE_TABLE: dict[int, tuple[int, ...]] = {
    8: (8, 5, 4, 4, 2, 2, 2, 1),
    12: (12, 8, 6, 6, 4, 4, 4, 3, 2, 2),
    16: (16, 10, 8, 8, 8, 6, 6, 5, 4, 4),
    24: (24, 16, 13, 12, 12, 10, 10, 8, 8, 8),
    32: (32, 21, 18, 16, 16, 16, 14, 13, 12, 12),
    48: (48, 32, 27, 24, 24, 24, 22, 22, 20, 20),
    64: (64, 42, 36, 33, 32, 32, 32, 29, 28, 28),
    96: (96, 64, 54, 50, 48, 48, 48, 46, 44, 44),
    128: (128, 85, 72, 68, 64, 64, 64, 64, 60, 60),
    256: (256, 170, 146, 136, 131, 128, 128, 128, 128, 124),
}


def code_table_threshold(bits: int, n_classes: int) -> float:
    """The negative-pair cosine threshold for ``bits``-bit codes and ``n_classes`` classes.

    The reference reads it from a spreadsheet (``codetable.xlsx``, row = bits, column
    m = ceil(log2 #classes)): the cosine 1 - 2d/bits between two codewords of the best known
    binary linear [bits, m] code, minimum distance d. :data:`CODE_TABLE` holds its d for the
    usual lengths; for any other length d falls back to the Griesmer bound (equal to the table
    wherever the bound is attained, e.g. 5 message bits at 16/32/64 bits: threshold 0).
    """
    m = max(1, math.ceil(math.log2(max(2, n_classes))))
    row = CODE_TABLE.get(bits, ())
    d = row[m - 1] if m <= len(row) else griesmer_distance(bits, m)
    return 1.0 - 2.0 * d / bits


class HashLayer(nn.Module):
    """tanh(dropout(Linear(dim, bits))) (the reference's LinearHash, default Linear init)."""

    def __init__(self, dim: int, bits: int, dropout: float = 0.2):
        super().__init__()
        self.fc = nn.Linear(dim, bits)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.drop(self.fc(x)))


def proxy_terms(h: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor,
                threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) proxy terms of one modality: mean of 1 - cos(h_i, p_c) over the
    (sample, class) entries with label 1; mean of ReLU(cos(h_i, p_c) - threshold) over those
    with label 0."""
    cos = F.normalize(h, dim=1) @ F.normalize(proxies, dim=1).t()
    pos_mask, neg_mask = labels == 1, labels == 0
    pos = torch.where(pos_mask, 1 - cos, torch.zeros_like(cos)).sum() / pos_mask.sum().clamp_min(1)
    neg = torch.where(neg_mask, F.relu(cos - threshold),
                      torch.zeros_like(cos)).sum() / neg_mask.sum().clamp_min(1)
    return pos, neg


def irrelevant_pair_terms(h_img: torch.Tensor, h_txt: torch.Tensor, labels: torch.Tensor,
                          threshold: float, alpha: float) -> dict[str, torch.Tensor]:
    """alpha · mean ReLU(cos - threshold) over pairs of multi-label samples (> 1 label) that share
    no label, image-image, text-text and image-text; zeros when there is no such pair."""
    multi = labels.sum(dim=1) > 1
    lab, hi, ht = labels[multi], h_img[multi], h_txt[multi]
    none = (lab @ lab.t()) == 0
    zero = (h_img.sum() + h_txt.sum()) * 0.0  # keeps the graph, value 0
    if alpha <= 0 or not bool(none.any()):
        return {"pair_ii": zero, "pair_tt": zero, "pair_it": zero}
    count = none.sum()
    ni, nt = F.normalize(hi, dim=1), F.normalize(ht, dim=1)

    def hinge(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        sim = alpha * F.relu(a @ b.t() - threshold)
        return torch.where(none, sim, torch.zeros_like(sim)).sum() / count

    return {"pair_ii": hinge(ni, ni), "pair_tt": hinge(nt, nt), "pair_it": hinge(ni, nt)}


class DSPH(CLIPHashMethod):
    """DSPH as the reference code behaves (README: options and deviations)."""

    spec = SPEC
    SCHEDULES = SCHEDULES

    def build_network(self, backbone: Backbone) -> nn.Module:
        dim, bits, drop = projected_dim(backbone.clip), self.bits[0], float(self.params["dropout"])
        return TwoHeadCLIP(backbone.clip, HashLayer(dim, bits, drop), HashLayer(dim, bits, drop))

    def begin_fit(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> None:
        """The class proxies (training-only: they are not needed to encode, so not saved)."""
        p = self.params
        n_classes = int(labels.shape[1])
        proxies = torch.empty(n_classes, self.bits[0])
        nn.init.kaiming_normal_(proxies, mode="fan_out",
                                generator=torch.Generator().manual_seed(int(p["proxy_seed"])))
        self.proxies = nn.Parameter(proxies.to(self.device))
        self.threshold = (code_table_threshold(self.bits[0], n_classes)
                          if p["threshold"] is None else float(p["threshold"]))
        self.extra_optimizers = [torch.optim.SGD(
            [self.proxies], lr=float(p["proxy_lr"]), momentum=float(p["proxy_momentum"]),
            weight_decay=float(p["proxy_weight_decay"]))]

    def loss_terms(self, rows: torch.Tensor, images: torch.Tensor, captions: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.net is not None
        h_img, h_txt = self.net(images, captions)
        lab = labels[rows]
        terms: dict[str, torch.Tensor] = {}
        terms["proxy_pos_i"], terms["proxy_neg_i"] = proxy_terms(h_img, self.proxies, lab,
                                                                 self.threshold)
        terms["proxy_pos_t"], terms["proxy_neg_t"] = proxy_terms(h_txt, self.proxies, lab,
                                                                 self.threshold)
        terms.update(irrelevant_pair_terms(h_img, h_txt, lab, self.threshold,
                                           float(self.params["alpha"])))
        return terms

    def batch_codes(self, images: torch.Tensor,
                    captions: torch.Tensor) -> dict[str, dict[int, torch.Tensor]]:
        assert self.net is not None
        h_img, h_txt = self.net(images, captions)
        b = self.bits[0]
        return {"image": {b: h_img}, "text": {b: h_txt}}
