"""PromptHash (faithful) and PromptHash-clean: training loop, buffers, selection, encoding,
checkpoints. See methods/prompthash/README.md for every option and deviation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bench.encoders.backbone import load_backbone
from bench.methods.prompthash import SPEC, SPEC_CLEAN
from bench.plugins import FitContext, PairedData
from bench.training.method import EpochMeter, TrainedHashMethod, to_codes
from bench.training.optim import BertAdam
from bench.training.schedule import resolve_schedule as resolve_named_schedule

from .backbone import PromptCLIP
from .losses import CodeBuffers, loss_terms, reference_weights, total_loss
from .model import PromptHashNet
from .prompts import PromptTokens

#: Training schedules: "reference" = the paper scripts; "quick" = the generated default data.
SCHEDULES: dict[str, dict[str, Any]] = {
    "reference": {"epochs": 100, "batch_size": 128, "eval_batch_size": 128, "max_train": None},
    "quick": {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_train": 2000},
}
_WEIGHT_PARAMS = {"w_intra": "intra", "w_inter": "inter", "w_quan": "quan", "w_recon": "recon",
                  "w_global": "global", "w_local": "local", "w_lambda": "lambda", "mu": "mu"}


def resolve_schedule(params: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """Epochs, batch sizes and the training-set cap: the named schedule ("auto": "quick" on
    generated data, else "reference"), explicit ``epochs``/``batch_size``/``eval_batch_size``/
    ``max_train`` overriding it (``max_train`` 0 or None: every training pair). With
    ``fusion="batch"`` the encoding batch defaults to the training batch size."""
    out = resolve_named_schedule(params, dataset, SCHEDULES, "prompthash")
    if params.get("fusion") == "batch" and params.get("eval_batch_size") is None:
        # batch fusion mixes batch mates: encode in batches of the training size, so the
        # mixing pattern at encoding is the one the model was trained with
        out["eval_batch_size"] = out["batch_size"]
    return out


class PromptHash(TrainedHashMethod):
    """The faithful reproduction; every reference quirk is an option (README)."""

    spec = SPEC
    SCHEDULES = SCHEDULES
    RUNTIME_PARAMS = TrainedHashMethod.RUNTIME_PARAMS | {"mamba_backend"}
    checkpoint_file = "prompthash.pt"  # both variants

    def resolve_schedule(self, dataset: str) -> dict[str, Any]:
        return resolve_schedule(self.params, dataset)

    # -- construction ---------------------------------------------------------------------

    def build(self, seed: int | None = None) -> PromptHashNet:
        """Create the network (seeded by ``seed``, default ``self.seed``) on ``self.device``."""
        p = self.params
        self.build_seed = self.seed if seed is None else int(seed)
        torch.manual_seed(self.build_seed)
        loaded = load_backbone(p.get("clip_model", "bundled"), p.get("clip_weights"),
                               self.device)
        self.tokenize = loaded.tokenize
        backbone = PromptCLIP(loaded.clip, prompt_init=p["prompt_init"], prompt_layers=2)
        self.clip_trainable = backbone.freeze(int(p["unfreeze_blocks"]))
        net = PromptHashNet(
            backbone, self.bits, aux_bits=int(p["aux_bits"]), mlp_layers=int(p["res_mlp_layers"]),
            dropout=float(p["dropout"]), activation=p["activation"], fusion=p["fusion"],
            fusion_heads=int(p["fusion_heads"]), d_state=int(p["d_state"]),
            d_conv=int(p["d_conv"]), expand=int(p["expand"]), backend=p["mamba_backend"],
        )
        net.prompt_learner.ctx.requires_grad_(True)  # gets gradients even when never stepped
        self.net = net.to(self.device)
        self.prompts = PromptTokens(self.tokenize)
        self.images = loaded.image_loader(float(p["image_cache_mb"]))
        return self.net

    def mamba_backend(self) -> str:
        """The Mamba backend that runs on ``self.device`` ("torch" or "cuda")."""
        assert self.net is not None
        probe = torch.empty(0, device=self.device)
        return self.net.hash.fuse.mamba.mamba.resolved_backend(probe)

    def param_groups(self) -> list[dict[str, Any]]:
        assert self.net is not None
        p = self.params
        lr, clip_lr = float(p["lr"]), float(p["clip_lr"])
        fusion = list(self.net.hash.fuse.parameters())
        fusion_ids = {id(q) for q in fusion}
        other = [q for q in self.net.hash.parameters() if id(q) not in fusion_ids]
        groups = [
            {"params": self.clip_trainable, "lr": clip_lr * float(p["clip_lr_scale"])},
            {"params": fusion, "lr": lr * float(p["fusion_lr_scale"])},
            {"params": other, "lr": lr},
        ]
        if p["train_ctx"]:
            groups.append({"params": [self.net.prompt_learner.ctx],
                           "lr": float(p["ctx_lr"] if p["ctx_lr"] is not None else lr)})
        return [g for g in groups if g["params"]]

    # -- data ------------------------------------------------------------------------------

    def _prompt_tokens(self, data: PairedData, rows: np.ndarray, mode: str,
                       drop: float = 0.0, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
        if mode == "labels":
            if data.labels is None:
                raise ValueError("prompthash: encode_prompt='labels' needs the items' labels "
                                 "(labels_at_encode); use encode_prompt='label_free'")
            labels = np.asarray(data.labels)[rows]
            tokens = self.prompts(labels, data.class_names, len(rows))
            if drop > 0:
                free = self.prompts(None, None, len(rows))
                mask = torch.rand(len(rows), generator=generator) < drop
                tokens = torch.where(mask[:, None], free, tokens)
            return tokens
        if mode == "label_free":
            return self.prompts(None, None, len(rows))
        raise ValueError(f"prompthash: encode_prompt must be labels or label_free, not {mode!r}")

    def _captions(self, data: PairedData) -> torch.Tensor:
        if data.captions is None or data.images is None:
            raise ValueError("prompthash needs raw images and captions (inputs images, captions)")
        return self.tokenize([str(c) for c in data.captions])

    # -- training --------------------------------------------------------------------------

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        p = self.params
        train, gen, labels = self.start_fit(train, ctx)
        sched = self.schedule
        self.set_weights(ctx.dataset)
        net = self.build()
        dev = torch.device(self.device)
        n = len(train)
        captions = self._captions(train)
        keys = np.asarray(train.index)
        bs, epochs = int(sched["batch_size"]), int(sched["epochs"])
        steps_per_epoch = math.ceil(n / bs)
        aux = int(p["aux_bits"])
        buffers = CodeBuffers(n, sorted(set(self.bits) | {aux}), dev, generator=gen)
        opt = self.make_optimizer(steps_per_epoch, epochs)
        ctx.log(f"prompthash: {n} training pairs, schedule {sched['schedule']} "
                f"({epochs} epochs, batch {bs}, encoding batch {sched['eval_batch_size']}), "
                f"fusion={p['fusion']}, "
                f"mamba={self.mamba_backend()}, device={self.device}")

        def one_epoch(epoch: int) -> dict[str, float]:
            net.train()
            meter = EpochMeter()
            # a one-sample batch breaks the reference (squeeze): skipped
            for rows in self.batches(n, bs, gen):
                rows_t = torch.as_tensor(rows, device=dev)
                images = self.images.batch(keys[rows], [train.images[i] for i in rows],
                                           train=True, generator=gen).to(dev)
                prompt = self._prompt_tokens(train, rows, "labels",
                                             float(p["prompt_label_dropout"]), gen).to(dev)
                got = self.train_step(opt, buffers, rows_t, images, captions[rows].to(dev),
                                      prompt, labels)
                if got is None:
                    continue
                terms, loss = got
                groups: dict[str, float] = {}
                for name, t in terms.items():  # logged per group (intra, inter, quan, ...)
                    group = name.split("_")[0]
                    groups[group] = groups.get(group, 0.0) + float(t.detach())
                meter.add({k: torch.tensor(v) for k, v in groups.items()}, loss)
            buffers.refresh()
            return meter.means()

        self.train_epochs(ctx, epochs, one_epoch)

    def train_step(self, opt: BertAdam, buffers: CodeBuffers, rows: torch.Tensor,
                   images: torch.Tensor, captions: torch.Tensor, prompt: torch.Tensor,
                   labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor] | None:
        """One optimisation step: forward, write the buffers, all loss terms, backward, step.
        ``labels`` are all training labels; ``rows`` the batch's rows in them."""
        assert self.net is not None
        p = self.params
        with self.autocast():
            out = self.net(images, captions, prompt)
        buffers.write(rows, out["hash"])
        terms = loss_terms(out, rows, labels, labels[rows], buffers, self.bits,
                           int(p["aux_bits"]), self.weights, float(p["tau_global"]),
                           float(p["tau_local"]))
        loss = total_loss(terms)
        if loss is None:
            return None
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.changed()
        return terms, loss

    def set_weights(self, dataset: str) -> dict[str, float]:
        """The loss weights: the reference's for ``dataset``, then explicit ``w_*``/``mu``."""
        weights = reference_weights(dataset)
        for key, name in _WEIGHT_PARAMS.items():
            if self.params.get(key) is not None:
                weights[name] = float(self.params[key])
        self.weights = weights
        return weights

    # -- encoding --------------------------------------------------------------------------

    @torch.no_grad()
    def hash_outputs(self, data: PairedData) -> dict[str, dict[int, np.ndarray]]:
        """Continuous (tanh) hash outputs of both modalities, one joint pass per batch of
        ``eval_batch_size`` items in the given order, as the reference's encoding."""
        if self.net is None:
            raise RuntimeError("prompthash: fit or load a checkpoint before encoding")
        net, dev = self.net, torch.device(self.device)
        net.eval()
        captions = self._captions(data)
        keys = np.asarray(data.index)
        bs = int((self.schedule or self.resolve_schedule(""))["eval_batch_size"])
        mode = str(self.params["encode_prompt"])
        out: dict[str, dict[int, list[np.ndarray]]] = {
            "image": {b: [] for b in self.bits}, "text": {b: [] for b in self.bits}}
        for start in range(0, len(data), bs):
            rows = np.arange(start, min(start + bs, len(data)))
            images = self.images.batch(keys[rows], [data.images[i] for i in rows],
                                       train=False).to(dev)
            prompt = self._prompt_tokens(data, rows, mode).to(dev)
            with self.autocast():
                res = net(images, captions[rows].to(dev), prompt)
            for m in ("image", "text"):
                for b in self.bits:
                    out[m][b].append(res["hash"][m][b].float().cpu().numpy())
        return {m: {b: np.concatenate(v[b]) if v[b] else np.zeros((0, b), np.float32)
                    for b in self.bits} for m, v in out.items()}

    def encode_pairs(self, data: PairedData) -> dict[str, dict[int, np.ndarray]]:
        """±1 codes of both modalities (sign, with 0 mapped to +1)."""
        return {m: {b: to_codes(torch.from_numpy(h)) for b, h in per.items()}
                for m, per in self.hash_outputs(data).items()}


class PromptHashClean(PromptHash):
    """The clean variant: per-sample fusion, trained context, prompt transformer from the
    pretrained blocks, no label information at encoding time."""

    spec = SPEC_CLEAN
