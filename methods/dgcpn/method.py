"""DGCPN (AAAI 2021) on frozen features, rebuilt from Atmegal/DGCPN@9f62c56 (``train_div.py``,
``train.py``, ``models.py``, ``load_data.py``; the paper's main script is ``train.py``, which
drives ``train_div.Session``).

**Affinity** over the whole training set (train_div.py:46-49, 78-103), features ℓ2-normalised:

* S_pair = a1·cos(Y) + (1 − a1)·cos(X) (a1 = 0.01 weights the *text* cosine);
* P = S_pair with each row's ``knn_number`` smallest entries and its largest one (the item
  itself) zeroed, then divided by its row sum; pro_dis = scale · P Pᵀ (graph-neighbour
  coherence: the overlap of two items' weighted neighbour sets);
* S = 2·((1 − a2)·S_pair + a2·pro_dis) − 1; a batch uses its block S[idx, idx] (line 152).

**Loss** on ℓ2-normalised relaxed codes B = tanh(hid) (train_div.py:105-131):
MSE(diag(B_I B_Tᵀ), K) + dw·Σ MSE(off-diagonal of B_T B_Tᵀ, B_I B_Tᵀ, B_I B_Iᵀ vs S)
+ cw·(MSE(B_I B_Tᵀ, B_I B_Iᵀ) + MSE(B_I B_Tᵀ, B_T B_Tᵀ) + MSE(B_I B_Iᵀ, B_T B_Tᵀ)
+ MSE(B_I B_Tᵀ, (B_I B_Tᵀ)ᵀ)), K = 1.5 a target for the paired cosines.

**Three updates per batch** (train_div.py:149-172): both nets on the joint loss; then, after a
fresh forward of both nets, the image net against the text net's detached sign codes and the
text net against the image net's detached sign codes (from that same forward).

Networks (models.py:9-52): d → 4096 → ReLU → dropout 0.5 → L, codes tanh(hid) with α = 1 (the
√(t+1) schedule is commented out, train_div.py:138-139); the text net's last weight is drawn
from N(0, 0.3²) (models.py:44). SGD lr 0.005, momentum 0.9, weight decay 5e-4 per net, batches
of 32 without dropping the last one, 100 epochs; the best validation epoch is kept, stopping
after more than 10 evaluations without improvement (train.py:15-30).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.method import DeepHashing, report_due
from bench.deep.nets import MLP
from bench.deep.training import LossLog, ValidationSelector, epoch_batches
from bench.methods.dgcpn import SPEC
from bench.plugins import FitContext

UPDATES = ("three", "joint")


def knn_number_for(n: int, knn_keep: float) -> int:
    """The reference's ``knn_number`` (entries zeroed per row besides the item itself) for ``n``
    training pairs: n − K with K = round(knn_keep·n) kept neighbours (train.py:55-61: the
    paper's K = 5,000 − knn_number, 2,000 of 5,000), at least 2 so a row keeps one entry."""
    keep = min(n, max(2, math.floor(knn_keep * n + 0.5)))
    return n - keep


def neighbour_coherence(s_pair: torch.Tensor, knn_number: int, scale: float) -> torch.Tensor:
    """pro_dis = scale · P Pᵀ, P = ``s_pair`` with each row's ``knn_number`` smallest entries
    and its largest entry zeroed, rows scaled to sum 1 (train_div.py:88-98)."""
    order = s_pair.argsort(dim=1)
    drop = torch.cat([order[:, :knn_number], order[:, -1:]], dim=1)
    p = s_pair.scatter(1, drop, 0.0)
    p = p / p.sum(dim=1, keepdim=True)
    return scale * (p @ p.T)


def dgcpn_affinity(x: torch.Tensor, y: torch.Tensor, a1: float, a2: float, knn_number: int,
                   scale: float) -> torch.Tensor:
    """The training-set affinity S (n, n) of the module docstring (train_div.py:78-103)."""
    xn, yn = F.normalize(x, dim=1), F.normalize(y, dim=1)
    s_pair = a1 * (yn @ yn.T) + (1 - a1) * (xn @ xn.T)
    pro_dis = neighbour_coherence(s_pair, knn_number, scale)
    return 2 * ((1 - a2) * s_pair + a2 * pro_dis) - 1


def dgcpn_loss(code_i: torch.Tensor, code_t: torch.Tensor, s: torch.Tensor, K: float,
               dw: float, cw: float) -> dict[str, torch.Tensor]:
    """The reference's ``loss_cal`` (train_div.py:105-131); ``"loss"`` is the total."""
    bi, bt = F.normalize(code_i, dim=1), F.normalize(code_t, dim=1)
    ii, tt, it = bi @ bi.T, bt @ bt.T, bi @ bt.T
    pair = F.mse_loss(it.diagonal(), torch.full_like(it.diagonal(), K))
    off = 1 - torch.eye(len(s), dtype=s.dtype, device=s.device)
    target = s * off
    dis = (F.mse_loss(tt * off, target) + F.mse_loss(it * off, target)
           + F.mse_loss(ii * off, target))
    cons = (F.mse_loss(it, ii) + F.mse_loss(it, tt) + F.mse_loss(ii, tt)
            + F.mse_loss(it, it.T))
    return {"loss": pair + dw * dis + cw * cons, "pair": pair, "distance": dis,
            "consistency": cons}


def dgcpn_step(nets: dict[str, nn.Module], opts: dict[str, torch.optim.Optimizer],
               xb: torch.Tensor, yb: torch.Tensor, s: torch.Tensor, K: float, dw: float,
               cw: float, updates: str = "three") -> dict[str, torch.Tensor]:
    """One batch of the reference (train_div.py:149-172); the joint update's loss terms.

    ``updates="joint"`` stops after the first (joint) update.
    """
    img, txt = nets["image"], nets["text"]
    terms = dgcpn_loss(torch.tanh(img(xb)), torch.tanh(txt(yb)), s, K, dw, cw)
    for opt in opts.values():
        opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    opts["image"].step()
    opts["text"].step()
    if updates == "joint":
        return terms
    code_i, code_t = torch.tanh(img(xb)), torch.tanh(txt(yb))
    loss_i = dgcpn_loss(code_i, code_t.sign().detach(), s, K, dw, cw)["loss"]
    opts["image"].zero_grad(set_to_none=True)
    loss_i.backward()
    opts["image"].step()
    loss_t = dgcpn_loss(code_i.sign().detach(), code_t, s, K, dw, cw)["loss"]
    opts["text"].zero_grad(set_to_none=True)
    loss_t.backward()
    opts["text"].step()
    return {**terms, "loss_image": loss_i.detach(), "loss_text": loss_t.detach()}


def hash_nets(dx: int, dy: int, bits: int, hidden: int, dropout: float,
              text_init_std: float) -> dict[str, MLP]:
    """ImgNet / TxtNet of models.py:9-52 on frozen features (hid, before the tanh)."""
    nets = {"image": MLP(dx, [hidden], bits, dropout), "text": MLP(dy, [hidden], bits, dropout)}
    if text_init_std > 0:
        nn.init.normal_(nets["text"].body[-1].weight, mean=0.0, std=text_init_std)
    return nets


class DGCPN(DeepHashing):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        p = self.params
        self.option("updates", UPDATES)
        self.positive("lr_image", "lr_text", "hidden", "scale")
        if not 0 < float(p["knn_keep"]) <= 1:
            raise ValueError("dgcpn: knn_keep must lie in (0, 1]")
        if not (0 <= float(p["a1"]) <= 1 and 0 <= float(p["a2"]) <= 1):
            raise ValueError("dgcpn: a1 and a2 must lie in [0, 1]")
        if not 0 <= float(p["dropout"]) < 1:
            raise ValueError("dgcpn: dropout must lie in [0, 1)")

    def prepare(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The global affinity; ``scale`` is per kept neighbour (reference: 4,000 = 2 · 2,000)."""
        p = self.params
        n = len(x)
        self.knn_number = knn_number_for(n, float(p["knn_keep"]))
        scale = float(p["scale"]) * (n - self.knn_number)
        self.global_affinity = dgcpn_affinity(x, y, float(p["a1"]), float(p["a2"]),
                                              self.knn_number, scale)

    def affinity(self, idx: torch.Tensor) -> torch.Tensor:
        return self.global_affinity[idx][:, idx]

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, dev = len(x), x.device
        nets = hash_nets(x.shape[1], y.shape[1], bits, int(p["hidden"]), float(p["dropout"]),
                         float(p["text_init_std"]))
        for net in nets.values():
            net.to(dev)
        self.nets[bits] = nets
        self.prepare(x, y)
        opts = {k: torch.optim.SGD(net.parameters(), lr=float(p[f"lr_{k}"]),
                                   momentum=float(p["momentum"]),
                                   weight_decay=float(p["weight_decay"]))
                for k, net in nets.items()}
        K, dw, cw = float(p["K"]), float(p["dw"]), float(p["cw"])
        epochs, patience = int(p["epochs"]), int(p["patience"])
        selector = ValidationSelector(ctx.validate, nets, int(p["val_every"]),
                                      report and p["selection"] == "validation")
        stale = 0
        for epoch in range(epochs):
            for net in nets.values():
                net.train()
            log = LossLog()
            for idx in epoch_batches(n, int(p["batch_size"]), gen, bool(p["drop_last"])):
                idx = idx.to(dev)
                terms = dgcpn_step(nets, opts, x[idx], y[idx], self.affinity(idx), K, dw, cw,
                                   p["updates"])
                log.add(terms, len(idx))
            score = selector.after_epoch(epoch, epochs)
            if score is not None:
                stale = 0 if selector.best_epoch == epoch + 1 else stale + 1
            stop = patience > 0 and stale > patience
            if report and (stop or report_due(epoch, epochs, int(p["report_every"]))):
                ctx.report(epoch + 1, **log.means())
            if stop:
                self.info[bits]["stopped_epoch"] = epoch + 1
                break
        selector.finish(self.info[bits])
        self.info[bits]["knn_number"] = self.knn_number
        if report:
            ctx.log(f"dgcpn: {bits} bits: knn_number {self.knn_number} of {n}; trained "
                    f"{self.info[bits].get('stopped_epoch', epochs)} epochs; selected epoch "
                    f"{self.info[bits].get('selected_epoch', 'last')}")
