"""Base class of the deep plugins: option checking, a seeded model per code length, and
per-item encoding (every network in eval mode, items in chunks: an item's code never depends
on the other items encoded with it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from bench.deep.features import modality_features
from bench.deep.nets import sign_codes
from bench.deep.training import seeded
from bench.plugins import FitContext, HashMethod, Modality, PairedData, seeded_rows

#: Options every deep plugin understands (besides its own).
SELECTIONS = ("final", "validation")


class DeepHashing(HashMethod):
    """Subclasses implement :meth:`train_model`, which must put the two encoders it trains into
    ``self.nets[bits] = {"image": module, "text": module}`` *before* training (so that
    ``ctx.validate()`` can encode mid-training). A module maps the rows of
    :meth:`encoder_input` to real values whose signs are the codes.
    """

    #: Fewest training pairs the method accepts.
    min_pairs: int = 4
    #: Chunk size when encoding (memory only: items never interact).
    chunk: int = 4096

    def option(self, name: str, allowed: tuple[Any, ...]) -> Any:
        value = self.params[name]
        if value not in allowed:
            raise ValueError(f"{self.spec.name}: {name} must be one of "
                             f"{', '.join(map(str, allowed))}; got {value!r}")
        return value

    def positive(self, *names: str) -> None:
        for name in names:
            if not float(self.params[name]) > 0:
                raise ValueError(f"{self.spec.name}: {name} must be positive, "
                                 f"got {self.params[name]!r}")

    def check_params(self) -> None:
        """Raise ValueError on bad options (subclasses extend); called at the start of fit."""
        if "selection" in self.params:
            sel = self.option("selection", SELECTIONS)
            if sel == "validation":
                every = int(self.params.get("val_every", 1))
                self.selection_rule = (f"best ctx.validate() (validation split) every {every} "
                                       "epoch(s) and at the last")
        for name in ("epochs", "batch_size"):
            if name in self.params and int(self.params[name]) < 1:
                raise ValueError(f"{self.spec.name}: {name} must be >= 1")

    def _cap(self, train: PairedData, ctx: FitContext) -> PairedData:
        cap = self.params.get("max_train")
        rows = seeded_rows(len(train), None if cap is None else int(cap), self.seed)
        if rows is None:
            return train
        ctx.log(f"{self.spec.name}: max_train={cap}: training on {cap} of {len(train)} pairs")
        return self.train_on_subset(train, rows)

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        self.check_params()
        train = self._cap(train, ctx)
        name = self.spec.name
        x = modality_features(train, "image", name)
        y = modality_features(train, "text", name)
        if len(x) < self.min_pairs:
            raise ValueError(f"{name} needs at least {self.min_pairs} training pairs, "
                             f"got {len(x)}")
        bs = self.params.get("batch_size")
        if bs is not None and len(x) < int(bs):  # one batch of every pair (epoch_batches)
            self.resolve_param("batch_size", len(x))
        self.nets: dict[int, dict[str, nn.Module]] = {}
        self.info: dict[int, dict[str, Any]] = {}
        dev = torch.device(self.device)
        for i, bits in enumerate(self.bits):
            self.info[bits] = {}
            with seeded(self.seed) as gen:
                self.train_model(torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev),
                                 bits, gen, ctx, report=i == 0)

    def train_model(self, x: torch.Tensor, y: torch.Tensor, bits: int,
                    gen: torch.Generator, ctx: FitContext, report: bool) -> None:
        raise NotImplementedError

    def encoder_input(self, data: PairedData, modality: Modality) -> np.ndarray:
        """What a modality's encoder reads for ``data`` (default: its ℓ2-normalised features)."""
        return modality_features(data, modality, self.spec.name)

    @torch.no_grad()
    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        feats = torch.from_numpy(self.encoder_input(data, modality)).to(torch.device(self.device))
        out = {}
        for bits, nets in self.nets.items():
            net = nets[modality]
            was_training = net.training
            net.eval()
            parts = [net(chunk) for chunk in feats.split(self.chunk)]
            net.train(was_training)
            h = torch.cat(parts) if parts else torch.zeros(0, bits)
            out[bits] = sign_codes(h)
        return out


def report_due(epoch: int, epochs: int, every: int) -> bool:
    """Whether epoch ``epoch`` (0-based) is a reporting epoch: every ``every`` and the last."""
    return (epoch + 1) % max(1, every) == 0 or epoch + 1 == epochs
