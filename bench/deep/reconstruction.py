"""The training loop shared by the similarity-reconstruction baselines (DJSRH and the methods
built on its code base: JDSH, DGCPN, DSAH, CAGAN; zzs1994/DJSRH, train.py).

Two MLP hash networks (image, text) on frozen features, mini-batches of 32 with the last partial
batch dropped, SGD with momentum and weight decay (one learning rate per network), relaxed codes
tanh(α_t·hid) with DJSRH's α_t = √(t+1) (t = epoch), and a loss that makes the cosine
similarities of the codes reproduce a target affinity matrix S of the batch built from the frozen
features. Subclasses define S (:meth:`affinity`, optionally from a matrix over the whole training
set built in :meth:`prepare`), the loss (:meth:`loss_terms`) and any extra modules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from bench.deep.method import DeepHashing, report_due
from bench.deep.nets import MLP
from bench.deep.training import LossLog, ValidationSelector, epoch_batches, make_optimizer
from bench.plugins import FitContext

#: Options of the shared loop (each subclass gives reference defaults in its SPEC).
LOOP_OPTIONS = ("epochs", "batch_size", "optimizer", "lr_image", "lr_text", "momentum",
                "weight_decay", "hidden", "image_net", "code_scale", "drop_last", "selection",
                "val_every", "report_every")


@dataclass
class Batch:
    """One mini-batch: positions ``idx`` in the training set, features, relaxed codes."""

    epoch: int
    idx: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    hx: torch.Tensor  #: tanh(α_t · hid) of the image net
    hy: torch.Tensor  #: tanh(α_t · hid) of the text net
    trunk_x: torch.Tensor  #: the image net's last hidden layer
    trunk_y: torch.Tensor


class SimilarityReconstruction(DeepHashing):
    """Template for DJSRH-family methods (see the module docstring)."""

    def check_params(self) -> None:
        super().check_params()
        self.option("optimizer", ("sgd", "adam"))
        self.option("image_net", ("mlp", "linear"))
        self.option("code_scale", ("sqrt_epoch", "none"))
        self.positive("lr_image", "lr_text", "hidden")

    # --- hooks ----------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> None:
        """Precompute anything over the whole training set (default: nothing)."""

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The target affinity of the batch (m, m), from frozen features only."""
        raise NotImplementedError

    def extra_modules(self, dx: int, dy: int, bits: int) -> dict[str, nn.Module]:
        """Further trained modules (decoders, graph branches); trained with ``lr_text``."""
        return {}

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        """Named loss terms; ``"loss"`` is the one minimised."""
        raise NotImplementedError

    # --- loop -----------------------------------------------------------------------------
    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int, gen: torch.Generator,
                    ctx: FitContext, report: bool) -> None:
        p = self.params
        n, hidden = len(x), int(p["hidden"])
        image_hidden = [hidden] if p["image_net"] == "mlp" else []
        nets = {"image": MLP(x.shape[1], image_hidden, bits),
                "text": MLP(y.shape[1], [hidden], bits)}
        extra = self.extra_modules(x.shape[1], y.shape[1], bits)
        dev = x.device
        for m in (*nets.values(), *extra.values()):
            m.to(dev)
        self.nets[bits] = nets
        self.prepare(x, y, gen)
        groups = [{"params": list(nets["image"].parameters()), "lr": float(p["lr_image"])},
                  {"params": list(nets["text"].parameters()), "lr": float(p["lr_text"])}]
        extra_params = [q for m in extra.values() for q in m.parameters()]
        if extra_params:
            groups.append({"params": extra_params, "lr": float(p["lr_text"])})
        opt = make_optimizer(p["optimizer"], groups, momentum=float(p["momentum"]),
                             weight_decay=float(p["weight_decay"]))

        def batch_terms(epoch: int, idx: torch.Tensor, scale: float) -> dict[str, torch.Tensor]:
            xb, yb = x[idx], y[idx]
            tx, ty = nets["image"].trunk(xb), nets["text"].trunk(yb)
            b = Batch(epoch=epoch, idx=idx, x=xb, y=yb,
                      hx=torch.tanh(scale * nets["image"].head(tx)),
                      hy=torch.tanh(scale * nets["text"].head(ty)), trunk_x=tx, trunk_y=ty)
            with torch.no_grad():
                s = self.affinity(idx, xb, yb)
            return self.loss_terms(b, s, extra)

        self.run_epochs({**nets, **extra}, opt, n, bits, gen, ctx, report, batch_terms)

    def run_epochs(self, modules: Mapping[str, nn.Module], opt: torch.optim.Optimizer, n: int,
                   bits: int, gen: torch.Generator, ctx: FitContext, report: bool,
                   batch_terms: Callable[[int, torch.Tensor, float], dict[str, torch.Tensor]]
                   ) -> None:
        """The epochs of the loop: seeded batches of the ``n`` training positions, code scale
        √(t+1) (``code_scale``), one optimiser step per batch on ``batch_terms(epoch, idx,
        scale)["loss"]``, per-epoch loss means reported, and selection of ``modules`` on
        ``ctx.validate()`` (``selection``). Methods with their own networks or optimiser
        (DSAH, CAGAN) call it with their own ``batch_terms``."""
        p = self.params
        epochs = int(p["epochs"])
        selector = ValidationSelector(ctx.validate, modules, int(p["val_every"]),
                                      report and p["selection"] == "validation")
        for epoch in range(epochs):
            scale = math.sqrt(epoch + 1.0) if p["code_scale"] == "sqrt_epoch" else 1.0
            for m in modules.values():
                m.train()
            log = LossLog()
            for idx in epoch_batches(n, int(p["batch_size"]), gen, bool(p["drop_last"])):
                terms = batch_terms(epoch, idx, scale)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                log.add(terms, len(idx))
            if report and report_due(epoch, epochs, int(p["report_every"])):
                ctx.report(epoch + 1, **log.means(), code_scale=scale)
            selector.after_epoch(epoch, epochs)
        selector.finish(self.info[bits])
