"""Cross-Modal Similarity-Sensitive Hashing (Bronstein et al. 2010).

Each bit is a weak classifier of cross-modal pairs, ``ξ(x) η(y)`` with ``ξ(x) = sgn(pᵀx + a)``
and ``η(y) = sgn(qᵀy + b)``, learned by AdaBoost on pairs (x_k, y_k, s_k = ±1): the
relaxation of ``max Σ w_k s_k ξ(x_k) η(y_k)`` is the top singular pair of the weighted
cross-covariance ``Σ w_k s_k x_k y_kᵀ``; the thresholds come from a search over projection
quantiles; the pair weights are boosted with ``α = ½ log((1 + r)/(1 − r))``. Bits are
sequential, so the first 16 of 64 bits are the 16-bit code (``multi_bit``).

Reconstructed choices (no public code: the BMC-SDNU/Cross-Modal-Hashing-Retrieval collection,
@0196e313aad0, has none, and no other public implementation was found): training pairs are
drawn with a seeded generator from all (image i, text j) combinations of the training items,
``positive_fraction`` of them similar; the threshold search is a joint grid over
``thresholds`` quantiles (5 %–95 %) of the training items' projections. Features are centred
on the training mean.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.methods.cmssh import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.base import ShallowHashMethod
from bench.shallow.labels import shares_label
from bench.shallow.linalg import sign_fix


def sample_pairs(labels: np.ndarray, count: int, positive_fraction: float,
                 rng: np.random.Generator, rounds: int = 50) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """(i, j, s): ``count`` seeded cross-modal pairs, about ``positive_fraction`` similar."""
    n = len(labels)
    want = {1.0: int(round(count * positive_fraction)), -1.0: 0}
    want[-1.0] = count - want[1.0]
    got: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {1.0: [], -1.0: []}
    have = {1.0: 0, -1.0: 0}
    for _ in range(rounds):
        i, j = rng.integers(0, n, size=count), rng.integers(0, n, size=count)
        s = shares_label(labels[i], labels[j])
        for kind in (1.0, -1.0):
            sel = np.flatnonzero(s == kind)[: max(want[kind] - have[kind], 0)]
            got[kind].append((i[sel], j[sel]))
            have[kind] += len(sel)
        if have[1.0] >= want[1.0] and have[-1.0] >= want[-1.0]:
            break
    if have[1.0] == 0 or have[-1.0] == 0:
        kind = "similar" if have[1.0] == 0 else "dissimilar"
        raise BenchError(f"cmssh: the training labels give no {kind} pairs")
    firsts = np.concatenate([a for k in (1.0, -1.0) for a, _ in got[k]])
    seconds = np.concatenate([b for k in (1.0, -1.0) for _, b in got[k]])
    signs = np.concatenate([np.full(have[k], k) for k in (1.0, -1.0)])
    return firsts, seconds, signs


def best_thresholds(px: np.ndarray, py: np.ndarray, ws: np.ndarray, cand_x: np.ndarray,
                    cand_y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, r) maximising r = Σ ws_k sgn(px_k + a) sgn(py_k + b) over the candidate grid."""
    xi = np.where(px[:, None] + cand_x[None, :] >= 0, 1.0, -1.0)
    eta = np.where(py[:, None] + cand_y[None, :] >= 0, 1.0, -1.0)
    r = (xi * ws[:, None]).T @ eta
    i, j = np.unravel_index(int(np.argmax(r)), r.shape)
    return float(cand_x[i]), float(cand_y[j]), float(r[i, j])


class CMSSH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        pr = self.params
        i, j, s = sample_pairs(train.labels, int(pr["pairs"]), float(pr["positive_fraction"]),
                               self.rng(0))
        xk, yk = x[i], y[j]
        w = np.full(len(s), 1.0 / len(s))
        levels = np.linspace(5, 95, int(pr["thresholds"]))
        top = max(self.bits)
        p_all, q_all = np.zeros((x.shape[1], top)), np.zeros((y.shape[1], top))
        a_all, b_all = np.zeros(top), np.zeros(top)
        self.alphas: list[float] = []
        self.agreements: list[float] = []
        #: r of each bit under the re-weighted pairs (AdaBoost makes it 0)
        self.post_update_agreements: list[float] = []
        for t in range(top):
            u, _, vt = np.linalg.svd(xk.T @ (yk * (w * s)[:, None]), full_matrices=False)
            p, q = u[:, :1], vt[:1].T
            fixed = sign_fix(np.vstack([p, q]))
            p, q = fixed[: len(p), 0], fixed[len(p):, 0]
            proj_x, proj_y = xk @ p, yk @ q
            cand_x = -np.percentile(x @ p, levels)
            cand_y = -np.percentile(y @ q, levels)
            a, b, r = best_thresholds(proj_x, proj_y, w * s, cand_x, cand_y)
            r = float(np.clip(r, -1 + 1e-12, 1 - 1e-12))
            alpha = 0.5 * np.log((1 + r) / (1 - r))
            agree = np.where(proj_x + a >= 0, 1.0, -1.0) * np.where(proj_y + b >= 0, 1.0, -1.0)
            w = w * np.exp(-alpha * s * agree)
            w /= w.sum()
            self.post_update_agreements.append(float(np.sum(w * s * agree)))
            p_all[:, t], q_all[:, t], a_all[t], b_all[t] = p, q, a, b
            self.alphas.append(float(alpha))
            self.agreements.append(r)
        for bits in self.bits:
            self.maps["image"][bits] = (p_all[:, :bits], -a_all[:bits])
            self.maps["text"][bits] = (q_all[:, :bits], -b_all[:bits])
        ctx.report(epoch=1, first_bit_agreement=self.agreements[0])
