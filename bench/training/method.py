"""Base classes of the trained (deep) hashing methods.

:class:`TrainedHashMethod` holds what every trained method repeats: the resolved schedule,
model selection on the harness's validation split (``ctx.validate()``, never the query set)
with the best epoch's weights restored, checkpoints that refuse another method's or other
parameters' weights, and encoding cached per model version.

:class:`CLIPHashMethod` adds the end-to-end loop of the CLIP-based methods (DCHMT, MITH, DSPH):
an open_clip backbone (:mod:`bench.encoders.backbone`), mini-batches of raw images and caption
tokens, every loss term returned by name, BertAdam, and batched encoding. Labels are read only
during ``fit``; encoding never sees them (the harness strips them unless a spec declares
``labels_at_encode``).
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from bench.plugins import FitContext, HashMethod, Modality, PairedData
from bench.training.optim import BertAdam
from bench.training.schedule import SCHEDULE_KEYS, resolve_schedule

Codes = dict[str, dict[int, np.ndarray]]

#: The under-trained rule: a run whose last validation score is more than this much (validation
#: mAP) above the best score of the first half of its validations was still learning when its
#: schedule ended. The first half, not the previous epoch: the warm-up-cosine schedules take the
#: learning rate to ~0 at the end, so the last epoch alone gains little even far from a plateau.
UNDER_TRAINED_GAIN = 0.02


def late_gain(scores: Sequence[float]) -> float | None:
    """The last validation score minus the best of the first ``max(1, n // 2)`` of the ``n``
    scores (epoch order); None with fewer than two scores."""
    if len(scores) < 2:
        return None
    half = max(1, len(scores) // 2)
    return float(scores[-1]) - max(float(s) for s in scores[:half])


def still_improving(scores: Sequence[float], margin: float = UNDER_TRAINED_GAIN) -> bool | None:
    """The under-trained rule: True when :func:`late_gain` exceeds ``margin``; None when there
    are fewer than two scores (nothing to compare)."""
    gain = late_gain(scores)
    return None if gain is None else gain > margin


class TrainedHashMethod(HashMethod):
    """Schedules, validation-based selection, checkpoints and cached encoding.

    Subclasses define ``SCHEDULES`` (at least ``reference`` and ``quick``), ``build`` (creates
    ``self.net``, seeded) and ``encode_pairs`` (±1 int8 codes of both modalities).
    Parameters read here: ``schedule`` (+ overrides), ``selection`` (``validation`` | ``final``),
    ``val_every``, ``checkpoint`` (``trainable`` | ``full`` | ``none``), ``amp``.
    """

    SCHEDULES: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Parameters that change neither the weights nor the codes' meaning: a checkpoint saved with
    #: other values of these loads; any other difference is refused.
    RUNTIME_PARAMS: ClassVar[frozenset[str]] = frozenset(
        {"amp", "image_cache_mb", "checkpoint", "eval_batch_size"})

    def __init__(self, bits: Sequence[int], params: Mapping[str, Any], seed: int,
                 device: str = "cpu"):
        super().__init__(bits, params, seed, device)
        self.net: nn.Module | None = None
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.schedule: dict[str, Any] | None = None
        self._selection = "final model (no selection)"
        self._encode_cache: tuple[tuple[int, ...], Codes] | None = None
        self._version = 0
        self._best_score = -math.inf
        self._best_state: dict[str, torch.Tensor] | None = None
        self._val_scores: list[float] = []

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def checkpoint_file(self) -> str:
        return f"{self.spec.name}.pt"

    @property
    def selection_rule(self) -> str:
        return self._selection

    def resolve_schedule(self, dataset: str) -> dict[str, Any]:
        return resolve_schedule(self.params, dataset, self.SCHEDULES, self.name)

    @abstractmethod
    def build(self, seed: int | None = None) -> nn.Module:
        """Create ``self.net`` (seeded by ``seed``, default ``self.seed``) on ``self.device``;
        set ``self.build_seed``."""

    @abstractmethod
    def encode_pairs(self, data: PairedData) -> Codes:
        """±1 int8 codes of both modalities for every requested length."""

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        key = (id(data), len(data), hash(np.asarray(data.index).tobytes()), self._version)
        if self._encode_cache is None or self._encode_cache[0] != key:
            self._encode_cache = (key, self.encode_pairs(data))
        return self._encode_cache[1][modality]

    def changed(self) -> None:
        """The weights changed: cached codes are stale."""
        self._version += 1

    #: run ``amp=bf16`` under CPU bfloat16 autocast too (tests and dry runs: the CPU's autocast
    #: gives bf16 outputs like CUDA's, so dtype mistakes of the bf16 path show without a GPU)
    emulate_bf16_on_cpu: bool = False

    def autocast(self) -> Any:
        """``amp=bf16``: bfloat16 autocast on CUDA (ignored on CPU unless
        ``emulate_bf16_on_cpu``); ``fp32``: none."""
        amp = str(self.params.get("amp", "fp32"))
        if amp not in ("fp32", "bf16"):
            raise ValueError(f"{self.name}: amp must be fp32 or bf16, not {amp!r}")
        if amp == "bf16" and str(self.device).startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if amp == "bf16" and self.emulate_bf16_on_cpu:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def start_fit(self, train: PairedData,
                  ctx: FitContext) -> tuple[PairedData, torch.Generator, torch.Tensor]:
        """Resolve the schedule, check the labels, seed the run's generator and cap the
        training pairs. Returns (training pairs, generator, labels as a float tensor)."""
        self.schedule = self.resolve_schedule(ctx.dataset)
        self.record_schedule(self.schedule)
        if train.labels is None:
            raise ValueError(f"{self.name} is supervised: the training items need labels")
        gen = torch.Generator().manual_seed(self.seed)
        train = self.cap_training_pairs(train, self.schedule.get("max_train"), gen, ctx)
        labels = torch.as_tensor(np.asarray(train.labels), dtype=torch.float32,
                                 device=torch.device(self.device))
        return train, gen, labels

    def record_schedule(self, schedule: Mapping[str, Any]) -> None:
        """Every schedule setting left to the schedule (``"auto"`` or None) goes through
        ``resolve_param``, so the record's ``resolved_params`` shows what it became."""
        for key in ("schedule", *SCHEDULE_KEYS):
            if self.params.get(key) in (None, "auto"):
                self.resolve_param(key, schedule.get(key))

    def seeded_backbone(self, seed: int | None = None) -> list[nn.Parameter]:
        """Seed the build (``build_seed``: ``seed``, default ``self.seed``), load the open_clip
        backbone of ``clip_model``/``clip_weights`` into ``self.backbone`` and freeze all but
        its last ``unfreeze_blocks`` blocks; returns the trainable backbone parameters."""
        from bench.encoders.backbone import freeze_blocks, load_backbone, parse_unfreeze

        p = self.params
        self.build_seed = self.seed if seed is None else int(seed)
        torch.manual_seed(self.build_seed)
        self.backbone = load_backbone(p.get("clip_model", "bundled"), p.get("clip_weights"),
                                      self.device)
        return freeze_blocks(self.backbone.clip, parse_unfreeze(p.get("unfreeze_blocks", "all")))

    def cap_training_pairs(self, train: PairedData, cap: int | None,
                           generator: torch.Generator, ctx: FitContext) -> PairedData:
        """A seeded subset of ``cap`` training pairs (drawn with ``generator``) when the
        schedule caps them; recorded through ``train_on_subset``."""
        if cap and len(train) > cap:
            rows = torch.randperm(len(train), generator=generator)[:cap].numpy()
            ctx.log(f"{self.name}: schedule {(self.schedule or {}).get('schedule')} trains on a "
                    f"seeded subset of {cap} of the training pairs")
            return self.train_on_subset(train, rows)
        return train

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimiser parameter groups (``params``, ``lr``) for :meth:`make_optimizer`."""
        raise NotImplementedError(f"{self.name} defines no BertAdam parameter groups")

    def make_optimizer(self, steps_per_epoch: int, epochs: int) -> BertAdam:
        """BertAdam over ``param_groups()`` with ``lr``, ``warmup``, ``weight_decay`` and
        ``max_grad_norm`` from the parameters, the schedule over every step of the run."""
        p = self.params
        return BertAdam(self.param_groups(), lr=float(p["lr"]),
                        t_total=max(1, steps_per_epoch * epochs), warmup=float(p["warmup"]),
                        weight_decay=float(p["weight_decay"]),
                        max_grad_norm=float(p.get("max_grad_norm", 1.0)))

    # -- the epoch loop ------------------------------------------------------------------------

    @staticmethod
    def batches(n: int, batch_size: int, generator: torch.Generator,
                min_size: int = 2) -> Iterator[np.ndarray]:
        """Rows of one epoch in mini-batches of a fresh seeded permutation; batches smaller than
        ``min_size`` (the last one) are skipped."""
        order = torch.randperm(n, generator=generator).numpy()
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            if len(rows) >= min_size:
                yield rows

    def train_epochs(self, ctx: FitContext, epochs: int,
                     one_epoch: Callable[[int], dict[str, float]], log_every: int = 1) -> None:
        """Run ``one_epoch(epoch)`` (returns the epoch's mean metrics) for every epoch with the
        shared bookkeeping: timing, validation-based selection, history, progress reports and
        logs; then restore the selected weights and save the checkpoint. An epoch whose mean
        metrics are not finite (a diverged model) raises ``FloatingPointError``."""
        self.start_selection()
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            metrics = one_epoch(epoch)
            diverged = [k for k, v in metrics.items() if not math.isfinite(float(v))]
            if diverged:  # a diverged model must fail its trial, not score the base rate
                raise FloatingPointError(f"{self.name}: training diverged in epoch {epoch} "
                                         f"(non-finite {', '.join(diverged)})")
            metrics["epoch_s"] = time.perf_counter() - t0
            self.select(epoch, epochs, ctx, metrics)
            self.history.append({"epoch": epoch, **metrics})
            ctx.report(epoch, **metrics)
            if epoch in (1, epochs) or epoch % max(1, log_every) == 0:
                ctx.log(f"{self.name} epoch {epoch}/{epochs}: " + ", ".join(
                    f"{k}={v:.4g}" for k, v in metrics.items()))
        self.finish_selection(epochs)
        self.save_final_checkpoint(ctx)

    # -- model selection -------------------------------------------------------------------

    def trainable_keys(self) -> list[str]:
        """State-dict keys that training can change (every key but frozen parameters)."""
        assert self.net is not None
        frozen = {n for n, q in self.net.named_parameters() if not q.requires_grad}
        return [k for k in self.net.state_dict() if k not in frozen]

    def _snapshot(self) -> dict[str, torch.Tensor]:
        assert self.net is not None
        state = self.net.state_dict()
        return {k: state[k].detach().clone() for k in self.trainable_keys()}

    def start_selection(self) -> None:
        self._best_score, self._best_state, self.best_epoch = -math.inf, None, None
        self._val_scores = []

    def select(self, epoch: int, epochs: int, ctx: FitContext,
               metrics: dict[str, float]) -> None:
        """With ``selection=validation``, every ``val_every`` epochs and at the last: score the
        current model on the validation split and keep a copy of the best one's weights."""
        if self.params.get("selection", "validation") != "validation":
            return
        if epoch % int(self.params.get("val_every", 1)) and epoch != epochs:
            return
        score = ctx.validate()
        if score is None:
            return
        metrics["val_map"] = float(score)
        self._val_scores.append(float(score))
        if score > self._best_score:
            self._best_score, self.best_epoch = float(score), epoch
            self._best_state = self._snapshot()

    def finish_selection(self, epochs: int) -> None:
        """Restore the best validated weights (or keep the final ones) and say which; apply the
        under-trained rule (:func:`still_improving`) to the run's validation scores."""
        assert self.net is not None
        self.record_under_trained()
        if self._best_state is not None:
            self.net.load_state_dict(self._best_state, strict=False)
            self.changed()
            self._selection = (f"best validation mAP (harness validation split, epoch "
                               f"{self.best_epoch} of {epochs})")
            gain = late_gain(self._val_scores)
            if still_improving(self._val_scores):
                self._selection += (f"; under-trained: the last validation mAP is {gain:.4f} "
                                    f"above the first half's best (> {UNDER_TRAINED_GAIN})")
        elif self.params.get("selection", "validation") == "validation":
            self._selection = "final model (no validation score)"
        else:
            self._selection = "final model (no selection)"
        self._best_state = None

    def record_under_trained(self) -> None:
        """``resolved_params``: ``under_trained`` (the rule's verdict, :func:`still_improving`;
        None without two validation scores) and ``val_late_gain`` (:func:`late_gain`)."""
        gain = late_gain(self._val_scores)
        self.resolve_param("under_trained", still_improving(self._val_scores))
        self.resolve_param("val_late_gain", None if gain is None else round(gain, 6))

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        """``checkpoint="full"``: the whole state dict; ``"trainable"``: only the keys training
        can change (frozen backbone weights are rebuilt from the parameters and seed)."""
        assert self.net is not None
        state = self.net.state_dict()
        keys = list(state) if self.params.get("checkpoint") == "full" else self.trainable_keys()
        return {k: state[k].detach().cpu() for k in keys}

    def save_checkpoint(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"method": self.spec.name, "version": self.spec.version,
                    "bits": list(self.bits), "params": self.params,
                    "seed": getattr(self, "build_seed", self.seed),
                    "schedule": self.schedule, "extras": self.checkpoint_extras(),
                    "state": self.checkpoint_state()}, path)
        return path

    def checkpoint_extras(self) -> dict[str, Any]:
        """What ``build`` needs besides the parameters (e.g. feature sizes); saved with the
        weights and handed to ``restore_extras`` before a checkpoint is loaded."""
        return {}

    def restore_extras(self, extras: Mapping[str, Any]) -> None:
        """Counterpart of :meth:`checkpoint_extras` (default: nothing)."""

    def save_final_checkpoint(self, ctx: FitContext) -> None:
        if self.params.get("checkpoint", "trainable") != "none":
            self.save_checkpoint(Path(ctx.workdir) / self.checkpoint_file)

    def load_checkpoint(self, path: str | Path) -> None:
        """Rebuild the network from this instance's params and load ``path`` into it.

        Refuses (ValueError) a checkpoint of another method, other bit lengths or other
        parameters (only ``RUNTIME_PARAMS`` may differ)."""
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
        self.check_checkpoint(blob, path)
        self.restore_extras(blob.get("extras") or {})
        if self.net is None:  # same seed: a randomly initialised backbone is reproduced
            self.build(seed=blob.get("seed"))
        assert self.net is not None
        if blob.get("schedule"):
            self.schedule = dict(blob["schedule"])
            if self.params.get("eval_batch_size") is not None:  # an explicit encoding batch
                self.schedule["eval_batch_size"] = int(self.params["eval_batch_size"])
        missing = set(self.trainable_keys()) - set(blob["state"])
        if missing:
            raise ValueError(f"{self.name} checkpoint {path} lacks {sorted(missing)[:5]}")
        self.net.load_state_dict(blob["state"], strict=False)
        self.changed()

    def check_checkpoint(self, blob: Mapping[str, Any], path: str | Path) -> None:
        """One ValueError naming every difference between ``blob`` and this instance."""
        problems = []
        if blob.get("method") != self.spec.name:
            problems.append(f"method {blob.get('method')!r} (this is {self.spec.name!r})")
        if [int(b) for b in blob.get("bits", [])] != list(self.bits):
            problems.append(f"bits {blob.get('bits')} (this instance: {list(self.bits)})")
        saved = dict(blob.get("params") or {})
        for key in sorted((set(saved) | set(self.params)) - self.RUNTIME_PARAMS):
            if saved.get(key) != self.params.get(key):
                problems.append(f"{key}={saved.get(key)!r} (this instance: "
                                f"{self.params.get(key)!r})")
        if problems:
            raise ValueError(f"{self.spec.name}: checkpoint {path} was saved with other "
                             f"settings: {'; '.join(problems)}")


class EpochMeter:
    """Running sums of named loss terms (and their total) over an epoch's steps."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0

    def add(self, terms: Mapping[str, torch.Tensor], loss: torch.Tensor | None = None) -> None:
        self.steps += 1
        for name, t in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(t.detach())
        if loss is not None:
            self.sums["loss"] = self.sums.get("loss", 0.0) + float(loss.detach())

    def means(self) -> dict[str, float]:
        return {k: v / max(self.steps, 1) for k, v in self.sums.items()}


def to_codes(x: torch.Tensor) -> np.ndarray:
    """±1 int8 codes: the sign of ``x``, with 0 mapped to +1."""
    return np.where(x.float().cpu().numpy() >= 0, 1, -1).astype(np.int8)


class CLIPHashMethod(TrainedHashMethod):
    """The end-to-end loop shared by the CLIP-based methods.

    A subclass implements ``build_network(backbone)`` (returns the whole network; the backbone's
    CLIP, already frozen but for ``unfreeze_blocks``, is ``net.clip``), ``loss_terms(rows, images,
    captions, labels)`` (a dict of named scalar terms; ``labels`` holds every training label,
    ``rows`` the batch's rows in it) and ``batch_codes(images, captions)`` (real-valued outputs
    whose sign is the code, per modality and length). ``begin_fit(n, labels, generator)`` may
    create per-run state (buffers, proxies) and ``extra_optimizers`` be filled with optimisers
    stepped with BertAdam (e.g. DSPH's proxies).

    Parameters read here (besides the base class's): ``clip_model``, ``clip_weights``,
    ``unfreeze_blocks``, ``max_words``, ``image_cache_mb``, ``lr``, ``clip_lr``,
    ``weight_decay``, ``warmup``, ``max_grad_norm``.
    """

    #: Image transforms of the DCHMT/MITH/DSPH loaders: Resize(S)+CenterCrop(S) for training,
    #: Resize((S, S)) for encoding (ImageLoader modes).
    TRAIN_IMAGES: ClassVar[str] = "center"
    EVAL_IMAGES: ClassVar[str] = "squash"

    def __init__(self, bits: Sequence[int], params: Mapping[str, Any], seed: int,
                 device: str = "cpu"):
        super().__init__(bits, params, seed, device)
        self.extra_optimizers: list[torch.optim.Optimizer] = []

    # -- hooks -------------------------------------------------------------------------------

    @abstractmethod
    def build_network(self, backbone: Any) -> nn.Module: ...

    @abstractmethod
    def loss_terms(self, rows: torch.Tensor, images: torch.Tensor, captions: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def batch_codes(self, images: torch.Tensor,
                    captions: torch.Tensor) -> dict[str, dict[int, torch.Tensor]]: ...

    def begin_fit(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> None:
        """Per-run state before the first step (default: nothing)."""

    def param_groups(self) -> list[dict[str, Any]]:
        """The references' two learning rates: the CLIP's trainable parameters at ``clip_lr``,
        every other parameter of the network (the hashing model) at ``lr``."""
        assert self.net is not None
        clip = {id(q) for q in self.net.clip.parameters()}
        head = [q for q in self.net.parameters() if id(q) not in clip]
        groups = [{"params": self.clip_trainable, "lr": float(self.params["clip_lr"])},
                  {"params": head, "lr": float(self.params["lr"])}]
        return [g for g in groups if g["params"]]

    # -- construction --------------------------------------------------------------------------

    def build(self, seed: int | None = None) -> nn.Module:
        p = self.params
        self.clip_trainable = self.seeded_backbone(seed)
        net = self.build_network(self.backbone)
        self.net = net.to(self.device)
        self.images = self.backbone.image_loader(float(p.get("image_cache_mb", 2048)),
                                                 self.TRAIN_IMAGES, self.EVAL_IMAGES, 1.0)
        return self.net

    def captions(self, data: PairedData) -> torch.Tensor:
        if data.captions is None or data.images is None:
            raise ValueError(f"{self.name} needs raw images and captions "
                             "(inputs images, captions)")
        words = self.params.get("max_words")
        return self.backbone.captions(data.captions, None if words is None else int(words))

    # -- training ----------------------------------------------------------------------------

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        train, gen, labels = self.start_fit(train, ctx)
        sched = self.schedule
        net = self.build()
        dev = torch.device(self.device)
        n = len(train)
        captions = self.captions(train)
        keys = np.asarray(train.index)
        bs, epochs = int(sched["batch_size"]), int(sched["epochs"])
        self.begin_fit(n, labels, gen)
        opt = self.make_optimizer(math.ceil(n / bs), epochs)
        optimizers = [opt, *self.extra_optimizers]
        ctx.log(f"{self.name}: {n} training pairs, bits {list(self.bits)}, schedule "
                f"{sched['schedule']} ({epochs} epochs, batch {bs}), device={self.device}")

        def one_epoch(epoch: int) -> dict[str, float]:
            net.train()
            meter = EpochMeter()
            for rows in self.batches(n, bs, gen):  # pairwise terms need two samples
                images = self.images.batch(keys[rows], [train.images[i] for i in rows],
                                           train=True, generator=gen).to(dev)
                terms, loss = self.train_step(optimizers, torch.as_tensor(rows, device=dev),
                                              images, captions[rows].to(dev), labels)
                meter.add(terms, loss)
            return meter.means()

        self.train_epochs(ctx, epochs, one_epoch)

    def train_step(self, optimizers: Sequence[torch.optim.Optimizer], rows: torch.Tensor,
                   images: torch.Tensor, captions: torch.Tensor, labels: torch.Tensor
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One optimisation step on a batch: every loss term, their sum, backward, a step of
        every optimiser. A non-finite loss stops training with the terms' names."""
        with self.autocast():
            terms = self.loss_terms(rows, images, captions, labels)
        loss = torch.stack([t.float() for t in terms.values()]).sum()
        if not bool(torch.isfinite(loss.detach())):
            bad = [k for k, t in terms.items() if not bool(torch.isfinite(t.detach()))]
            raise FloatingPointError(f"{self.name}: non-finite loss terms {bad}")
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in optimizers:
            o.step()
        self.changed()
        return terms, loss

    # -- encoding ----------------------------------------------------------------------------

    @torch.no_grad()
    def encode_pairs(self, data: PairedData) -> Codes:
        """Codes of both modalities, in batches of ``eval_batch_size`` (encoding transform)."""
        if self.net is None:
            raise RuntimeError(f"{self.name}: fit or load a checkpoint before encoding")
        self.net.eval()
        dev = torch.device(self.device)
        captions = self.captions(data)
        keys = np.asarray(data.index)
        sched = self.schedule or self.resolve_schedule("")
        bs = int(sched["eval_batch_size"])
        out: dict[str, dict[int, list[np.ndarray]]] = {
            "image": {b: [] for b in self.bits}, "text": {b: [] for b in self.bits}}
        for start in range(0, len(data), bs):
            rows = np.arange(start, min(start + bs, len(data)))
            images = self.images.batch(keys[rows], [data.images[i] for i in rows],
                                       train=False).to(dev)
            with self.autocast():
                got = self.batch_codes(images, captions[rows].to(dev))
            for m in out:
                for b in self.bits:
                    out[m][b].append(to_codes(got[m][b]))
        return {m: {b: np.concatenate(v[b]) if v[b] else np.zeros((0, b), np.int8)
                    for b in self.bits} for m, v in out.items()}
