"""Inter-Media Hashing (Song et al. 2013) for fully paired training data.

Objective (codes ``Y_m`` of each modality's training items, hash functions ``W_m``):
``Σ_m λ tr(Y_mᵀ L_m Y_m) + Σ_m (||X_m W_m − Y_m||² + β||W_m||²) + θ Σ_i ||y_i¹ − y_i²||²``
with ``YᵀY = I``. Substituting the ridge solution ``W_m = (X_mᵀX_m + βI)⁻¹X_mᵀY_m`` leaves
``tr(Y_mᵀ A_m Y_m)``, ``A_m = I − X_m(X_mᵀX_m + βI)⁻¹X_mᵀ`` (BMC-SDNU/Cross-Modal-Hashing-
Retrieval@0196e313aad0, IMH/code/IMH_learn.m:28-31). The reference enforces pair consistency
with θ = 1e10 (IMH_learn.m:22, 40-41: ``C_2 = (A_2 + λL_2 + θI)⁻¹θ``, ``D = A_1 + C_2ᵀA_2C_2 +
θ(I − C_2)ᵀ(I − C_2) + λL_1 + λC_2ᵀL_2C_2``); here θ → ∞ exactly (``C_2 = I``, ``Y_1 = Y_2 = Y``),
so ``Y`` is given by the ``bits`` smallest eigenvectors of ``A_1 + A_2 + λ(L_1 + L_2)``, which
differs from the reference's D by O(1/θ) = O(1e-10).

Reference behaviours as options: binary k-NN weights with k = 1 (Laplacian_GK.m:22; the heat
kernel on line 23 is commented out, ``weights="heat"`` restores it), the median threshold of
the batch being encoded, code 1 where the projection is strictly above it (IMH_compress.m:8-10,
``threshold="batch_median"``; default: the training median, so a query's code does not depend
on the other queries encoded with it), and no centring (``center=False``; demo_IMH.m does not
centre). Deviation: the training set is capped at ``max_train`` pairs (seeded).
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.methods.imh import SPEC
from bench.plugins import FitContext, Modality, PairedData
from bench.shallow.anchors import squared_distances
from bench.shallow.base import ShallowHashMethod
from bench.shallow.linalg import smallest_eigh, spd_solve


def knn_laplacian_into(target: np.ndarray, x: np.ndarray, k: int, weights: str, sigma: float,
                       scale: float, chunk: int = 2048) -> None:
    """Add ``scale · L`` in place to ``target`` (n x n), L the Laplacian of the symmetrised
    k-nearest-neighbour graph of the rows of ``x`` (self excluded)."""
    n = len(x)
    k = min(int(k), n - 1)
    if k < 1:
        return
    rows, cols, vals = [], [], []
    for s in range(0, n, chunk):
        d = squared_distances(x[s:s + chunk], x)
        d[np.arange(len(d)), np.arange(s, s + len(d))] = np.inf
        nn = np.argpartition(d, k - 1, axis=1)[:, :k]
        dn = np.take_along_axis(d, nn, axis=1)
        w = np.ones_like(dn) if weights == "binary" else np.exp(-dn / sigma ** 2)
        rows.append(np.repeat(np.arange(s, s + len(d)), k))
        cols.append(nn.ravel())
        vals.append(w.ravel())
    r, c, v = np.concatenate(rows), np.concatenate(cols), 0.5 * np.concatenate(vals)
    # W = (G + Gᵀ)/2; L = D - W
    np.add.at(target, (r, c), -scale * v)
    np.add.at(target, (c, r), -scale * v)
    degree = np.bincount(r, weights=v, minlength=n) + np.bincount(c, weights=v, minlength=n)
    target[np.diag_indices(n)] += scale * degree


class IMH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        if self.params["weights"] not in ("binary", "heat"):
            raise BenchError(f"imh: weights must be 'binary' or 'heat', "
                             f"not {self.params['weights']!r}")
        if self.params["threshold"] not in ("train_median", "batch_median"):
            raise BenchError(f"imh: threshold must be 'train_median' or 'batch_median', "
                             f"not {self.params['threshold']!r}")
        train = self.capped(train, self.params["max_train"])
        x, y = self.centred_training(train)
        n, top = len(x), max(self.bits)
        if top >= n:
            raise BenchError(f"imh: {top} bits need more than {n} training pairs")
        beta, lam = float(self.params["beta"]), float(self.params["lam"])
        m = np.zeros((n, n))
        m[np.diag_indices(n)] = 2.0
        solves = {}
        for name, f in (("image", x), ("text", y)):
            solves[name] = spd_solve(f.T @ f, f.T, beta)  # (d, n): (XᵀX + βI)⁻¹Xᵀ
            m -= f @ solves[name]
            knn_laplacian_into(m, f, self.params["k"], self.params["weights"],
                               float(self.params["sigma"]), lam)
        self.eigenvalues, self.embedding = smallest_eigh(m, top)
        del m
        for name, f in (("image", x), ("text", y)):
            w = solves[name] @ self.embedding
            t = np.median(f @ w, axis=0)
            for b in self.bits:
                self.maps[name][b] = (w[:, :b], t[:b])
        ctx.report(epoch=1, smallest_eigenvalue=float(self.eigenvalues[0]))

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        if self.params["threshold"] == "train_median":
            return super().encode(data, modality)
        maps = self.maps[modality]
        parts: dict[int, list[np.ndarray]] = {b: [] for b in maps}
        for x in self._chunks(data, modality):
            for b, (w, _) in maps.items():
                parts[b].append(x @ w)
        out = {}
        for b, p in parts.items():  # the reference thresholds every encoded batch at its median
            v = np.concatenate(p) if p else np.zeros((0, b))
            out[b] = (np.where(v > np.median(v, axis=0), 1, -1).astype(np.int8) if len(v)
                      else v.astype(np.int8))  # strictly above, as IMH_compress.m:10
        return out
