"""Collective Matrix Factorization Hashing (Ding et al. 2014), as the reference code solves it.

Objective (rows are items; ``X_t`` centred, ``V`` n x L, ``U_t`` L x d_t, ``P_t`` d_t x L)::

    J = Σ_t α_t ( ||X_t − V U_t||² + μ ||V − X_t P_t||² + γ (||U_t||² + ||P_t||² + ||V||²) )

Each update is the exact minimiser of J in one block, so J never increases:
``U_t = (VᵀV + γI)⁻¹ VᵀX_t``; ``V = Σ_t α_t X_t (U_tᵀ + μ P_t) · (Σ_t α_t (U_t U_tᵀ + (μ+γ) I))⁻¹``;
``P_t = (μ X_tᵀX_t + γI)⁻¹ μ X_tᵀ V``. The start is seeded uniform [0, 1) for V and P_t (the
reference's ``rand``); 25 rounds; codes ``sign(x P_t)`` (threshold 0 on centred features).
Deviation: none in the algorithm; the CVPR paper's weights (α on the factorisation only) differ
from the TKDE objective above, which the reference code implements.
"""

from __future__ import annotations

import numpy as np

from bench.methods.cmfh import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.base import MODALITIES, ShallowHashMethod, features, sign_codes
from bench.shallow.linalg import spd_solve


def objective(xs, v, us, ps, alphas, mu, gamma) -> float:
    total = 0.0
    for x, u, p, a in zip(xs, us, ps, alphas, strict=True):
        total += a * (np.sum((x - v @ u) ** 2) + mu * np.sum((v - x @ p) ** 2)
                      + gamma * (np.sum(u ** 2) + np.sum(p ** 2) + np.sum(v ** 2)))
    return float(total)


def latent(xs, us, ps, alphas, mu, gamma) -> np.ndarray:
    """The V minimising J for items with both modalities, given U_t and P_t."""
    eye = np.eye(us[0].shape[0])
    lhs = sum(a * (u @ u.T + (mu + gamma) * eye) for a, u in zip(alphas, us, strict=True))
    rhs = sum(a * (x @ (u.T + mu * p)) for a, x, u, p in zip(alphas, xs, us, ps, strict=True))
    return spd_solve(lhs, rhs.T).T


def cmfh(xs: list[np.ndarray], bits: int, alphas: tuple[float, float], mu: float,
         gamma: float, iters: int, rng: np.random.Generator
         ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[float]]:
    """(P_t, U_t per modality, V, objective after each round)."""
    n = len(xs[0])
    v = rng.random((n, bits))
    ps = [rng.random((x.shape[1], bits)) for x in xs]
    grams = [x.T @ x for x in xs]
    history: list[float] = []
    us: list[np.ndarray] = []
    for _ in range(int(iters)):
        us = [spd_solve(v.T @ v, v.T @ x, gamma) for x in xs]
        v = latent(xs, us, ps, alphas, mu, gamma)
        ps = [spd_solve(mu * g, mu * (x.T @ v), gamma) for g, x in zip(grams, xs, strict=True)]
        history.append(objective(xs, v, us, ps, alphas, mu, gamma))
    return ps, us, v, history


class CMFH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        a = float(self.params["alpha"])
        self.alphas = (a, 1.0 - a)
        self.history: dict[int, list[float]] = {}
        self.factors: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for b in self.bits:
            ps, us, _, self.history[b] = cmfh(
                [x, y], b, self.alphas, float(self.params["mu"]),
                float(self.params["gamma"]), int(self.params["iters"]), self.rng(b))
            self.factors[b] = (ps, us)
            self.maps["image"][b], self.maps["text"][b] = (ps[0], 0.0), (ps[1], 0.0)
            ctx.report(epoch=len(self.history), **{f"objective_{b}": self.history[b][-1]})

    def unified_codes(self, data: PairedData) -> dict[int, np.ndarray]:
        """sign(V) of items with both modalities: the latent of the CMFH paper's database."""
        xs = [features(data, m) - self.mean[m] for m in MODALITIES]
        return {b: sign_codes(latent(xs, us, ps, self.alphas, float(self.params["mu"]),
                                     float(self.params["gamma"])))
                for b, (ps, us) in self.factors.items()}
