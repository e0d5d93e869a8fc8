"""The Mamba-1 mixer's CPU backend against a plain sequential selective scan written here from
the formulas (Gu & Dao, Mamba, 2023, Algorithm 2), and its parameter names against the other
implementations."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F

from bench.methods.prompthash.mamba import MambaMixer

NAMES = {"in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
         "dt_proj.bias", "A_log", "D", "out_proj.weight"}


def reference_mixer(m: MambaMixer, x: torch.Tensor) -> torch.Tensor:
    """Mamba-1 block step by step, in float64, with explicit loops over time and taps."""
    p = {k: v.detach().double() for k, v in m.state_dict().items()}
    x = x.double()
    b, length, _ = x.shape
    di, n, r, k = m.d_inner, m.d_state, m.dt_rank, m.d_conv
    xz = x @ p["in_proj.weight"].T
    u, z = xz[..., :di], xz[..., di:]
    conv = torch.zeros_like(u)
    w = p["conv1d.weight"][:, 0, :]  # (di, k): causal depthwise conv, zero history
    for t in range(length):
        acc = p["conv1d.bias"].expand(b, di).clone()
        for j in range(k):
            src = t - (k - 1) + j
            if src >= 0:
                acc = acc + w[:, j] * u[:, src]
        conv[:, t] = acc
    u = F.silu(conv)
    proj = u @ p["x_proj.weight"].T
    dt, bm, cm = proj[..., :r], proj[..., r:r + n], proj[..., r + n:]
    delta = F.softplus(dt @ p["dt_proj.weight"].T + p["dt_proj.bias"])  # (b, L, di)
    a = -torch.exp(p["A_log"])  # (di, n)
    h = torch.zeros(b, di, n, dtype=torch.float64)
    ys = []
    for t in range(length):
        d_t = delta[:, t, :, None]
        h = torch.exp(d_t * a) * h + d_t * bm[:, t, None, :] * u[:, t, :, None]
        ys.append((h * cm[:, t, None, :]).sum(-1) + p["D"] * u[:, t])
    y = torch.stack(ys, dim=1) * F.silu(z)
    return y @ p["out_proj.weight"].T


@pytest.mark.parametrize("length", [1, 2, 7, 33])
def test_torch_backend_matches_sequential_reference(length):
    torch.manual_seed(0)
    m = MambaMixer(24, d_state=8, d_conv=4, expand=2, backend="torch")
    with torch.no_grad():  # move off the init so every parameter matters
        for q in m.parameters():
            q.add_(0.05 * torch.randn_like(q))
    x = torch.randn(3, length, 24)
    got = m(x).double()
    want = reference_mixer(m, x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5), (got - want).abs().max()


def test_parameter_names_and_init():
    m = MambaMixer(32, d_state=16, d_conv=4, expand=2)
    assert set(m.state_dict()) == NAMES
    assert m.dt_rank == 2 and m.d_inner == 64
    assert torch.equal(m.D, torch.ones(64))
    assert torch.allclose(m.A_log.exp()[0], torch.arange(1, 17, dtype=torch.float32))
    dt = F.softplus(m.dt_proj.bias.detach())
    assert float(dt.min()) >= 1e-4 - 1e-9 and float(dt.max()) <= 0.1 + 1e-6


def test_backend_selection_on_cpu():
    x = torch.randn(2, 5, 16)
    assert MambaMixer(16).resolved_backend(x) == "torch"
    with pytest.raises(RuntimeError, match="mamba-ssm"):
        MambaMixer(16, backend="cuda")(x)
    with pytest.raises(ValueError):
        MambaMixer(16, backend="triton")  # type: ignore[arg-type]


def test_gradients_flow_to_every_parameter():
    torch.manual_seed(1)
    m = MambaMixer(16, d_state=4)
    m(torch.randn(2, 6, 16)).pow(2).sum().backward()
    for name, q in m.named_parameters():
        assert q.grad is not None and float(q.grad.abs().sum()) > 0, name


@pytest.mark.skipif(importlib.util.find_spec("mambapy") is None, reason="mambapy not installed")
def test_state_dict_loads_into_mambapy_block():
    from mambapy.mamba import MambaBlock, MambaConfig

    torch.manual_seed(2)
    ours = MambaMixer(32, d_state=16, d_conv=4, expand=2)
    theirs = MambaBlock(MambaConfig(d_model=32, n_layers=1, d_state=16, expand_factor=2,
                                    d_conv=4))
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 9, 32)
    assert torch.allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
