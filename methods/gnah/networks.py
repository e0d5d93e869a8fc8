"""The two modality-specific hash networks, stored as one stacked pair for speed."""

from __future__ import annotations

import math

import torch
from torch import nn


class PairedHashNet(nn.Module):
    """Two 2-layer MLPs ``d -> hidden -> bits`` (ReLU, then tanh), index 0 image, 1 text.

    The weights of both networks are stacked so that one ``bmm`` evaluates both at once (the
    networks share nothing; GNAH needs image and text features of the same dimension ``d``).
    Initialisation follows ``nn.Linear`` (uniform in ±1/sqrt(fan_in)) from a local generator.
    """

    def __init__(self, dim: int, hidden: int, bits: int, generator: torch.Generator,
                 device: str | torch.device = "cpu"):
        super().__init__()

        def uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
            bound = 1.0 / math.sqrt(fan_in)
            t = torch.rand(shape, generator=generator, device=device) * (2 * bound) - bound
            return nn.Parameter(t)

        self.w1 = uniform((2, dim, hidden), dim)
        self.b1 = uniform((2, 1, hidden), dim)
        self.w2 = uniform((2, hidden, bits), hidden)
        self.b2 = uniform((2, 1, bits), hidden)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (2, m, d): row 0 for the image net, row 1 for the text net -> (2, m, bits)."""
        hidden = torch.relu(torch.baddbmm(self.b1, inputs, self.w1))
        return torch.tanh(torch.baddbmm(self.b2, hidden, self.w2))

    def one(self, inputs: torch.Tensor, modality: int) -> torch.Tensor:
        """Relaxed codes of one modality's network (0 image, 1 text) for ``inputs`` (m, d)."""
        hidden = torch.relu(torch.addmm(self.b1[modality], inputs, self.w1[modality]))
        return torch.tanh(torch.addmm(self.b2[modality], hidden, self.w2[modality]))
