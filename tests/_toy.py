"""Toy paired data and a recording FitContext for the method tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.plugins import FitContext, PairedData


def toy_pairs(n: int = 60, dim: int = 16, seed: int = 0) -> PairedData:
    """Four clusters; text = shared latent + noise + an offset (a modality gap)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, dim))
    z = centres[rng.integers(0, 4, n)] + 0.3 * rng.normal(size=(n, dim))
    x = (z + 0.2 * rng.normal(size=(n, dim))).astype(np.float32)
    y = (z + 0.2 * rng.normal(size=(n, dim)) + 0.5).astype(np.float32)
    return PairedData(index=np.arange(n), image_features=x, text_features=y)


def fit_context(tmp_path: Path, reports: list | None = None,
                validate=lambda: None) -> FitContext:
    """A FitContext whose ``report`` calls append (epoch, metrics) to ``reports``."""

    def report(epoch: int, **metrics: float) -> None:
        if reports is not None:
            reports.append((epoch, metrics))

    return FitContext(validation=None, seed=0, device="cpu", workdir=tmp_path, report=report,
                      validate=validate, log=lambda msg: None)


class FixedOutputs(nn.Module):
    """Stands in for a CLIP method's network in loss tests: returns the given hash outputs,
    whatever the inputs."""

    def __init__(self, *outputs: torch.Tensor):
        super().__init__()
        self.outputs = outputs

    def forward(self, images, captions):
        return self.outputs
