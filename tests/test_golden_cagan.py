"""Golden values for CAGAN against independent numpy transcriptions of the authors' code,
AwakerLee/AGAH@96e8b3c, CAGAN.zip (files CAGAN/CAGAN.py, CAGAN/models.py, CAGAN/pygcn/layers.py):
the batch affinity S, the GCN branch's forward pass over S + γ·W, the four loss terms and their
weighting, and that the GCNs read detached features (their terms reach the hash networks only
through the hash codes B_I and B_T)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.deep.nets import MLP
from bench.methods.cagan.method import (
    GCNHash,
    batch_codes,
    fused_affinity,
    graph_adjacency,
    loss_terms,
)

TOL = 1e-5
ETA, BETA, LAMB, MU = 0.5, 0.2, 0.3, 1.4  # config/JAGH_MIRFlickr.json:2-5


def _rows(a: np.ndarray) -> np.ndarray:
    """torch.nn.functional.normalize(a) (dim=1, eps=1e-12) in numpy."""
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _ref_similarity(f_i: np.ndarray, txt: np.ndarray, sign_text: bool) -> np.ndarray:
    """CAGAN.py:170-204 (cal_similarity_matrix); ``sign_text=False`` swaps line 178's sign for
    the identity (the plugin's default 2cos - 1 on dense text features)."""
    fi = _rows(f_i)
    s_i = fi @ fi.T * 2 - 1  # :172-174
    ft = _rows(txt)
    s_t = ft @ ft.T  # :176-177
    s_t = (np.sign(s_t) if sign_text else s_t) * 2 - 1  # :178-179
    s_i_t = _rows(s_i) @ _rows(s_t).T  # :183
    return (ETA * s_i + BETA * s_t + LAMB * s_i_t) * MU  # :186, :202


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


def _ref_losses(c_i, c_t, g_i, g_t, s, delta, epsilon, phi) -> dict[str, float]:
    """CAGAN.py:206-225 (cal_loss)."""
    b_i, b_t, b_gi, b_gt = _rows(c_i), _rows(c_t), _rows(g_i), _rows(g_t)  # :207-210
    loss1 = _mse(b_i @ b_i.T, s) + _mse(b_t @ b_t.T, s)  # :220
    loss2 = (_mse(b_i @ b_t.T, s) + _mse(b_t @ b_i.T, s)
             - (b_i * b_t).sum(axis=1).mean())  # :221
    loss3 = _mse(b_gi @ b_gt.T, s)  # :222
    loss4 = _mse(s, b_gi @ b_i.T) + _mse(s, b_gi @ b_t.T)  # :223
    loss = delta * loss1 + epsilon * (loss2 + loss3) + phi * loss4  # :225
    return {"loss": loss, "intra": loss1, "inter": loss2, "gcn_pair": loss3, "gcn_align": loss4}


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _ref_gcn(x, s, w, gamma, gc1, gc2, lin, alpha) -> np.ndarray:
    """models.py:65-71 (GCNet_IMG.forward) with pygcn/layers.py:31-35 (adj @ (x W) + b)."""
    adj = s + gamma * w  # models.py:66
    h = _relu(adj @ (x @ gc1[0]) + gc1[1])  # :67
    h = _relu(adj @ (h @ gc2[0]) + gc2[1])  # :68
    h = h @ lin[0].T + lin[1]  # :69 (nn.Linear)
    return np.tanh(alpha * h)  # :70


@pytest.fixture
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {"x": rng.normal(size=(6, 5)), "dense": rng.normal(size=(6, 4)),
            "bow": (rng.random((6, 9)) < 0.3).astype(float),
            "codes": [np.tanh(rng.normal(size=(6, 8))) for _ in range(4)]}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("form", ["sign", "signed_cosine"])
def test_affinity_matches_the_reference(data, form: str) -> None:
    txt = data["bow"] if form == "sign" else data["dense"]
    ref = _ref_similarity(data["x"], txt, sign_text=form == "sign")
    got = fused_affinity(_t(data["x"]), _t(txt), ETA, BETA, LAMB, MU, form).numpy()
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)
    assert not np.allclose(ref, ref.T)  # the cross term makes S asymmetric


def test_gcn_forward_and_adjacency_match_the_reference(data) -> None:
    rng = np.random.default_rng(3)
    bits, bs, gamma, alpha = 8, 6, 0.45, math.sqrt(3.0)
    g = GCNHash(5, (7, 4), bits, batch_size=bs, gamma=gamma).double()
    arrays = {"gc1.weight": rng.normal(size=(5, 7)), "gc1.bias": rng.normal(size=7),
              "gc2.weight": rng.normal(size=(7, 4)), "gc2.bias": rng.normal(size=4),
              "linear.weight": rng.normal(size=(bits, 4)), "linear.bias": rng.normal(size=bits),
              "weight": rng.normal(size=(bs, bs))}
    g.load_state_dict({k: _t(v) for k, v in arrays.items()})
    s = _ref_similarity(data["x"], data["dense"], sign_text=False)
    np.testing.assert_allclose(graph_adjacency(_t(s), _t(arrays["weight"]), gamma).numpy(),
                               s + gamma * arrays["weight"], atol=TOL, rtol=0)
    ref = _ref_gcn(data["x"], s, arrays["weight"], gamma,
                   (arrays["gc1.weight"], arrays["gc1.bias"]),
                   (arrays["gc2.weight"], arrays["gc2.bias"]),
                   (arrays["linear.weight"], arrays["linear.bias"]), alpha)
    with torch.no_grad():
        got = g(_t(data["x"]), _t(s), alpha).numpy()
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)


def test_initialisation_bounds() -> None:
    """W: kaiming_uniform_ (models.py:62-63), bound √(6 / batch); GCN layers ±1/√out
    (pygcn/layers.py:25-29)."""
    g = GCNHash(5, (64, 16), 8, batch_size=32, gamma=0.45)
    assert g.weight.abs().max() <= math.sqrt(6 / 32) and g.weight.abs().max() > 0.8 * math.sqrt(
        6 / 32)
    assert g.gc1.weight.abs().max() <= 1 / 8 and g.gc2.bias.abs().max() <= 1 / 4


def test_loss_terms_match_the_reference(data) -> None:
    s = _ref_similarity(data["x"], data["dense"], sign_text=False)
    weights = (0.1, 0.7, 0.15)  # delta, epsilon, phi: epsilon != 1 separates loss2+3 from 4
    ref = _ref_losses(*data["codes"], s, *weights)
    got = loss_terms(*map(_t, data["codes"]), _t(s), *weights)
    for name, value in ref.items():
        assert abs(float(got[name]) - value) < TOL, name


def test_gcn_terms_reach_the_hash_nets_only_through_their_codes(data) -> None:
    torch.manual_seed(0)
    nets = {"image": MLP(5, [6], 8).double(), "text": MLP(4, [6], 8).double()}
    gcns = {"image": GCNHash(5, (6, 6), 8, 6, 0.45).double(),
            "text": GCNHash(4, (6, 6), 8, 6, 0.45).double()}
    x = _t(data["x"]).requires_grad_()
    y = _t(data["dense"]).requires_grad_()
    s = fused_affinity(x.detach(), y.detach(), ETA, BETA, LAMB, MU)
    c_i, c_t, g_i, g_t = batch_codes(nets, gcns, x, y, s, 1.0)
    terms = loss_terms(c_i, c_t, g_i, g_t, s, 0.1, 1.0, 0.15)
    hash_params = [*nets["image"].parameters(), *nets["text"].parameters()]
    # loss3 (CAGAN.py:222) touches no hash net and, the GCN input being detached
    # (CAGAN.py:123-124), no input feature either
    grads = torch.autograd.grad(terms["gcn_pair"], [x, y, *hash_params], retain_graph=True,
                                allow_unused=True)
    assert all(gr is None for gr in grads)
    # loss4 (CAGAN.py:223): the text GCN takes no part; the inputs' gradient is the one through
    # B_I and B_T alone (the GCN codes held constant)
    assert all(gr is None for gr in torch.autograd.grad(
        terms["gcn_align"], list(gcns["text"].parameters()), retain_graph=True,
        allow_unused=True))
    got = torch.autograd.grad(terms["gcn_align"], [x, y], retain_graph=True)
    held = loss_terms(c_i, c_t, g_i.detach(), g_t.detach(), s, 0.1, 1.0, 0.15)["gcn_align"]
    want = torch.autograd.grad(held, [x, y])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL, rtol=0)
