"""DCMH: the alternating optimisation of the pairwise likelihood, quantisation and bit balance,
on frozen features (``dcmh``) or end to end through CLIP towers (``dcmh-e2e``)
(jiangqy/DCMH-CVPR2017@67d0e84: the objective of DCMH_tensorflow/DCMH_demo.py:206-217, the
gradients of DCMH_matlab/process_DCMH.m:33-75). See methods/dcmh/README.md for every option and
deviation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.methods.dcmh import SPEC, SPEC_E2E
from bench.plugins import FitContext, PairedData
from bench.training.layers import pairwise_nll
from bench.training.method import Codes, EpochMeter, TrainedHashMethod, to_codes

SCHEDULES = {
    # the reference: 500 outer iterations (epochs), batch 128, every training pair
    "reference": {"epochs": 500, "batch_size": 128, "eval_batch_size": 128, "max_train": None},
    # the default generated data on a CPU: PromptHash's 2,000 pairs, 10 epochs (the learning
    # rate still runs the whole log-spaced range)
    "quick": {"epochs": 10, "batch_size": 128, "eval_batch_size": 512, "max_train": 2000},
}
SCHEDULES_E2E = {
    "reference": SCHEDULES["reference"],
    # end to end: PromptHash's 2,000 pairs, 10 epochs (one image and one text pass each)
    "quick": {"epochs": 10, "batch_size": 128, "eval_batch_size": 128, "max_train": 2000},
}


class Standardize(nn.Module):
    """(x − mean) / std with per-dimension statistics of the training inputs (buffers, saved
    with the weights); the identity until :meth:`fit_stats` is called."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit_stats(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class HashNet(nn.Module):
    """Linear(dim, hidden)-ReLU-Linear(hidden, bits): DCMH's text network, used for both
    modalities on top of their (frozen or fine-tuned) features. Outputs are real-valued."""

    def __init__(self, dim: int, bits: int, hidden: int):
        super().__init__()
        self.inputs = Standardize(dim)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.inputs(x))


def modality_terms(f: torch.Tensor, rows: torch.Tensor, own: torch.Tensor, other: torch.Tensor,
                   codes: torch.Tensor, sim: torch.Tensor, gamma: float,
                   eta: float) -> dict[str, torch.Tensor]:
    """DCMH's objective for one modality's batch outputs ``f`` (B, K), normalised by n·B.

    ``own`` holds this modality's outputs for every training pair (the batch's rows already
    updated, detached), ``other`` the other modality's, ``codes`` B, ``sim`` (B, n) label
    similarities. Terms: −Σ(S⊙Θ − log(1 + e^Θ)) with Θ = ½·f·otherᵀ; γ·‖B_batch − f‖²;
    η·‖f·1 + (own without the batch)·1‖² (bit balance over the whole set)."""
    n, b = other.shape[0], f.shape[0]
    scale = 1.0 / (n * b)
    rest = own.sum(0) - own[rows].sum(0)
    return {
        "nll": scale * pairwise_nll(f, other, sim, clamp=None, reduction="sum"),
        "quantization": scale * gamma * (codes[rows] - f).pow(2).sum(),
        "balance": scale * eta * (f.sum(0) + rest).pow(2).sum(),
    }


class DCMH(TrainedHashMethod):
    """DCMH on frozen features (README: options and deviations)."""

    spec = SPEC
    SCHEDULES = SCHEDULES

    def __init__(self, bits: Any, params: Mapping[str, Any], seed: int, device: str = "cpu"):
        super().__init__(bits, params, seed, device)
        self.dims: tuple[int, int] | None = None

    # -- inputs (frozen features here, CLIP towers in the end-to-end subclass) ------------------

    def prepare(self, data: PairedData) -> None:
        """Remember the input sizes (needed to build the networks)."""
        if data.image_features is None or data.text_features is None:
            raise ValueError("dcmh needs image and text features (inputs image_features, "
                             "text_features)")
        self.dims = (int(data.image_features.shape[1]), int(data.text_features.shape[1]))

    def inputs(self, data: PairedData, modality: str, rows: np.ndarray, train: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
        x = data.image_features if modality == "image" else data.text_features
        return torch.as_tensor(np.asarray(x)[rows], dtype=torch.float32, device=self.device)

    def features(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.no_grad()
    def fit_input_stats(self, train: PairedData, batch: int = 256) -> None:
        """Standardise each network's inputs with their statistics on the training pairs (the
        initial features for the end-to-end variant), kept fixed afterwards."""
        assert self.net is not None
        self.net.eval()
        for m, head in (("image", self.net.image_net), ("text", self.net.text_net)):
            parts = [self.features(m, self.inputs(train, m, np.arange(s, min(s + batch,
                                                                              len(train))),
                                                  False)).float()
                     for s in range(0, len(train), batch)]
            head.inputs.fit_stats(torch.cat(parts))

    def feature_dims(self) -> tuple[int, int]:
        if self.dims is None:
            raise RuntimeError("dcmh: the feature sizes are unknown (fit or load a checkpoint)")
        return self.dims

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"dims": list(self.feature_dims())}

    def restore_extras(self, extras: Mapping[str, Any]) -> None:
        if extras.get("dims"):
            self.dims = (int(extras["dims"][0]), int(extras["dims"][1]))

    # -- network -------------------------------------------------------------------------------

    def build(self, seed: int | None = None) -> nn.Module:
        self.build_seed = self.seed if seed is None else int(seed)
        torch.manual_seed(self.build_seed)
        dim_i, dim_t = self.feature_dims()
        hidden = int(self.params["hidden"])
        net = nn.Module()
        net.image_net = HashNet(dim_i, self.bits[0], hidden)
        net.text_net = HashNet(dim_t, self.bits[0], hidden)
        self.net = net.to(self.device)
        return self.net

    def outputs(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        head = self.net.image_net if modality == "image" else self.net.text_net
        return head(self.features(modality, x).float())

    def modality_params(self, modality: str, lr: float) -> list[dict[str, Any]]:
        assert self.net is not None
        head = self.net.image_net if modality == "image" else self.net.text_net
        return [{"params": list(head.parameters()), "lr": lr}]

    # -- training ------------------------------------------------------------------------------

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        p = self.params
        train, gen, labels = self.start_fit(train, ctx)
        sched = self.schedule
        self.prepare(train)
        net = self.build()
        dev = torch.device(self.device)
        if p["standardize"]:
            self.fit_input_stats(train)
        n, k = len(train), self.bits[0]
        bs, epochs = int(sched["batch_size"]), int(sched["epochs"])
        gamma = float(p["gamma"])
        buffers = {"image": torch.randn(n, k, generator=gen).to(dev),
                   "text": torch.randn(n, k, generator=gen).to(dev)}
        lrs = np.logspace(float(p["lr_start"]), float(p["lr_end"]), epochs)
        opts = {m: torch.optim.SGD(self.modality_params(m, float(lrs[0])), lr=float(lrs[0]),
                                   weight_decay=float(p["weight_decay"]))
                for m in ("image", "text")}
        base_lr = {m: [g["lr"] / float(lrs[0]) for g in o.param_groups] for m, o in opts.items()}
        ctx.log(f"{self.name}: {n} training pairs, {k} bits, schedule {sched['schedule']} "
                f"({epochs} epochs, batch {bs}), device={self.device}")
        state = {"codes": torch.sign(gamma * (buffers["image"] + buffers["text"]))}

        def one_epoch(epoch: int) -> dict[str, float]:
            net.train()
            metrics: dict[str, float] = {}
            for m in ("image", "text"):
                for group, scale in zip(opts[m].param_groups, base_lr[m], strict=True):
                    group["lr"] = float(lrs[epoch - 1]) * scale
                meter = EpochMeter()
                for rows in self.batches(n, bs, gen, min_size=1):
                    meter.add(self.modality_step(
                        opts[m], m, torch.as_tensor(rows, device=dev),
                        self.inputs(train, m, rows, True, gen), buffers, state["codes"],
                        labels))
                metrics.update({f"{k}_{m[0]}": v for k, v in meter.means().items()})
                self.changed()
            state["codes"] = torch.sign(gamma * (buffers["image"] + buffers["text"]))
            return {**metrics, "lr": float(lrs[epoch - 1])}

        self.train_epochs(ctx, epochs, one_epoch, log_every=max(1, epochs // 10))

    def modality_step(self, opt: torch.optim.Optimizer, modality: str, rows: torch.Tensor,
                      x: torch.Tensor, buffers: dict[str, torch.Tensor], codes: torch.Tensor,
                      labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One SGD step of ``modality``'s network on a batch (its buffer rows updated first)."""
        other = "text" if modality == "image" else "image"
        with self.autocast():
            f = self.outputs(modality, x).float()
        buffers[modality][rows] = f.detach()
        sim = (labels[rows] @ labels.t() > 0).float()
        terms = modality_terms(f, rows, buffers[modality], buffers[other], codes, sim,
                               float(self.params["gamma"]), float(self.params["eta"]))
        opt.zero_grad(set_to_none=True)
        torch.stack(list(terms.values())).sum().backward()
        opt.step()
        return terms

    # -- encoding ----------------------------------------------------------------------------

    @torch.no_grad()
    def encode_pairs(self, data: PairedData) -> Codes:
        if self.net is None:
            raise RuntimeError(f"{self.name}: fit or load a checkpoint before encoding")
        self.net.eval()
        bs = int((self.schedule or self.resolve_schedule(""))["eval_batch_size"])
        b = self.bits[0]
        out: dict[str, dict[int, np.ndarray]] = {}
        for m in ("image", "text"):
            parts = []
            for start in range(0, len(data), bs):
                rows = np.arange(start, min(start + bs, len(data)))
                with self.autocast():
                    parts.append(to_codes(self.outputs(m, self.inputs(data, m, rows, False))))
            out[m] = {b: np.concatenate(parts) if parts else np.zeros((0, b), np.int8)}
        return out


class DCMHEndToEnd(DCMH):
    """DCMH with the shared open_clip backbone's towers as the image and text networks'
    inputs, trained end to end (README)."""

    spec = SPEC_E2E
    SCHEDULES = SCHEDULES_E2E

    def prepare(self, data: PairedData) -> None:
        if data.captions is None or data.images is None:
            raise ValueError("dcmh-e2e needs raw images and captions (inputs images, captions)")

    def feature_dims(self) -> tuple[int, int]:
        from bench.encoders.backbone import projected_dim

        return (projected_dim(self.backbone.clip),) * 2

    def checkpoint_extras(self) -> dict[str, Any]:
        return {}

    def build(self, seed: int | None = None) -> nn.Module:
        self.seeded_backbone(seed)
        super().build(self.build_seed)
        assert self.net is not None
        self.net.clip = self.backbone.clip.to(self.device)
        self.images = self.backbone.image_loader(float(self.params["image_cache_mb"]), "center",
                                                 "center", 1.0)
        self._captions: dict[tuple[int, int], torch.Tensor] = {}
        return self.net

    def inputs(self, data: PairedData, modality: str, rows: np.ndarray, train: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if modality == "image":
            keys = np.asarray(data.index)[rows]
            return self.images.batch(keys, [data.images[i] for i in rows], train=train,
                                     generator=generator).to(self.device)
        key = (id(data), len(data))
        ids = self._captions.get(key)
        if ids is None:
            words = self.params.get("max_words")
            ids = self.backbone.captions(data.captions, None if words is None else int(words))
            self._captions = {key: ids}
        return ids[rows].to(self.device)

    def features(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        from bench.encoders.backbone import encode_text_tokens

        assert self.net is not None
        if modality == "image":
            return self.net.clip.encode_image(x)
        return encode_text_tokens(self.net.clip, x)[0]

    def modality_params(self, modality: str, lr: float) -> list[dict[str, Any]]:
        assert self.net is not None
        visual = {id(q) for q in self.net.clip.visual.parameters()}
        extra = [q for q in self.net.clip.parameters() if q.requires_grad
                 and (id(q) in visual) == (modality == "image")]
        groups = super().modality_params(modality, lr)
        if extra:
            groups.append({"params": extra, "lr": lr * float(self.params["clip_lr_scale"])})
        return groups
