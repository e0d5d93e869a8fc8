"""CAGAN (Li et al., Sensors 2023) on frozen features, after AwakerLee/AGAH@96e8b3c (CAGAN.zip).

Affinity of a batch (CAGAN.py:170-204): S_I = 2·cos(x) − 1 of the image features, S_T of the
text features (the reference: 2·sign(cos) − 1 of BoW tags; here 2·cos − 1 by default, option
``text_similarity``), S = μ·(η·S_I + β·S_T + λ·norm(S_I)·norm(S_T)ᵀ) with row-normalised factors
(so S is not symmetric).

Training only (CAGAN.py:117-133, models.py:53-98): besides the two hash MLPs, one GCN per
modality (d → 2048 → 1024 → L, ReLU, codes tanh(α·out)) reads the batch's (detached) input
features over the adjacency S + γ·W, with W a learned batch × batch matrix. Losses on
row-normalised codes (CAGAN.py:206-225):
  loss1 = MSE(B_I B_Iᵀ, S) + MSE(B_T B_Tᵀ, S)
  loss2 = MSE(B_I B_Tᵀ, S) + MSE(B_T B_Iᵀ, S) − mean_i ⟨b_I,i, b_T,i⟩
  loss3 = MSE(B_gI B_gTᵀ, S),   loss4 = MSE(S, B_gI B_Iᵀ) + MSE(S, B_gI B_Tᵀ)
  loss  = δ·loss1 + ε·(loss2 + loss3) + φ·loss4.
Encoding uses the hash MLPs only, per item (the GCNs need a batch and are never used there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.nets import MLP
from bench.deep.reconstruction import SimilarityReconstruction
from bench.deep.similarity import cosine, signed_cosine
from bench.deep.training import make_optimizer
from bench.methods.cagan import SPEC
from bench.plugins import FitContext

TEXT_SIMILARITIES = ("signed_cosine", "sign")


# --- pure functions (golden-tested) -------------------------------------------------------------

def image_similarity(x: torch.Tensor) -> torch.Tensor:
    """S_I = 2·cos − 1 (CAGAN.py:172-174)."""
    return signed_cosine(x)


def text_similarity(y: torch.Tensor, form: str = "signed_cosine") -> torch.Tensor:
    """S_T: ``"sign"`` is the reference's 2·sign(cos) − 1 (CAGAN.py:176-179; on BoW tags 1 for
    pairs sharing a tag, −1 otherwise); ``"signed_cosine"`` is 2·cos − 1 like S_I."""
    if form == "sign":
        return 2 * torch.sign(cosine(y)) - 1
    if form == "signed_cosine":
        return signed_cosine(y)
    raise ValueError(f"text_similarity must be one of {TEXT_SIMILARITIES}, got {form!r}")


def fused_affinity(x: torch.Tensor, y: torch.Tensor, eta: float, beta: float, lamb: float,
                   mu: float, text_form: str = "signed_cosine") -> torch.Tensor:
    """S = μ·(η·S_I + β·S_T + λ·norm(S_I)·norm(S_T)ᵀ), rows normalised (CAGAN.py:183-202)."""
    s_i, s_t = image_similarity(x), text_similarity(y, text_form)
    cross = F.normalize(s_i, dim=1) @ F.normalize(s_t, dim=1).T
    return mu * (eta * s_i + beta * s_t + lamb * cross)


def graph_adjacency(s: torch.Tensor, weight: torch.Tensor, gamma: float) -> torch.Tensor:
    """S + γ·W (models.py:66), W cut to the batch when a batch is smaller than W."""
    m = len(s)
    return s + gamma * weight[:m, :m]


def _mse_cos(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(a @ b.T, s)


def loss_terms(code_i: torch.Tensor, code_t: torch.Tensor, gcn_i: torch.Tensor,
               gcn_t: torch.Tensor, s: torch.Tensor, delta: float, epsilon: float,
               phi: float) -> dict[str, torch.Tensor]:
    """The four terms of CAGAN.py:206-225 on the relaxed codes and their weighted sum."""
    b_i, b_t = F.normalize(code_i, dim=1), F.normalize(code_t, dim=1)
    g_i, g_t = F.normalize(gcn_i, dim=1), F.normalize(gcn_t, dim=1)
    intra = _mse_cos(b_i, b_i, s) + _mse_cos(b_t, b_t, s)
    inter = _mse_cos(b_i, b_t, s) + _mse_cos(b_t, b_i, s) - (b_i * b_t).sum(dim=1).mean()
    gcn_pair = _mse_cos(g_i, g_t, s)
    gcn_align = _mse_cos(g_i, b_i, s) + _mse_cos(g_i, b_t, s)
    loss = delta * intra + epsilon * (inter + gcn_pair) + phi * gcn_align
    return {"loss": loss, "intra": intra, "inter": inter, "gcn_pair": gcn_pair,
            "gcn_align": gcn_align}


# --- the training-only graph branch -------------------------------------------------------------

class GraphConvolution(nn.Module):
    """adj · (x W) + b, W and b uniform in ±1/√out (Kipf & Welling; pygcn/layers.py:9-37)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1.0 / math.sqrt(out_dim)
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return adj @ (x @ self.weight) + self.bias


class GCNHash(nn.Module):
    """in_dim → widths[0] → widths[1] GCN layers (ReLU), a Linear to L bits, tanh(α·out), over
    S + γ·W with W a learned batch × batch matrix, Kaiming-uniform (models.py:53-74)."""

    def __init__(self, in_dim: int, widths: tuple[int, int], bits: int, batch_size: int,
                 gamma: float):
        super().__init__()
        self.gc1 = GraphConvolution(in_dim, widths[0])
        self.gc2 = GraphConvolution(widths[0], widths[1])
        self.linear = nn.Linear(widths[1], bits)
        self.weight = nn.Parameter(torch.empty(batch_size, batch_size))
        nn.init.kaiming_uniform_(self.weight)
        self.gamma = gamma

    def forward(self, x: torch.Tensor, s: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        adj = graph_adjacency(s, self.weight, self.gamma)
        h = torch.relu(self.gc1(x, adj))
        h = torch.relu(self.gc2(h, adj))
        return torch.tanh(scale * self.linear(h))


def batch_codes(nets: dict[str, nn.Module], gcns: dict[str, nn.Module], xb: torch.Tensor,
                yb: torch.Tensor, s: torch.Tensor, scale: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Relaxed codes of the hash nets and of the GCNs; the GCNs read detached features
    (CAGAN.py:117-124), so their terms reach the hash nets only through B_I and B_T."""
    code_i = torch.tanh(scale * nets["image"](xb))
    code_t = torch.tanh(scale * nets["text"](yb))
    gcn_i = gcns["image"](xb.detach(), s, scale)
    gcn_t = gcns["text"](yb.detach(), s, scale)
    return code_i, code_t, gcn_i, gcn_t


class CAGAN(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        self.option("text_similarity", TEXT_SIMILARITIES)
        self.positive("gcn_hidden", "gcn_mid", "mu")

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        return fused_affinity(x, y, float(p["eta"]), float(p["beta"]), float(p["lamb"]),
                              float(p["mu"]), str(p["text_similarity"]))

    def _modules(self, dx: int, dy: int, bits: int, n: int
                 ) -> tuple[dict[str, nn.Module], dict[str, nn.Module]]:
        """Hash MLPs then GCNs, in the reference's construction order (CAGAN.py:60-68); W is
        batch × batch, the batch being every pair when there are fewer than ``batch_size``."""
        p = self.params
        hidden = int(p["hidden"])
        nets = {"image": MLP(dx, [hidden] if p["image_net"] == "mlp" else [], bits),
                "text": MLP(dy, [hidden], bits)}
        widths = (int(p["gcn_hidden"]), int(p["gcn_mid"]))
        bs, gamma = min(int(p["batch_size"]), n), float(p["gamma"])
        gcns = {"image": GCNHash(dx, widths, bits, bs, gamma),
                "text": GCNHash(dy, widths, bits, bs, gamma)}
        return nets, gcns

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        nets, gcns = self._modules(x.shape[1], y.shape[1], bits, len(x))
        for m in (*nets.values(), *gcns.values()):
            m.to(x.device)
        self.nets[bits] = nets
        # one SGD per network in the reference (CAGAN.py:70-80): the GCN of a modality shares
        # that modality's learning rate; plain SGD per parameter group is the same update
        groups = [{"params": [*nets[k].parameters(), *gcns[k].parameters()],
                   "lr": float(p[f"lr_{k}"])} for k in ("image", "text")]
        opt = make_optimizer(p["optimizer"], groups, momentum=float(p["momentum"]),
                             weight_decay=float(p["weight_decay"]))
        weights = (float(p["delta"]), float(p["epsilon"]), float(p["phi"]))

        def batch_terms(epoch: int, idx: torch.Tensor, scale: float) -> dict[str, torch.Tensor]:
            xb, yb = x[idx], y[idx]
            with torch.no_grad():
                s = self.affinity(idx, xb, yb)
            return loss_terms(*batch_codes(nets, gcns, xb, yb, s, scale), s, *weights)

        modules = {**nets, **{f"gcn_{k}": g for k, g in gcns.items()}}
        self.run_epochs(modules, opt, len(x), bits, gen, ctx, report, batch_terms)
