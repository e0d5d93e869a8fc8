"""MLP hash networks and the binarisation used by every deep plugin."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    """``in_dim -> hidden[0] -> ... -> out_dim``: Linear layers with ReLU between them.

    ``dropout`` is applied before the last layer (UCMFH/CIRH style). The output is the
    pre-activation ("hid"), before any tanh.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU()]
            prev = int(width)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(prev, out_dim))
        self.body = nn.Sequential(*layers)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer (after its ReLU); ``x`` itself when there is none."""
        return self.body[:-1](x)

    def head(self, t: torch.Tensor) -> torch.Tensor:
        """The last Linear layer on the output of :meth:`trunk`."""
        return self.body[-1](t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def sign_codes(h: torch.Tensor) -> np.ndarray:
    """±1 int8 codes with sgn(0) = +1."""
    return np.where(h.detach().cpu().numpy() >= 0, 1, -1).astype(np.int8)
