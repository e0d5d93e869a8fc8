"""Golden values for GNAH's losses (methods/gnah/losses.py) and anchor / affinity functions
(methods/gnah/anchors.py).

GNAH (arXiv 2606.31517) has no public code, so the reference here is the PAPER's formulas as
methods/gnah/README.md states them ("What follows the paper"), transcribed independently in
numpy with explicit loops, on fixed tiny seeded float64 inputs. Tolerance 1e-5:

* PAGA: p = softmax(Cᵀf/τ), p̂ = softmax(C_bᵀh/τ), ℓp = KL(p‖p̂) (a mean over the batch here).
* Eq. (4): s_j = mean of both modalities' relaxed codes assigned to anchor j; c_bj = sgn(s_j)
  (scaled to unit norm, 1/√L, sgn(0) = +1); GNAH-B: s_j/‖s_j‖.
* CSNA: μ = norm(f^x + f^y), σ = ½‖f^x − f^y‖, f̃ = norm(μ + σε); the InfoNCE of anchor h_i^x has
  the other modality's code of the neighbour as positive and the 2(m−1) codes h_j^x, h_j^y
  (j ≠ i) as negatives; ℓc = l(x_i, y_i) + l(y_i, x_i).
* ℓb = ‖h − b‖² with b = sgn(h) held constant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.methods.gnah.anchors import AnchorAccumulator, binarise, soft_assignment
from bench.methods.gnah.losses import (
    neighbourhood_contrastive,
    neighbourhood_gaussian,
    prototype_kl,
    quantisation,
    sample_neighbour,
)

TOL = 1e-5


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _sgn(a: np.ndarray) -> np.ndarray:
    return np.where(a >= 0, 1.0, -1.0)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


def ref_paga(f: np.ndarray, c: np.ndarray, h: np.ndarray, cb: np.ndarray, tau: float) -> float:
    p, q = _softmax(f @ c.T / tau), _softmax(h @ cb.T / tau)
    return float(np.mean([sum(p[i, k] * math.log(p[i, k] / q[i, k]) for k in range(p.shape[1]))
                          for i in range(len(p))]))


def ref_info_nce(anchor: np.ndarray, positive: np.ndarray, same: np.ndarray, other: np.ndarray,
                 tau: float) -> float:
    m, losses = len(anchor), []
    for i in range(m):
        pos = math.exp(anchor[i] @ positive[i] / tau)
        neg = sum(math.exp(anchor[i] @ same[j] / tau) + math.exp(anchor[i] @ other[j] / tau)
                  for j in range(m) if j != i)
        losses.append(-math.log(pos / (pos + neg)))
    return float(np.mean(losses))


def test_paga_matches_paper() -> None:
    rng = np.random.default_rng(0)
    m, d, k, bits = 6, 5, 3, 4
    f, c = _unit(rng.normal(size=(m, d))), _unit(rng.normal(size=(k, d)))
    h = _unit(np.tanh(rng.normal(size=(m, bits))))
    cb = _sgn(rng.normal(size=(k, bits))) / math.sqrt(bits)
    for tau in (1.0, 0.3):
        p, ne = soft_assignment(_t(f), _t(c), tau)
        np.testing.assert_allclose(p.numpy(), _softmax(f @ c.T / tau), atol=TOL)
        got = prototype_kl(p, ne, _t(h), _t(cb), tau)
        assert abs(float(got) - ref_paga(f, c, h, cb, tau)) < TOL


@pytest.mark.parametrize("variant", ["neighbour", "paired"])
def test_csna_matches_paper(variant: str) -> None:
    rng = np.random.default_rng(1)
    m, bits = 5, 6
    hx, hy = _unit(rng.normal(size=(m, bits))), _unit(rng.normal(size=(m, bits)))
    if variant == "neighbour":  # h~^y, h~^x: the other net's codes of the neighbour
        pos_x, pos_y = _unit(rng.normal(size=(m, bits))), _unit(rng.normal(size=(m, bits)))
    else:  # GNAH-A: the real paired code
        pos_x, pos_y = hy, hx
    for tau in (1.0, 0.2):
        want = ref_info_nce(hx, pos_x, hx, hy, tau) + ref_info_nce(hy, pos_y, hy, hx, tau)
        got = neighbourhood_contrastive(_t(hx), _t(hy), _t(pos_x), _t(pos_y), tau)
        assert abs(float(got) - want) < TOL


@pytest.mark.parametrize("noise", ["total", "literal", "diag"])
def test_csna_neighbourhood_matches_paper(noise: str) -> None:
    rng = np.random.default_rng(2)
    n, d = 4, 7
    x, y = _unit(rng.normal(size=(n, d))), _unit(rng.normal(size=(n, d)))
    eps = rng.normal(size=(n, d))
    want = np.zeros((n, d))
    for i in range(n):
        mu = (x[i] + y[i]) / np.linalg.norm(x[i] + y[i])
        if noise == "diag":  # the option: per-dimension |f^x_k - f^y_k| / 2
            sigma = np.abs(x[i] - y[i]) / 2
        else:  # the paper's sigma = ||f^x - f^y|| / 2; "total" draws eps from N(0, I/d)
            sigma = np.linalg.norm(x[i] - y[i]) / 2 / (math.sqrt(d) if noise == "total" else 1)
        v = mu + sigma * eps[i]
        want[i] = v / np.linalg.norm(v)
    mu_t, sigma_t = neighbourhood_gaussian(_t(x), _t(y), noise)
    np.testing.assert_allclose(sample_neighbour(mu_t, sigma_t, _t(eps)).numpy(), want, atol=TOL)


def test_quantisation_matches_paper() -> None:
    rng = np.random.default_rng(3)
    h = np.tanh(rng.normal(size=(5, 4)))
    h[0, 0] = 0.0  # sgn(0) = +1
    for scale in (1.0, 0.5):
        want = np.mean([sum((h[i, b] - scale * _sgn(h[i, b])) ** 2 for b in range(4))
                        for i in range(5)])
        assert abs(float(quantisation(_t(h), scale)) - want) < TOL
    ht = _t(h).requires_grad_()
    quantisation(ht).backward()  # b is constant: d/dh ||h - b||^2 / m = 2 (h - b) / m
    np.testing.assert_allclose(ht.grad.numpy(), 2 * (h - _sgn(h)) / 5, atol=TOL)


def test_anchor_update_eq4_matches_paper() -> None:
    rng = np.random.default_rng(4)
    k, bits = 4, 5
    hx, hy = np.tanh(rng.normal(size=(6, bits))), np.tanh(rng.normal(size=(6, bits)))
    lx, ly = np.array([0, 1, 1, 2, 0, 1]), np.array([1, 0, 2, 2, 0, 0])  # anchor 3: empty
    previous = rng.normal(size=(k, bits))
    acc = AnchorAccumulator(k, bits, "cpu")
    acc.sums = acc.sums.double()
    acc.counts = acc.counts.double()
    acc.add(_t(hx[:4]), _t(lx[:4]))  # two mini-batches, both modalities
    acc.add(_t(hy[:4]), _t(ly[:4]))
    acc.add(_t(hx[4:]), _t(lx[4:]))
    acc.add(_t(hy[4:]), _t(ly[4:]))
    s = acc.update(_t(previous)).numpy()
    codes, labels = np.vstack([hx, hy]), np.concatenate([lx, ly])
    want = np.array([codes[labels == j].mean(0) if (labels == j).any() else previous[j]
                     for j in range(k)])
    np.testing.assert_allclose(s, want, atol=TOL)
    np.testing.assert_allclose(binarise(_t(want)).numpy(), _sgn(want) / math.sqrt(bits),
                               atol=TOL)
    np.testing.assert_allclose(binarise(_t(want), continuous=True).numpy(), _unit(want),
                               atol=TOL)
