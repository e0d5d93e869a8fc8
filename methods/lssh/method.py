"""Latent Semantic Sparse Hashing (Zhou et al. 2014).

Objective (rows are items; ``X`` images after PCA and ℓ2 normalisation, ``T`` texts)::

    ||X − S Bᵀ||² + ρ|S|₁ + λ||Y − S Rᵀ||² + μ||T − Y Uᵀ||²,   columns of B, R, U of norm ≤ 1

Alternation, preprocessing and coding as the reference (BMC-SDNU/Cross-Modal-Hashing-Retrieval
@0196e313aad0, LSSH/code/solveLSSH.m, LSSHcoding.m, demo_LSSH.m): S from the images alone
(solveLSSH.m:121-126), then ``outer_iters`` rounds (demo_LSSH.m:56) of Y in closed form
``Y = (UᵀU + λ/μ I)⁻¹(λ/μ R S + Uᵀ T)`` (solveLSSH.m:131, ``latent_update``), U, S by the joint
LASSO on ``[B; √λ R]`` (line 137), B, R (lines 140-141); training-mean centring, image PCA to
``bits`` dimensions (lines 52-55), unit rows (lines 66-76); image code ``sign(R s(x))`` with
``s(x)`` the LASSO code over B (LSSHcoding.m:31), text code ``sign((UᵀU + λ/μ I)⁻¹ Uᵀ t)``
(LSSHcoding.m:33), unified database code ``sign(latent_update)`` of both views
(LSSHcoding.m:35, ``unified_codes``).

Deviations (solvers, not the model): the LASSO is solved by FISTA with a fixed step
(``lasso_iters`` steps from zero; the reference's SLEP LeastR runs 30 accelerated steps from
zero with ρ as a ratio of each sample's λ_max, solveLSSH.m:97-109, as here); B, R and U are
solved by projected block-coordinate descent (``dict_sweeps`` sweeps; the reference,
l2ls_learn_basis_dual.m, uses the Lagrange dual of the same constrained least squares);
initial dictionaries are seeded Gaussian with unit columns (the reference's, solveLSSH.m:84-86,
are unnormalised); the recorded objective weights the text term by μ (the reference's printout,
solveLSSH.m:146, omits μ). Database items are coded per modality: the reference's "unified"
database codes from both modalities are not available through the harness's per-modality
``encode`` (see methods/README-classic.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.methods.lssh import SPEC
from bench.plugins import FitContext, Modality, PairedData
from bench.shallow.base import (
    ShallowHashMethod,
    centred_chunks,
    features,
    raw_features,
    sign_codes,
)
from bench.shallow.linalg import spd_solve


def unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def lasso(d: np.ndarray, x: np.ndarray, rho: float, iters: int) -> np.ndarray:
    """Rows ``s_i = argmin ½||x_i − d s||² + λ_i|s|₁`` with ``λ_i = rho·||dᵀx_i||_∞``
    (``d``: p x k dictionary, ``x``: n x p), by ``iters`` FISTA steps from zero. The gradient
    goes through the residual when p is small against k (cheaper than the k x k Gram matrix)."""
    g = d.T @ d
    c = x @ d  # n x k
    lam = (rho * np.abs(c).max(axis=1))[:, None]
    step = 1.0 / max(float(np.linalg.eigvalsh(g)[-1]), 1e-12)
    via_residual = 2 * d.shape[0] < d.shape[1]
    s = np.zeros_like(c)
    z, t = s, 1.0
    for _ in range(int(iters)):
        grad = (z @ d.T - x) @ d if via_residual else z @ g - c
        v = z - step * grad
        s_new = np.sign(v) * np.maximum(np.abs(v) - step * lam, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = s_new + ((t - 1.0) / t_new) * (s_new - s)
        s, t = s_new, t_new
    return s


def unit_ball_least_squares(target: np.ndarray, codes: np.ndarray, basis: np.ndarray,
                            sweeps: int) -> np.ndarray:
    """``argmin_D ||target − codes Dᵀ||²`` with every column of D of norm ≤ 1, by projected
    block-coordinate descent from ``basis`` (columns of unused atoms are kept)."""
    a = codes.T @ codes
    e = target.T @ codes
    d = basis.copy()
    for _ in range(int(sweeps)):
        for j in range(d.shape[1]):
            if a[j, j] <= 1e-12:
                continue
            col = d[:, j] + (e[:, j] - d @ a[:, j]) / a[j, j]
            d[:, j] = col / max(1.0, float(np.linalg.norm(col)))
    return d


def latent_update(u: np.ndarray, r: np.ndarray, s: np.ndarray, t: np.ndarray,
                  lm: float) -> np.ndarray:
    """Rows of ``Y = (UᵀU + lm I)⁻¹(lm R S + Uᵀ T)`` (lm = λ/μ; rows are items here)."""
    return spd_solve(u.T @ u, (lm * (s @ r.T) + t @ u).T, lm).T


@dataclass
class LSSHModel:
    """One code length's model: image PCA, dictionary B, alignment R, text basis U."""

    pca: np.ndarray
    dictionary: np.ndarray
    r: np.ndarray
    u: np.ndarray
    history: list[float] = field(default_factory=list)

    def image_codes(self, x: np.ndarray, rho: float, iters: int) -> np.ndarray:
        """Sparse codes s(x) of centred images."""
        return lasso(self.dictionary, unit_rows(x @ self.pca), rho, iters)


class LSSH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        train = self.capped(train, self.params["max_train"])
        x0, t0 = self.centred_training(train)
        self.models: dict[int, LSSHModel] = {}
        _, vecs = np.linalg.eigh(x0.T @ x0 / len(x0))
        for b in self.bits:
            model = self._fit_one(x0, t0, vecs[:, ::-1][:, :min(b, x0.shape[1])], b, ctx)
            self.models[b] = model
            lm = float(self.params["lam"]) / float(self.params["mu"])
            self.maps["image"][b] = (model.r.T, 0.0)  # applied to s(x), see encode
            self.maps["text"][b] = (spd_solve(model.u.T @ model.u, model.u.T, lm).T, 0.0)

    def _fit_one(self, x0: np.ndarray, t0: np.ndarray, pca: np.ndarray, b: int,
                 ctx: FitContext) -> LSSHModel:
        p = self.params
        mu, rho, lam = float(p["mu"]), float(p["rho"]), float(p["lam"])
        k, inner = int(p["atoms"]), int(p["lasso_iters"])
        x, t = unit_rows(x0 @ pca), unit_rows(t0)
        rng = self.rng(b)
        dic_b = unit_rows(rng.standard_normal((k, x.shape[1]))).T   # p x k
        u = unit_rows(rng.standard_normal((b, t.shape[1]))).T       # d_t x L
        r = unit_rows(rng.standard_normal((k, b))).T                 # L x k
        s = lasso(dic_b, x, rho, inner)
        history = []
        for _ in range(int(p["outer_iters"])):
            y = latent_update(u, r, s, t, lam / mu)
            u = unit_ball_least_squares(t, y, u, p["dict_sweeps"])
            stacked = np.vstack([dic_b, np.sqrt(lam) * r])
            s = lasso(stacked, np.hstack([x, np.sqrt(lam) * y]), rho, inner)
            dic_b = unit_ball_least_squares(x, s, dic_b, p["dict_sweeps"])
            r = unit_ball_least_squares(y, s, r, p["dict_sweeps"])
            obj = (np.sum((x - s @ dic_b.T) ** 2) + rho * np.abs(s).sum()
                   + lam * np.sum((y - s @ r.T) ** 2) + mu * np.sum((t - y @ u.T) ** 2))
            history.append(float(obj))
        ctx.report(epoch=len(self.models) + 1, **{f"objective_{b}": history[-1]})
        return LSSHModel(pca, dic_b, r, u, history)

    def _sparse(self, data: PairedData, b: int) -> np.ndarray:
        model = self.models[b]
        rho, iters = float(self.params["rho"]), int(self.params["lasso_iters"])
        chunks = centred_chunks(raw_features(data, "image"), self.mean["image"])
        return np.vstack([model.image_codes(x, rho, iters) for x in chunks] or
                         [np.zeros((0, model.dictionary.shape[1]))])

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        if modality == "text":
            return super().encode(data, modality)
        return {b: sign_codes(self._sparse(data, b) @ self.maps["image"][b][0])
                for b in self.models}

    def transform(self, x: np.ndarray, modality: Modality) -> np.ndarray:
        return unit_rows(x)  # texts (images are coded in ``encode``)

    def unified_codes(self, data: PairedData) -> dict[int, np.ndarray]:
        """The reference's database codes: sign((UᵀU + λ/μ I)⁻¹(λ/μ R s(x) + Uᵀt))."""
        lm = float(self.params["lam"]) / float(self.params["mu"])
        t = unit_rows(features(data, "text") - self.mean["text"])
        out = {}
        for b, model in self.models.items():
            out[b] = sign_codes(latent_update(model.u, model.r, self._sparse(data, b), t, lm))
        return out

    def encode_unified(self, data: PairedData) -> dict[int, np.ndarray]:
        return self.unified_codes(data)  # bench run --database-codes unified
