"""Semantics-Preserving Hashing (Lin et al. 2015): SePH_rnd and SePH_km.

Reference: BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, SePH/code/demo_SePH.m (P, α, σ²,
anchors, C), minKLD.m (code learning), kernelMatrix.m and markSchmidt/lossFuncs/LogisticLoss.m,
penalizedKernelL2.m (the kernel logistic regression).

1. ``P``: cosine similarity of the label rows (demo_SePH.m:60-64), zero diagonal, symmetrised,
   summing to 1 (minKLD.m:20-22).
2. Relaxed training codes ``H`` (n x L) minimise ``KL(P‖Q) + α‖|H| − 1‖²`` with
   ``Q_ij ∝ (1 + ‖h_i − h_j‖²/4)⁻¹`` (for ±1 codes ``‖h_i − h_j‖²/4`` is the Hamming distance)
   and ``α = alpha/(L·n)``. The gradient of the KL term is ``(diag(rowsum M) − M) H`` with
   ``M = (P − Q) ∘ (1 + ‖h_i − h_j‖²/4)⁻¹`` (minKLD.m:42-50). Optimiser as the reference: 100
   iterations from 1e-4·N(0, 1), learning rate 500, momentum 0.5, delta-bar-delta gains (min
   0.01), columns centred after every step, the lowest-objective iterate kept. ``B = sgn(H)``.
3. Per modality: RBF features ``exp(−‖x − a_j‖²/σ²)`` to ``anchors`` anchors (random training
   items for SePH_rnd, k-means centres for SePH_km), σ² the mean squared distance between
   training items; per bit a kernel logistic regression ``Σ log(1 + exp(−b_i k_iᵀw)) + C wᵀK₀w``
   (K₀ the anchor kernel), from zero, by L-BFGS (all bits in one separable problem).

Deviations: the reference records its objective with Q of the previous iterate but the
quantisation term of the new one (minKLD.m:62); here both use the same iterate, and the
starting point is a candidate too. L-BFGS is scipy's instead of
minFunc (same objective, gradient tolerance 1e-5, at most ``klr_iters`` iterations). The
training set is capped at ``max_train`` pairs (seeded; O(n²) memory).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize

from bench.methods.seph import SPEC_KM, SPEC_RND
from bench.plugins import FitContext, Modality, PairedData
from bench.shallow.anchors import kmeans_anchors, random_anchors, squared_distances
from bench.shallow.base import MODALITIES, ShallowHashMethod, features, sign_codes
from bench.shallow.labels import normalised_labels

TINY = np.finfo(np.float64).tiny


def label_affinity(labels: np.ndarray) -> np.ndarray:
    """SePH's P: cosine label similarity, zero diagonal, symmetric, summing to 1."""
    lh = normalised_labels(labels)
    p = lh @ lh.T
    np.fill_diagonal(p, 0.0)
    p = 0.5 * (p + p.T)
    total = p.sum()
    if total <= 0:
        raise ValueError("SePH needs at least two training items sharing a label")
    p /= total
    return np.maximum(p, TINY, out=p)


def _student_t(h: np.ndarray) -> np.ndarray:
    sq = (h * h).sum(1)
    num = -2.0 * (h @ h.T)
    num += sq[:, None]
    num += sq[None, :]
    num *= 0.25
    num += 1.0
    np.reciprocal(num, out=num)
    np.fill_diagonal(num, 0.0)
    return num


def kl_step(p: np.ndarray, h: np.ndarray, alpha: float, const: float
            ) -> tuple[float, float, np.ndarray]:
    """(KL(P‖Q), KL + α‖|H| − 1‖², gradient of the latter) at ``h``; ``const = Σ P log P``."""
    num = _student_t(h)
    q = np.maximum(num / num.sum(), TINY)
    kl = const - float(np.sum(p * np.log(q)))
    cost = kl + alpha * float(np.sum((np.abs(h) - 1.0) ** 2))
    q -= p
    q *= -num  # M = (P − Q) ∘ num, in place
    grad = q.sum(1)[:, None] * h - q @ h + 2.0 * alpha * (np.abs(h) - 1.0) * np.sign(h)
    return kl, cost, grad


def min_kld(p: np.ndarray, bits: int, alpha: float, rng: np.random.Generator, iters: int = 100,
            lr: float = 500.0, momentum: float = 0.5, min_gain: float = 0.01
            ) -> tuple[np.ndarray, list[float], list[float]]:
    """(lowest-objective H, KL per iterate, objective per iterate) of SePH's code learning."""
    const = float(np.sum(p * np.log(p)))
    h = 1e-4 * rng.standard_normal((len(p), bits))
    incs, gains = np.zeros_like(h), np.ones_like(h)
    best, best_h = np.inf, h
    kls, costs = [], []
    for it in range(int(iters) + 1):
        kl, cost, grad = kl_step(p, h, alpha, const)
        kls.append(kl)
        costs.append(cost)
        if cost < best:
            best, best_h = cost, h
        if it == iters:
            break
        same = np.sign(grad) == np.sign(incs)
        gains = np.where(same, gains * 0.8, gains + 0.2)
        np.maximum(gains, min_gain, out=gains)
        incs = momentum * incs - lr * gains * grad
        h = h + incs
        h = h - h.mean(0)
    return best_h, kls, costs


def rbf(x: np.ndarray, anchors: np.ndarray, sigma2: float) -> np.ndarray:
    return np.exp(-squared_distances(x, anchors) / sigma2)


def mean_squared_distance(x: np.ndarray) -> float:
    """Mean of ‖x_i − x_j‖² over all ordered pairs (i = j included), without n x n memory."""
    return max(2.0 * float((x * x).sum(1).mean()) - 2.0 * float(x.mean(0) @ x.mean(0)), 1e-12)


def kernel_logistic(k: np.ndarray, k0: np.ndarray, targets: np.ndarray, c: float,
                    iters: int) -> np.ndarray:
    """W (m x L) minimising Σ_bits Σ_i log(1 + exp(−b_i k_iᵀw)) + c wᵀK₀w, from zero.

    Solved by L-BFGS in the variables ``v = Lᵀw``, ``L Lᵀ = ¼KᵀK + 2cK₀`` (the Hessian at the
    start), where the problem is well conditioned: same minimiser, far fewer iterations."""
    m, nbits = k.shape[1], targets.shape[1]
    h0 = 0.25 * (k.T @ k) + 2.0 * c * k0
    h0[np.diag_indices(m)] += 1e-10 * float(np.trace(h0)) / m + 1e-300
    chol = sla.cholesky(h0, lower=True)
    f_mat = sla.solve_triangular(chol, k.T, lower=True).T            # K L^{-T}
    pen = sla.solve_triangular(chol, sla.solve_triangular(chol, k0, lower=True).T,
                               lower=True)                             # L^{-1} K0 L^{-T}
    pen = c * 0.5 * (pen + pen.T)

    def f(flat: np.ndarray) -> tuple[float, np.ndarray]:
        v = flat.reshape(m, nbits)
        margin = targets * (f_mat @ v)
        pv = pen @ v
        loss = float(np.logaddexp(0.0, -margin).sum()) + float(np.sum(v * pv))
        grad = -f_mat.T @ (targets * np.exp(-np.logaddexp(0.0, margin))) + 2.0 * pv
        return loss, grad.ravel()

    res = minimize(f, np.zeros(m * nbits), jac=True, method="L-BFGS-B",
                   options={"maxiter": int(iters), "gtol": 1e-5})
    return sla.solve_triangular(chol.T, res.x.reshape(m, nbits), lower=False)


class _SePH(ShallowHashMethod):
    anchor_kind = "random"

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        train = self.capped(train, self.params["max_train"])
        pr = self.params
        x, y = self.centred_training(train)
        p = label_affinity(train.labels)
        n = len(p)
        m = min(int(pr["anchors"]), n)
        self.anchors, self.sigma2, kernels = {}, {}, {}
        for name, f in zip(MODALITIES, (x, y), strict=True):
            rng = self.rng(0, MODALITIES.index(name))
            self.anchors[name] = (random_anchors(f, m, rng) if self.anchor_kind == "random"
                                  else kmeans_anchors(f, m, rng, int(pr["kmeans_iters"])))
            self.sigma2[name] = mean_squared_distance(f)
            kernels[name] = (rbf(f, self.anchors[name], self.sigma2[name]),
                             rbf(self.anchors[name], self.anchors[name], self.sigma2[name]))
        self.kl_history, self.cost_history, self.codes = {}, {}, {}
        self.log_prior_odds: dict[int, np.ndarray] = {}
        for b in self.bits:
            h, self.kl_history[b], self.cost_history[b] = min_kld(
                p, b, float(pr["alpha"]) / (b * n), self.rng(b), int(pr["iters"]),
                float(pr["lr"]), float(pr["momentum"]))
            codes = sign_codes(h).astype(np.float64)
            self.codes[b] = codes
            share = np.clip((codes > 0).mean(0), 1e-12, 1 - 1e-12)
            self.log_prior_odds[b] = np.log(share / (1 - share))
            for name in MODALITIES:
                k, k0 = kernels[name]
                w = kernel_logistic(k, k0, codes, float(pr["C"]), int(pr["klr_iters"]))
                self.maps[name][b] = (w, 0.0)
            ctx.report(epoch=len(self.kl_history), kl=self.kl_history[b][-1])
        del p

    def transform(self, x: np.ndarray, modality: Modality) -> np.ndarray:
        return rbf(x, self.anchors[modality], self.sigma2[modality])

    def unified_codes(self, data: PairedData) -> dict[int, np.ndarray]:
        """Both views' bit posteriors combined, p(b|x,y) ∝ p(b|x) p(b|y) / p(b) (SePH's codes
        for a retrieval set with both views): sign(z_image + z_text − log(p(+)/p(−)))."""
        z = {m: self.transform(features(data, m) - self.mean[m], m) for m in MODALITIES}
        return {b: sign_codes(z["image"] @ self.maps["image"][b][0]
                              + z["text"] @ self.maps["text"][b][0] - self.log_prior_odds[b])
                for b in self.bits}

    def encode_unified(self, data: PairedData) -> dict[int, np.ndarray]:
        return self.unified_codes(data)  # bench run --database-codes unified


class SePHRnd(_SePH):
    spec = SPEC_RND
    anchor_kind = "random"


class SePHKM(_SePH):
    spec = SPEC_KM
    anchor_kind = "kmeans"
