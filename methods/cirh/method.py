"""CIRH (TKDE 2022) on frozen features; reference XizeWu/CIRH@0f6439d3cad0 (``my_opt.py``,
``models.py``, ``main_mir.py``).

**Affinity** over the whole training set (my_opt.py:189-208): S1 = a1·cos(X) + (1 − a1)·cos(Y);
each row's smallest ``zero_fraction`` entries are set to 0 (the reference zeroes K = 3,000 of
5,000); S2 = 2σ(S1) − 1 + I, symmetrised; S = a2·S1 + (1 − a2)·S2. A batch uses its block
S[idx, idx].

**Stage A** (the fusion net, :class:`FusionNet`; Adam 1e-3) on features mixed with two
in-batch neighbours, x̃ = 0.7·x + 0.2·x_(2) + 0.1·x_(3) (ranks by the batch's S; the reference's
index, my_opt.py:62-68 and 181-187, takes the 2nd and 3rd nearest other items,
``mix_neighbours="nearest"`` the 1st and 2nd):
modality encoders (Linear, BN, ReLU, ℓ2-norm), one GCN layer per modality over A = S[idx, idx],
a joint GCN over [[A, I], [I, A]] on both modalities, H_I / H_J / H_T heads and
H = tanh(BN(fc[H_I, H_J, H_T])), B = sgn(H). Loss: λ1·(MSE(Dec_I(H + tanh H_I), x̃) +
MSE(Dec_T(H + tanh H_T), ỹ)) + λ2·Σ_{Z∈{H_I,H_T,H}} MSE(cos(Z), A) + MSE(H, B)
(my_opt.py:77-78, 210-224; the network is models.py:8-116).

**Stage B** (after every stage-A epoch; Adam 1e-4): per-modality hash nets (image d → 4096 → L,
text d → d → L, dropout 0.3, last layer initialised N(0, 1), tanh) on the plain features regress
the epoch's B: MSE(h_I, B) + MSE(h_T, B) + MSE(h_I, h_T) + β·(three code-cosine MSEs to S)
(my_opt.py:97-141; nets models.py:119-155). The reference takes that S block by the chunk's
position in the *unshuffled* training order while B and the features are in the epoch's
shuffled order (my_opt.py:104-126; ``stage_b_affinity="reference"``, the default;
``"aligned"`` uses the items' own block).

Encoding uses the stage-B hash nets alone (dropout off), so an item's code never depends on
other items; the fusion net's batch statistics only shape the training targets. The epoch with
the best validation score (every 10 epochs) is kept, as the reference keeps its best
evaluation (there on the query set; here ctx.validate(), never the query set).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.method import DeepHashing, report_due
from bench.deep.nets import MLP
from bench.deep.similarity import code_similarity_mse, cosine
from bench.deep.training import LossLog, ValidationSelector, epoch_batches
from bench.methods.cirh import SPEC
from bench.plugins import FitContext

#: ``mix_neighbours`` -> the neighbour ranks mixed in with weights[1] and weights[2]
MIX_RANKS = {"reference": (2, 3), "nearest": (1, 2)}


def cirh_affinity(x: torch.Tensor, y: torch.Tensor, a1: float, a2: float,
                  zero_fraction: float) -> torch.Tensor:
    """The training-set affinity S of the module docstring (n, n)."""
    s1 = a1 * cosine(x) + (1 - a1) * cosine(y)
    n_zero = int(round(zero_fraction * s1.shape[1]))
    if n_zero > 0:
        smallest = s1.topk(n_zero, dim=1, largest=False).indices
        s1 = s1.scatter(1, smallest, 0.0)
    s2 = 2 * torch.sigmoid(s1) - 1 + torch.eye(len(s1), device=s1.device)
    s2 = (s2 + s2.T) / 2
    return a2 * s1 + (1 - a2) * s2


def neighbour_mix(x: torch.Tensor, s: torch.Tensor, weights: list[float],
                  ranks: tuple[int, int]) -> torch.Tensor:
    """weights[0]·x + weights[1]·x[r0-th nearest] + weights[2]·x[r1-th nearest] by the rows of
    ``s`` (rank 0 is the row's largest entry, normally the item itself)."""
    order = s.argsort(dim=1, descending=True)
    ranks = (min(ranks[0], s.shape[1] - 1), min(ranks[1], s.shape[1] - 1))  # tiny last batch
    return weights[0] * x + weights[1] * x[order[:, ranks[0]]] + weights[2] * x[order[:, ranks[1]]]


def stage_a_loss(out: dict[str, torch.Tensor], xm: torch.Tensor, ym: torch.Tensor,
                 a: torch.Tensor, lam1: float, lam2: float) -> dict[str, torch.Tensor]:
    """Stage A's loss (``loss_a``) and its terms: λ1·reconstruction of the mixed features
    + λ2·Σ MSE(cos(Z), A) over Z ∈ {H_I, H_T, H} + MSE(H, B)."""
    recon = F.mse_loss(out["dec_x"], xm) + F.mse_loss(out["dec_y"], ym)
    affinity = sum(code_similarity_mse(out[k], out[k], a) for k in ("h_x", "h_y", "h"))
    quant = F.mse_loss(out["h"], out["b"])
    return {"loss_a": lam1 * recon + lam2 * affinity + quant, "reconstruction": recon,
            "affinity": affinity, "quantisation": quant}


def stage_b_loss(hx: torch.Tensor, hy: torch.Tensor, b: torch.Tensor, s: torch.Tensor,
                 beta: float) -> dict[str, torch.Tensor]:
    """Stage B's loss (``loss_b``) and its terms: distillation of B + β·code-cosine MSEs to S."""
    distil = F.mse_loss(hx, b) + F.mse_loss(hy, b) + F.mse_loss(hx, hy)
    sim = (code_similarity_mse(hx, hy, s) + code_similarity_mse(hx, hx, s)
           + code_similarity_mse(hy, hy, s))
    return {"loss_b": distil + beta * sim, "distillation": distil, "similarity": sim}


class FusionNet(nn.Module):
    """CIRH's stage-A network (see the module docstring)."""

    def __init__(self, dx: int, dy: int, width: int, bits: int):
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU())

        self.enc_x, self.enc_y = block(dx, width), block(dy, width)
        self.gcn_x, self.gcn_y, self.gcn_j = (nn.Linear(width, width) for _ in range(3))
        self.bn_x, self.bn_y, self.bn_j = (nn.BatchNorm1d(width) for _ in range(3))
        self.head_j = nn.Sequential(nn.Linear(width, bits), nn.BatchNorm1d(bits))
        self.head_x = nn.Sequential(nn.Linear(2 * width, bits), nn.BatchNorm1d(bits))
        self.head_y = nn.Sequential(nn.Linear(2 * width, bits), nn.BatchNorm1d(bits))
        self.fuse = nn.Sequential(nn.Linear(3 * bits, bits), nn.BatchNorm1d(bits))
        self.dec_x = nn.Sequential(block(bits, width), nn.Linear(width, dx), nn.BatchNorm1d(dx))
        self.dec_y = nn.Sequential(block(bits, width), nn.Linear(width, dy), nn.BatchNorm1d(dy))

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                adjacency: torch.Tensor) -> dict[str, torch.Tensor]:
        m = len(x)
        vx, vy = F.normalize(self.enc_x(x), dim=1), F.normalize(self.enc_y(y), dim=1)
        gx = torch.relu(self.bn_x(adjacency @ self.gcn_x(vx)))
        gy = torch.relu(self.bn_y(adjacency @ self.gcn_y(vy)))
        eye = torch.eye(m, device=x.device)
        joint_graph = torch.cat([torch.cat([adjacency, eye], 1), torch.cat([eye, adjacency], 1)])
        gj = self.bn_j(joint_graph @ self.gcn_j(torch.cat([vx, vy])))
        vj = torch.relu(gj[:m] + gj[m:])
        hj = self.head_j(vj)
        hx = self.head_x(torch.cat([gx, vj], 1))
        hy = self.head_y(torch.cat([vj, gy], 1))
        h = torch.tanh(self.fuse(torch.cat([hx, hj, hy], 1)))
        return {"h_x": hx, "h_y": hy, "h": h, "b": torch.where(h >= 0, 1.0, -1.0),
                "dec_x": self.dec_x(h + torch.tanh(hx)), "dec_y": self.dec_y(h + torch.tanh(hy))}


class StageBHashNet(nn.Module):
    """d → hidden → L with ReLU, dropout before the last layer (initialised N(0, 1)), tanh."""

    def __init__(self, dim: int, hidden: int, bits: int, dropout: float):
        super().__init__()
        self.mlp = MLP(dim, [hidden], bits, dropout=dropout)
        nn.init.normal_(self.mlp.body[-1].weight, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp(x))


class CIRH(DeepHashing):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        self.option("mix_neighbours", ("reference", "nearest"))
        self.option("stage_b_affinity", ("reference", "aligned"))
        self.positive("lr_fusion", "lr_hash", "fusion_width", "image_hidden")
        if not 0 <= float(p["zero_fraction"]) < 1:
            raise ValueError("cirh: zero_fraction must lie in [0, 1)")
        if len(p["mix_weights"]) != 3:
            raise ValueError("cirh: mix_weights needs three weights (self, two neighbours)")

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, dev = len(x), x.device
        fusion = FusionNet(x.shape[1], y.shape[1], int(p["fusion_width"]), bits).to(dev)
        nets = {"image": StageBHashNet(x.shape[1], int(p["image_hidden"]), bits,
                                       float(p["dropout"])).to(dev),
                "text": StageBHashNet(y.shape[1], y.shape[1], bits, float(p["dropout"])).to(dev)}
        self.nets[bits] = nets
        s_all = cirh_affinity(x, y, float(p["a1"]), float(p["a2"]), float(p["zero_fraction"]))
        opt_a = torch.optim.Adam(fusion.parameters(), lr=float(p["lr_fusion"]))
        opt_b = torch.optim.Adam([q for net in nets.values() for q in net.parameters()],
                                 lr=float(p["lr_hash"]))
        ranks = MIX_RANKS[p["mix_neighbours"]]
        weights = [float(w) for w in p["mix_weights"]]
        lam1, lam2, beta = float(p["lambda1"]), float(p["lambda2"]), float(p["beta"])
        epochs, bs = int(p["epochs"]), int(p["batch_size"])
        selector = ValidationSelector(ctx.validate, nets, int(p["val_every"]),
                                      report and p["selection"] == "validation")
        for epoch in range(epochs):
            fusion.train()
            log_a, codes, order = LossLog(), [], []
            for idx in epoch_batches(n, bs, gen, drop_last=False):
                idx = idx.to(dev)
                a = s_all[idx][:, idx]
                xm = neighbour_mix(x[idx], a, weights, ranks)
                ym = neighbour_mix(y[idx], a, weights, ranks)
                out = fusion(xm, ym, a)
                terms = stage_a_loss(out, xm, ym, a, lam1, lam2)
                opt_a.zero_grad(set_to_none=True)
                terms["loss_a"].backward()
                opt_a.step()
                codes.append(out["b"].detach())
                order.append(idx)
                log_a.add(terms, len(idx))
            log_b = self._stage_b(nets, opt_b, x, y, torch.cat(codes), torch.cat(order), s_all,
                                  beta, bs, p["stage_b_affinity"] == "reference")
            if report and report_due(epoch, epochs, int(p["report_every"])):
                ctx.report(epoch + 1, **log_a.means(), **log_b.means())
            selector.after_epoch(epoch, epochs)
        selector.finish(self.info[bits])

    @staticmethod
    def _stage_b(nets: dict[str, nn.Module], opt: torch.optim.Optimizer, x: torch.Tensor,
                 y: torch.Tensor, b: torch.Tensor, order: torch.Tensor, s_all: torch.Tensor,
                 beta: float, bs: int, positional: bool) -> LossLog:
        """One pass of the hash nets over the epoch's codes, in the epoch's order."""
        for net in nets.values():
            net.train()
        log = LossLog()
        for c in range(math.ceil(len(order) / bs)):
            sl = slice(c * bs, (c + 1) * bs)
            idx = order[sl]
            rows = torch.arange(len(order), device=idx.device)[sl] if positional else idx
            s = s_all[rows][:, rows]
            terms = stage_b_loss(nets["image"](x[idx]), nets["text"](y[idx]), b[sl], s, beta)
            opt.zero_grad(set_to_none=True)
            terms["loss_b"].backward()
            opt.step()
            log.add(terms, len(idx))
        return log
