"""PromptHash (faithful) and PromptHash-clean: training loop, buffers, selection, encoding,
checkpoints. See methods/prompthash/README.md for every option and deviation."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.methods.prompthash import SPEC, SPEC_CLEAN
from bench.plugins import FitContext, HashMethod, Modality, PairedData

from .backbone import PromptCLIP, build_open_clip, import_open_clip
from .images import OPENAI_MEAN, OPENAI_STD, ImageLoader
from .losses import CodeBuffers, loss_terms, reference_weights, total_loss
from .model import PromptHashNet
from .optim import BertAdam
from .prompts import PromptTokens

#: Training schedules: "reference" = the paper scripts; "quick" = the generated default data.
SCHEDULES: dict[str, dict[str, Any]] = {
    "reference": {"epochs": 100, "batch_size": 128, "eval_batch_size": 128, "max_train": None},
    "quick": {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_train": 2000},
}
#: Parameters that change neither the weights nor the codes' meaning: a checkpoint saved with
#: other values of these loads; any other difference is refused.
RUNTIME_PARAMS = frozenset({"mamba_backend", "amp", "image_cache_mb", "checkpoint",
                            "eval_batch_size"})
_WEIGHT_PARAMS = {"w_intra": "intra", "w_inter": "inter", "w_quan": "quan", "w_recon": "recon",
                  "w_global": "global", "w_local": "local", "w_lambda": "lambda", "mu": "mu"}


def is_generated_dataset(name: str) -> bool:
    """True for datasets that need no user files (the generated default data)."""
    if not name:
        return False
    try:
        from bench import registry

        return not registry.datasets.get(name).needs_root
    except Exception:
        return False


def resolve_schedule(params: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """Epochs, batch sizes and the training-set cap: the named schedule ("auto": "quick" on
    generated data, else "reference"), explicit ``epochs``/``batch_size``/``eval_batch_size``/
    ``max_train`` overriding it (``max_train`` 0 or None: every training pair). With
    ``fusion="batch"`` the encoding batch defaults to the training batch size."""
    name = str(params.get("schedule", "auto"))
    if name == "auto":
        name = "quick" if is_generated_dataset(dataset) else "reference"
    if name not in SCHEDULES:
        raise ValueError(f"prompthash: schedule must be auto, {', '.join(SCHEDULES)}; "
                         f"got {name!r}")
    out: dict[str, Any] = {"schedule": name, **SCHEDULES[name]}
    for key in ("epochs", "batch_size", "eval_batch_size", "max_train"):
        if params.get(key) is not None:
            out[key] = int(params[key])
    if params.get("fusion") == "batch" and params.get("eval_batch_size") is None:
        # batch fusion mixes batch mates: encode in batches of the training size, so the
        # mixing pattern at encoding is the one the model was trained with
        out["eval_batch_size"] = out["batch_size"]
    return out


def build_backbone(params: Mapping[str, Any], device: str = "cpu"
                   ) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """(open_clip CLIP, tokenizer(list[str]) -> ids, preprocessing) from ``clip_model`` and
    ``clip_weights``.

    * ``clip_model`` a name (``"bundled"``, the project's small CLIP, or any open_clip config
      such as ``"ViT-B-16-quickgelu"``) and ``clip_weights`` None or a local file: loaded
      through :mod:`bench.encoders` (weights never downloaded; None looks up the bundled
      checkpoint or ``$BENCH_WEIGHTS_DIR/<name>.safetensors``);
    * ``clip_weights="random"``, or ``clip_model`` a config dict (``embed_dim``, ``vision_cfg``,
      ``text_cfg``): a randomly initialised model (tests, timing).
    """
    model, weights = params.get("clip_model", "bundled"), params.get("clip_weights")
    if isinstance(model, Mapping) or weights == "random":
        from bench.encoders import tiny_clip

        oc = import_open_clip()
        tiny_clip.register(oc)  # "cmh-tiny-clip" is then a known config name
        clip = build_open_clip(model, None if weights == "random" else weights)
        length = int(clip.positional_embedding.shape[0])
        tok = oc.SimpleTokenizer(context_length=length)
        return clip, lambda texts: tok(list(texts), context_length=length), {}
    from bench.encoders.models import load_encoder

    enc = load_encoder(str(model), weights, device=device)
    return enc.model, enc.tokenizer, dict(enc.spec.preprocessing)


class PromptHash(HashMethod):
    """The faithful reproduction; every reference quirk is an option (README)."""

    spec = SPEC

    def __init__(self, bits: Sequence[int], params: Mapping[str, Any], seed: int,
                 device: str = "cpu"):
        super().__init__(bits, params, seed, device)
        self.net: PromptHashNet | None = None
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self._selection = "final model (no selection)"
        self._encode_cache: tuple[tuple[int, ...], dict[str, dict[int, np.ndarray]]] | None = None
        self._version = 0
        self.schedule: dict[str, Any] | None = None

    # -- construction ---------------------------------------------------------------------

    @property
    def selection_rule(self) -> str:
        return self._selection

    def build(self, seed: int | None = None) -> PromptHashNet:
        """Create the network (seeded by ``seed``, default ``self.seed``) on ``self.device``."""
        p = self.params
        self.build_seed = self.seed if seed is None else int(seed)
        torch.manual_seed(self.build_seed)
        clip, self.tokenize, pre = build_backbone(p, self.device)
        backbone = PromptCLIP(clip, prompt_init=p["prompt_init"], prompt_layers=2)
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
        visual = clip.visual
        size = visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else size
        pre = pre or getattr(visual, "preprocess_cfg", None) or {}
        self.images = ImageLoader(int(size), pre.get("mean", OPENAI_MEAN),
                                  pre.get("std", OPENAI_STD), float(p["image_cache_mb"]))
        return self.net

    def mamba_backend(self) -> str:
        """The Mamba backend that runs on ``self.device`` ("torch" or "cuda")."""
        assert self.net is not None
        probe = torch.empty(0, device=self.device)
        return self.net.hash.fuse.mamba.mamba.resolved_backend(probe)

    def volatile_keys(self) -> list[str]:
        """State-dict keys that training can change (everything but the frozen CLIP weights)."""
        assert self.net is not None
        frozen = {f"clip.clip.{n}" for n, q in self.net.clip.clip.named_parameters()
                  if not q.requires_grad}
        return [k for k in self.net.state_dict() if k not in frozen]

    def _param_groups(self) -> list[dict[str, Any]]:
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

    def _autocast(self) -> Any:
        amp = str(self.params["amp"])
        if amp == "bf16" and str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if amp not in ("fp32", "bf16"):
            raise ValueError(f"prompthash: amp must be fp32 or bf16, not {amp!r}")
        return torch.autocast("cpu", enabled=False)

    # -- training --------------------------------------------------------------------------

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        p = self.params
        sched = resolve_schedule(p, ctx.dataset)
        self.schedule = sched
        self.set_weights(ctx.dataset)
        if train.labels is None:
            raise ValueError("prompthash is supervised: the training items need labels")
        net = self.build()
        dev = torch.device(self.device)
        gen = torch.Generator().manual_seed(self.seed)
        cap = sched.get("max_train")
        if cap and len(train) > cap:  # a seeded subset of the training pairs
            rows = torch.randperm(len(train), generator=gen)[:cap].numpy()
            train = self.train_on_subset(train, rows)
            ctx.log(f"prompthash: schedule {sched['schedule']} trains on a seeded subset of "
                    f"{cap} of the training pairs")
        n = len(train)
        labels = torch.as_tensor(np.asarray(train.labels), dtype=torch.float32, device=dev)
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
        selecting = p["selection"] == "validation"
        best_score, best_state = -math.inf, None
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            net.train()
            order = torch.randperm(n, generator=gen).numpy()
            sums: dict[str, float] = {}
            n_steps = 0
            for start in range(0, n, bs):
                rows = order[start:start + bs]
                if len(rows) < 2:  # a one-sample batch breaks the reference (squeeze)
                    continue
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
                n_steps += 1
                for name, t in terms.items():
                    group = name.split("_")[0]
                    sums[group] = sums.get(group, 0.0) + float(t.detach())
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            buffers.refresh()
            metrics = {k: v / max(n_steps, 1) for k, v in sums.items()}
            metrics["epoch_s"] = time.perf_counter() - t0
            if selecting and (epoch % int(p["val_every"]) == 0 or epoch == epochs):
                score = ctx.validate()
                if score is not None:
                    metrics["val_map"] = float(score)
                    if score > best_score:
                        best_score, self.best_epoch = float(score), epoch
                        best_state = self._snapshot()
            self.history.append({"epoch": epoch, **metrics})
            ctx.report(epoch, **metrics)
            ctx.log(f"prompthash epoch {epoch}/{epochs}: " + ", ".join(
                f"{k}={v:.4g}" for k, v in metrics.items()))
        if best_state is not None:
            self.net.load_state_dict(best_state, strict=False)
            self._version += 1
            self._selection = (f"best validation mAP (harness validation split, epoch "
                               f"{self.best_epoch} of {epochs})")
        else:
            self._selection = "final model (no validation score)" if selecting else \
                "final model (no selection)"
        if p["checkpoint"] != "none":
            self.save_checkpoint(Path(ctx.workdir) / "prompthash.pt")

    def train_step(self, opt: BertAdam, buffers: CodeBuffers, rows: torch.Tensor,
                   images: torch.Tensor, captions: torch.Tensor, prompt: torch.Tensor,
                   labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor] | None:
        """One optimisation step: forward, write the buffers, all loss terms, backward, step.
        ``labels`` are all training labels; ``rows`` the batch's rows in them."""
        assert self.net is not None
        p = self.params
        with self._autocast():
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
        self._version += 1
        return terms, loss

    def make_optimizer(self, steps_per_epoch: int, epochs: int) -> BertAdam:
        p = self.params
        return BertAdam(self._param_groups(), lr=float(p["lr"]),
                        t_total=max(1, steps_per_epoch * epochs), warmup=float(p["warmup"]),
                        weight_decay=float(p["weight_decay"]),
                        max_grad_norm=float(p["max_grad_norm"]))

    def set_weights(self, dataset: str) -> dict[str, float]:
        """The loss weights: the reference's for ``dataset``, then explicit ``w_*``/``mu``."""
        weights = reference_weights(dataset)
        for key, name in _WEIGHT_PARAMS.items():
            if self.params.get(key) is not None:
                weights[name] = float(self.params[key])
        self.weights = weights
        return weights

    def _snapshot(self) -> dict[str, torch.Tensor]:
        assert self.net is not None
        state = self.net.state_dict()
        return {k: state[k].detach().clone() for k in self.volatile_keys()}

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
        bs = int((self.schedule or resolve_schedule(self.params, ""))["eval_batch_size"])
        mode = str(self.params["encode_prompt"])
        out: dict[str, dict[int, list[np.ndarray]]] = {
            "image": {b: [] for b in self.bits}, "text": {b: [] for b in self.bits}}
        for start in range(0, len(data), bs):
            rows = np.arange(start, min(start + bs, len(data)))
            images = self.images.batch(keys[rows], [data.images[i] for i in rows],
                                       train=False).to(dev)
            prompt = self._prompt_tokens(data, rows, mode).to(dev)
            with self._autocast():
                res = net(images, captions[rows].to(dev), prompt)
            for m in ("image", "text"):
                for b in self.bits:
                    out[m][b].append(res["hash"][m][b].float().cpu().numpy())
        return {m: {b: np.concatenate(v[b]) if v[b] else np.zeros((0, b), np.float32)
                    for b in self.bits} for m, v in out.items()}

    def encode_pairs(self, data: PairedData) -> dict[str, dict[int, np.ndarray]]:
        """±1 codes of both modalities (sign, with 0 mapped to +1)."""
        return {m: {b: np.where(h >= 0, 1, -1).astype(np.int8) for b, h in per.items()}
                for m, per in self.hash_outputs(data).items()}

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        key = (id(data), len(data), hash(np.asarray(data.index).tobytes()), self._version)
        if self._encode_cache is None or self._encode_cache[0] != key:
            self._encode_cache = (key, self.encode_pairs(data))
        return self._encode_cache[1][modality]

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """``checkpoint="full"``: the whole state dict; ``"trainable"``: only the keys training
        can change (the frozen CLIP weights come from ``clip_model``/``clip_weights``)."""
        assert self.net is not None
        state = self.net.state_dict()
        keys = list(state) if self.params["checkpoint"] == "full" else self.volatile_keys()
        return {k: state[k].detach().cpu() for k in keys}

    def save_checkpoint(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"method": self.spec.name, "version": self.spec.version,
                    "bits": list(self.bits), "params": self.params,
                    "seed": getattr(self, "build_seed", self.seed),
                    "schedule": self.schedule,
                    "state": self.checkpoint_state()}, path)
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Rebuild the network from this instance's params and load ``path`` into it.

        Refuses (ValueError) a checkpoint of another variant, other bit lengths or other
        parameters (runtime-only ones such as ``amp`` or ``mamba_backend`` may differ)."""
        blob = torch.load(Path(path), map_location="cpu", weights_only=False)
        self.check_checkpoint(blob, path)
        if self.net is None:  # same seed: a randomly initialised backbone is reproduced
            self.build(seed=blob.get("seed"))
        assert self.net is not None
        if blob.get("schedule"):
            self.schedule = dict(blob["schedule"])
            if self.params.get("eval_batch_size") is not None:  # an explicit encoding batch
                self.schedule["eval_batch_size"] = int(self.params["eval_batch_size"])
        missing = set(self.volatile_keys()) - set(blob["state"])
        if missing:
            raise ValueError(f"prompthash checkpoint {path} lacks {sorted(missing)[:5]}")
        self.net.load_state_dict(blob["state"], strict=False)
        self._version += 1

    def check_checkpoint(self, blob: Mapping[str, Any], path: str | Path) -> None:
        """One ValueError naming every difference between ``blob`` and this instance."""
        problems = []
        if blob.get("method") != self.spec.name:
            problems.append(f"method {blob.get('method')!r} (this is {self.spec.name!r})")
        if [int(b) for b in blob.get("bits", [])] != list(self.bits):
            problems.append(f"bits {blob.get('bits')} (this instance: {list(self.bits)})")
        saved = dict(blob.get("params") or {})
        for key in sorted((set(saved) | set(self.params)) - RUNTIME_PARAMS):
            if saved.get(key) != self.params.get(key):
                problems.append(f"{key}={saved.get(key)!r} (this instance: "
                                f"{self.params.get(key)!r})")
        if problems:
            raise ValueError(f"{self.spec.name}: checkpoint {path} was saved with other "
                             f"settings: {'; '.join(problems)}")


class PromptHashClean(PromptHash):
    """The clean variant: per-sample fusion, trained context, prompt transformer from the
    pretrained blocks, no label information at encoding time."""

    spec = SPEC_CLEAN
