"""Collective Matrix Factorization Hashing (Ding et al. 2014), as the reference code solves it.

Reference: BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, CMFH/code/CMFH_learn.m (the
updates, lines 42-50), CMFH_compress1.m (per-modality codes), CMFH_compress.m:11-12 (unified
database codes). Objective (rows are items; ``X_t`` centred, ``V`` n x L, ``U_t`` L x d_t,
``P_t`` d_t x L)::

    J = Σ_t α_t ( ||X_t − V U_t||² + μ ||V − X_t P_t||² + γ (||U_t||² + ||P_t||² + ||V||²) )

One round, in the reference's order: ``U_t = (VᵀV + γI)⁻¹ VᵀX_t`` (line 42-43);
``V = Σ_t α_t X_t (U_tᵀ + μ P_t) · (Σ_t α_t (U_t U_tᵀ + (μ+γ) I))⁻¹`` (line 46); then P_t
(line 49-50), by ``projection_update``:

* ``reference`` (default): the line as MATLAB parses it. ``mu * (mu*X1'*X1 + gamma*eye) \\
  X1' * Y`` is ``((μ M) \\ Xᵀ) V`` (``*`` and ``\\`` bind equally, left to right), i.e.
  ``M⁻¹XᵀV / μ``: 1/μ² times the minimiser, so μ P_t in the next V update weighs like P_t/μ.
* ``exact``: the minimiser ``(μ XᵀX + γI)⁻¹ μ XᵀV`` (J never increases).

25 rounds from a seeded uniform [0, 1) start for V and P_t (the reference's ``rand``). Codes
``sign(x P_t)`` per modality (the scale of P_t does not matter there); unified codes of an item
with both modalities ``sign(v(x, y) − mean(V))`` with ``v`` the V update on the item. Deviations:
methods/cmfh/README.md.
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


def projection(gram: np.ndarray, x: np.ndarray, v: np.ndarray, mu: float, gamma: float,
               update: str) -> np.ndarray:
    """P_t given V. ``exact``: the minimiser (μ XᵀX + γI)⁻¹ μ XᵀV. ``reference``: the reference
    line as MATLAB parses it, ``((μ(μXᵀX + γI)) \\ Xᵀ) V`` = the minimiser / μ²."""
    if update == "exact":
        return spd_solve(mu * gram, mu * (x.T @ v), gamma)
    if update == "reference":
        return spd_solve(mu * gram, x.T @ v, gamma) / mu
    raise ValueError(f"projection_update must be exact|reference, got {update!r}")


def cmfh_round(xs: list[np.ndarray], grams: list[np.ndarray], v: np.ndarray,
               ps: list[np.ndarray], alphas: tuple[float, float], mu: float, gamma: float,
               update: str) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """One round of CMFH_learn.m:42-50: (U_t, V, P_t) from the previous V and P_t."""
    us = [spd_solve(v.T @ v, v.T @ x, gamma) for x in xs]
    v = latent(xs, us, ps, alphas, mu, gamma)
    ps = [projection(g, x, v, mu, gamma, update) for g, x in zip(grams, xs, strict=True)]
    return us, v, ps


def cmfh(xs: list[np.ndarray], bits: int, alphas: tuple[float, float], mu: float,
         gamma: float, iters: int, rng: np.random.Generator, update: str = "reference"
         ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[float]]:
    """(P_t, U_t per modality, V, objective J after each round)."""
    v = rng.random((len(xs[0]), bits))
    ps = [rng.random((x.shape[1], bits)) for x in xs]
    grams = [x.T @ x for x in xs]
    history: list[float] = []
    us: list[np.ndarray] = []
    for _ in range(int(iters)):
        us, v, ps = cmfh_round(xs, grams, v, ps, alphas, mu, gamma, update)
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
        self.v_mean: dict[int, np.ndarray] = {}
        for b in self.bits:
            ps, us, v, self.history[b] = cmfh(
                [x, y], b, self.alphas, float(self.params["mu"]),
                float(self.params["gamma"]), int(self.params["iters"]), self.rng(b),
                str(self.params["projection_update"]))
            self.factors[b], self.v_mean[b] = (ps, us), v.mean(0)
            self.maps["image"][b], self.maps["text"][b] = (ps[0], 0.0), (ps[1], 0.0)
            ctx.report(epoch=len(self.history), **{f"objective_{b}": self.history[b][-1]})

    def unified_codes(self, data: PairedData) -> dict[int, np.ndarray]:
        """Codes of items with both modalities, CMFH_compress.m:11-12: the V update on them,
        less the training V's mean, thresholded at 0 (the CMFH paper's database codes)."""
        xs = [features(data, m) - self.mean[m] for m in MODALITIES]
        mu, gamma = float(self.params["mu"]), float(self.params["gamma"])
        return {b: sign_codes(latent(xs, us, ps, self.alphas, mu, gamma) - self.v_mean[b])
                for b, (ps, us) in self.factors.items()}

    def encode_unified(self, data: PairedData) -> dict[int, np.ndarray]:
        return self.unified_codes(data)  # bench run --database-codes unified
