"""GNAH training loop and encoder (arXiv 2606.31517; no public code; see README.md)."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.deep.features import unit_rows
from bench.deep.nets import sign_codes
from bench.methods.gnah import CHOICES, SPEC
from bench.methods.gnah.anchors import (
    AnchorAccumulator,
    binarise,
    latent_prototypes,
    soft_assignment,
)
from bench.methods.gnah.losses import (
    neighbourhood_contrastive,
    neighbourhood_gaussian,
    prototype_kl,
    quantisation,
    sample_neighbour,
)
from bench.methods.gnah.networks import PairedHashNet
from bench.plugins import FitContext, HashMethod, Modality, PairedData, seeded_rows

#: Table 1 ablations -> (use l_p, use l_c, use l_b, positive, anchor type)
VARIANTS: dict[str, tuple[bool, bool, bool, str, str]] = {
    "full": (True, True, True, "neighbour", "binary"),
    "no_lp": (False, True, True, "neighbour", "binary"),
    "no_lc": (True, False, True, "neighbour", "binary"),
    "no_lb": (True, True, False, "neighbour", "binary"),
    "A": (True, True, True, "paired", "binary"),
    "B": (True, True, True, "neighbour", "continuous"),
    "C": (True, True, True, "neighbour", "centroid_hash"),
}
assert tuple(VARIANTS) == CHOICES["variant"], "VARIANTS and the spec's CHOICES disagree"


@dataclass(frozen=True)
class Config:
    """The checked hyperparameters of one run."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    beta: float
    gamma: float
    tau: float
    tau_p: float
    hidden: int
    k: int | str
    k_max: int
    kmeans_restarts: int
    noise: str
    nearest: str
    anchor_init: str
    quant: str
    preprocess: str
    variant: str
    selection: str
    val_every: int
    report_every: int

    @property
    def use_lp(self) -> bool:
        return VARIANTS[self.variant][0]

    @property
    def use_lc(self) -> bool:
        return VARIANTS[self.variant][1]

    @property
    def use_lb(self) -> bool:
        return VARIANTS[self.variant][2]

    @property
    def positive(self) -> str:
        return VARIANTS[self.variant][3]

    @property
    def anchors(self) -> str:
        return VARIANTS[self.variant][4]

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> Config:
        for name, allowed in CHOICES.items():
            if p[name] not in allowed:
                raise ValueError(f"gnah: {name} must be one of {', '.join(allowed)}; "
                                 f"got {p[name]!r}")
        k = p["k"] if isinstance(p["k"], str) else int(p["k"])
        cfg = cls(
            epochs=int(p["epochs"]), batch_size=int(p["batch_size"]), lr=float(p["lr"]),
            weight_decay=float(p["weight_decay"]), beta=float(p["beta"]),
            gamma=float(p["gamma"]), tau=float(p["tau"]),
            tau_p=float(p["tau"] if p["tau_p"] is None else p["tau_p"]), hidden=int(p["hidden"]),
            k=k, k_max=int(p["k_max"]), kmeans_restarts=int(p["kmeans_restarts"]),
            noise=p["noise"], nearest=p["nearest"], anchor_init=p["anchor_init"],
            quant=p["quant"], preprocess=p["preprocess"], variant=p["variant"],
            selection=p["selection"], val_every=int(p["val_every"]),
            report_every=int(p["report_every"]),
        )
        if not 0.0 <= cfg.beta <= 1.0 or cfg.gamma < 0:
            raise ValueError("gnah: need 0 <= beta <= 1 and gamma >= 0")
        if min(cfg.epochs, cfg.batch_size, cfg.hidden, cfg.val_every, cfg.report_every) < 1:
            raise ValueError("gnah: epochs, batch_size, hidden, val_every, report_every >= 1")
        if cfg.tau <= 0 or cfg.tau_p <= 0 or cfg.lr <= 0:
            raise ValueError("gnah: tau, tau_p and lr must be positive")
        return cfg


class GNAH(HashMethod):
    """Global-Neighborhood Alignment Hashing; one pair of hash networks per code length."""

    spec = SPEC
    selection_rule = "final epoch (paper)"

    def _features(self, data: PairedData, modality: Modality) -> np.ndarray:
        """Preprocessed features: ℓ2-normalised, optionally after removing the training mean."""
        x = data.image_features if modality == "image" else data.text_features
        if x is None:
            raise ValueError(f"gnah needs {modality} features")
        x = np.asarray(x, dtype=np.float32)
        if self.cfg.preprocess == "none":
            return x
        if self.cfg.preprocess == "center_l2":
            if modality not in self.means:  # fit time: the training mean of this modality
                self.means[modality] = unit_rows(x).mean(0)
            x = unit_rows(x) - self.means[modality]
        return unit_rows(x)

    def _cap_training(self, train: PairedData, ctx: FitContext) -> PairedData:
        """Apply ``max_train`` (see the spec): a seeded subset when the pool is larger."""
        cap = self.params.get("max_train", "auto")
        if cap == "auto":
            from bench import registry
            from bench.errors import PluginError

            try:
                generated = not registry.datasets.get(ctx.dataset).needs_root
            except PluginError:
                generated = False
            cap = 160 if generated else None
        self.resolve_param("max_train", cap)
        rows = seeded_rows(len(train), cap, self.seed)
        if rows is None:
            return train
        ctx.log(f"gnah: max_train={cap}: training on {cap} of {len(train)} pairs")
        return self.train_on_subset(train, rows)

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        train = self._cap_training(train, ctx)
        self.cfg = Config.from_params(self.params)
        if self.cfg.selection == "validation":
            self.selection_rule = f"best ctx.validate() every {self.cfg.val_every} epochs"
        self.means: dict[str, np.ndarray] = {}
        x, y = self._features(train, "image"), self._features(train, "text")
        if x.shape[1] != y.shape[1]:
            raise ValueError(
                f"gnah needs image and text features in one joint embedding space (e.g. CLIP); "
                f"got image dimension {x.shape[1]} and text dimension {y.shape[1]}")
        if len(x) < 4:
            raise ValueError(f"gnah needs at least 4 training pairs, got {len(x)}")
        self.models: dict[int, PairedHashNet] = {}
        self.info: dict[int, dict[str, Any]] = {}
        for i, bits in enumerate(self.bits):
            self._train(x, y, bits, ctx, report=i == 0)

    def _train(self, x_np: np.ndarray, y_np: np.ndarray, bits: int, ctx: FitContext,
               report: bool) -> None:
        cfg, dev = self.cfg, torch.device(self.device)
        n, d = x_np.shape
        gen = torch.Generator(device=dev).manual_seed(self.seed)
        proto = latent_prototypes(x_np, y_np, cfg.k, cfg.k_max, self.seed, cfg.kmeans_restarts)
        self.info[bits] = {"k": proto.k, "inertias": proto.inertias}
        self.resolve_param("k", proto.k)
        if report:
            ctx.log(f"gnah: K = {proto.k} latent prototypes ({cfg.k})")

        x, y = torch.from_numpy(x_np).to(dev), torch.from_numpy(y_np).to(dev)
        centroids = torch.from_numpy(proto.centroids).to(dev)
        # Fixed PAGA targets p = softmax(C^T f / tau) and their sum p log p.
        p_x, ne_x = soft_assignment(x, centroids, cfg.tau_p)
        p_y, ne_y = soft_assignment(y, centroids, cfg.tau_p)
        lab = torch.from_numpy(proto.labels).to(dev)
        lab_x, lab_y = lab[:n], lab[n:]
        mu, sigma = neighbourhood_gaussian(x, y, cfg.noise)

        net = PairedHashNet(d, cfg.hidden, bits, gen, dev)
        self.models[bits] = net
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        k = proto.k
        acc = AnchorAccumulator(k, bits, dev)
        continuous = cfg.anchors == "continuous"

        def centroid_hash() -> torch.Tensor:
            with torch.no_grad():
                return net(torch.stack([centroids, centroids])).mean(0)

        with torch.no_grad():
            if cfg.anchors == "centroid_hash":
                s = centroid_hash()
            elif cfg.anchor_init == "random":
                s = torch.randint(0, 2, (k, bits), generator=gen, device=dev).float() * 2 - 1
            else:  # Eq. (4) over the untrained networks' codes
                h0 = net(torch.stack([x, y]))
                acc.add(h0[0], lab_x)
                acc.add(h0[1], lab_y)
                s = acc.update(None)
        anchors = binarise(s, continuous)

        n_batches = max(1, math.ceil(n / cfg.batch_size))
        need_neighbour = cfg.use_lc and cfg.positive == "neighbour"
        q_scale = {"normalized": 1.0 / math.sqrt(bits), "tanh_mean": 1.0 / bits,
                   "tanh_sum": 1.0}[cfg.quant]
        update_anchors = cfg.use_lp and cfg.anchors != "centroid_hash"
        best: tuple[float, dict[str, torch.Tensor]] | None = None
        zero = torch.zeros((), device=dev)
        for epoch in range(cfg.epochs):
            w = cfg.beta * math.exp(-cfg.gamma * epoch)
            log_now = report and ((epoch + 1) % cfg.report_every == 0 or epoch + 1 == cfg.epochs)
            totals = torch.zeros(4, device=dev)
            perm = torch.randperm(n, generator=gen, device=dev)
            for idx in perm.tensor_split(n_batches):
                m = len(idx)
                xb, yb = x[idx], y[idx]
                if need_neighbour:
                    eps = torch.randn(m, d, generator=gen, device=dev)
                    f_nb = sample_neighbour(mu[idx], sigma[idx], eps)
                    out = net(torch.stack([torch.cat([xb, f_nb]), torch.cat([yb, f_nb])]))
                else:
                    out = net(torch.stack([xb, yb]))
                hx, hy = out[0, :m], out[1, :m]
                hxn, hyn = F.normalize(hx, dim=1), F.normalize(hy, dim=1)
                l_p = l_c = l_b = zero
                loss = zero
                if cfg.use_lp:
                    l_p = (prototype_kl(p_x[idx], ne_x[idx], hxn, anchors, cfg.tau_p)
                           + prototype_kl(p_y[idx], ne_y[idx], hyn, anchors, cfg.tau_p))
                    loss = loss + w * l_p
                if cfg.use_lc:
                    if need_neighbour:  # positives: the other net's code of the neighbour
                        pos_x = F.normalize(out[1, m:], dim=1)
                        pos_y = F.normalize(out[0, m:], dim=1)
                    else:  # GNAH-A: the real paired code
                        pos_x, pos_y = hyn, hxn
                    l_c = neighbourhood_contrastive(hxn, hyn, pos_x, pos_y, cfg.tau)
                    loss = loss + (1.0 - w) * l_c
                if cfg.use_lb:
                    if cfg.quant == "normalized":  # ||h/|h| - b/sqrt(L)||^2
                        l_b = quantisation(hxn, q_scale) + quantisation(hyn, q_scale)
                    else:  # ||h - b||^2 on the tanh outputs, summed (or averaged) over bits
                        l_b = (quantisation(hx) + quantisation(hy)) * q_scale
                    loss = loss + l_b
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if update_anchors:
                    with torch.no_grad():
                        if cfg.nearest == "latent":
                            lx, ly = lab_x[idx], lab_y[idx]
                        else:
                            lx = (hxn @ anchors.T).argmax(1)
                            ly = (hyn @ anchors.T).argmax(1)
                        acc.add(hx.detach(), lx)
                        acc.add(hy.detach(), ly)
                if log_now:
                    totals += torch.stack([loss, l_p, l_c, l_b]).detach() * (m / n)
            if update_anchors:
                s = acc.update(s)
                anchors = binarise(s, continuous)
            elif cfg.use_lp:  # GNAH-C
                anchors = binarise(centroid_hash())
            if log_now:
                vals = totals.tolist()
                ctx.report(epoch + 1, loss=vals[0], l_p=vals[1], l_c=vals[2], l_b=vals[3],
                           w=w)
            if report and cfg.selection == "validation" and (
                    (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
                score = ctx.validate()
                if score is not None and (best is None or score > best[0]):
                    best = (score, copy.deepcopy(net.state_dict()))
        if best is not None:
            net.load_state_dict(best[1])
            self.info[bits]["validation"] = best[0]

    @torch.no_grad()
    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        feats = torch.from_numpy(self._features(data, modality)).to(torch.device(self.device))
        which = 0 if modality == "image" else 1
        out = {}
        for bits, net in self.models.items():
            parts = [net.one(chunk, which) for chunk in feats.split(8192)]
            h = torch.cat(parts) if parts else torch.zeros(0, bits)
            out[bits] = sign_codes(h)
        return out
