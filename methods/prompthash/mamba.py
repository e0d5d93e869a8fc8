"""A Mamba-1 mixer with two interchangeable backends.

:class:`MambaMixer` owns the parameters of the Mamba-1 block under the names ``in_proj``,
``conv1d``, ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj`` (the names used by
``mamba_ssm.Mamba`` and ``mambapy.mamba.MambaBlock``), so one state dict serves every backend.
Only the selective scan differs:

* ``"cuda"``: ``mamba_ssm``'s compiled ``selective_scan_fn`` (imported lazily; needs CUDA and
  the optional ``mamba-ssm`` package);
* ``"torch"``: the pure-PyTorch scan below (any device).

``backend="auto"`` picks ``"cuda"`` for CUDA inputs when ``mamba_ssm`` imports, else ``"torch"``.

Formulas (Gu, Dao. Mamba, arXiv 2312.00752): Δ = softplus(dt_proj(dt));
h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t; y_t = C_t h_t + D u_t; y ← y · SiLU(z).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

Backend = Literal["auto", "torch", "cuda"]


@lru_cache(maxsize=1)
def cuda_scan_fn() -> Any | None:
    """``mamba_ssm``'s ``selective_scan_fn`` or None when it cannot be imported."""
    if not torch.cuda.is_available():
        return None
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or the compiled extension failing to load
        return None
    return selective_scan_fn


def selective_scan_torch(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor,
                         B: torch.Tensor, C: torch.Tensor, D: torch.Tensor,
                         z: torch.Tensor, delta_bias: torch.Tensor) -> torch.Tensor:
    """Pure-PyTorch selective scan, computed in fp32.

    Shapes (mamba_ssm's layout): ``u``, ``delta``, ``z``: (batch, d_inner, L); ``A``:
    (d_inner, N); ``B``, ``C``: (batch, N, L); ``D``, ``delta_bias``: (d_inner,).
    Everything but the recurrence is vectorised; the recurrence is a loop over L of one
    multiply-add on (batch, d_inner, N) tensors.
    """
    dtype = u.dtype
    u, delta, z = u.float(), delta.float(), z.float()
    A, B, C = A.float(), B.float(), C.float()
    delta = F.softplus(delta + delta_bias.float()[None, :, None])
    decay = torch.exp(delta.unsqueeze(-1) * A[None, :, None, :])  # (b, d, L, N)
    drive = (delta * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1)  # (b, d, L, N)
    h = torch.zeros_like(drive[:, :, 0])
    states = []
    # unbind, not indexing: the backward of L separate selects would build L full-size zero
    # tensors (quadratic in L); unbind's backward stacks the slices once
    for a_t, b_t in zip(decay.unbind(2), drive.unbind(2), strict=True):
        h = a_t * h + b_t
        states.append(h)
    hs = torch.stack(states, dim=2)  # (b, d, L, N)
    y = torch.einsum("bdln,bnl->bdl", hs, C) + D.float()[None, :, None] * u
    return (y * F.silu(z)).to(dtype)


class MambaMixer(nn.Module):
    """The Mamba-1 mixer: (batch, L, d_model) -> (batch, L, d_model)."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | None = None, dt_min: float = 1e-3, dt_max: float = 0.1,
                 dt_floor: float = 1e-4, backend: Backend = "auto"):
        super().__init__()
        if backend not in ("auto", "torch", "cuda"):
            raise ValueError(f"unknown Mamba backend {backend!r} (auto, torch or cuda)")
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.backend = backend
        di = self.d_inner
        self.in_proj = nn.Linear(d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(di, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, di, bias=True)
        self.out_proj = nn.Linear(di, d_model, bias=False)
        # standard Mamba-1 initialisation of dt and A
        with torch.no_grad():
            bound = self.dt_rank ** -0.5
            self.dt_proj.weight.uniform_(-bound, bound)
            dt = torch.exp(torch.rand(di) * (math.log(dt_max) - math.log(dt_min))
                           + math.log(dt_min)).clamp(min=dt_floor)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(di, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.D = nn.Parameter(torch.ones(di))

    def resolved_backend(self, x: torch.Tensor) -> str:
        """The backend this input runs on."""
        if self.backend == "torch":
            return "torch"
        fn = cuda_scan_fn() if x.is_cuda else None
        if fn is None:
            if self.backend == "cuda":
                raise RuntimeError("Mamba backend 'cuda' needs a CUDA tensor and the mamba-ssm "
                                   "package (pip install 'cmh-bench[cuda]')")
            return "torch"
        return "cuda"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        xz = self.in_proj(x).transpose(1, 2)  # (b, 2*di, L)
        u, z = xz.chunk(2, dim=1)
        u = F.silu(self.conv1d(u)[..., :length])
        proj = self.x_proj(u.transpose(1, 2))  # (b, L, R + 2N)
        dt, B, C = proj.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dt @ self.dt_proj.weight.t()).transpose(1, 2)  # (b, di, L), bias in the scan
        B, C = B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous()
        A = -torch.exp(self.A_log.float())
        if self.resolved_backend(x) == "cuda":
            fn = cuda_scan_fn()
            y = fn(u.contiguous(), delta.contiguous(), A, B, C, self.D.float(), z=z.contiguous(),
                   delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        else:
            y = selective_scan_torch(u, delta, A, B, C, self.D, z, self.dt_proj.bias)
        return self.out_proj(y.transpose(1, 2))
