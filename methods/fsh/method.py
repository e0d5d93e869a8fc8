"""Fusion Similarity Hashing (Liu et al. 2017): the public re-implementation and a reconstruction.

``variant="reference"`` (the default since version 2) follows the first author's public MATLAB
re-implementation (Lyn-L/FSH@de7f82e757a1, trainFSH.m; the README says the original code cannot
be released and that this one gives similar results), with the settings of its demo
(testFSH.m:12-18: 50 anchors, k = 10, λ = 300, lam = 0.5, 100 rounds):

* anchors: ``ref_anchors`` random training pairs (testFSH.m sets ``opt.km = 1``, which in
  trainFSH.m:23-27 selects random items) or k-means centres of the joint features
  (``ref_anchor_kind="kmeans"``, trainFSH.m:29-36);
* fusion affinities (trainFSH.m:47-70): with ``N_x(i)`` the ``ref_k`` anchors nearest to item i
  in the image space and ``M_y(j)`` those nearest to anchor j in the text space,
  ``A_1[i, j] = mean_{a ∈ N_x(i), b ∈ M_y(j)} exp(−‖a_x − b_x‖/2)`` (non-squared distances), and
  ``A_2`` with the modalities swapped; the reference's double loop over items and anchors is
  the matrix product ``S_x K_x M_yᵀ / k²`` here (the same values);
* alternation (trainFSH.m:81-103), from ``W_m ~ N(0, 1)`` and ``B_a = W_yᵀ a_y`` (not signed,
  trainFSH.m:84): ``D = η A_1 + (1 − η) A_2``; ``B = sgn(B_a Dᵀ + 2λ(W_xᵀX + W_yᵀY))``;
  ``B_a = sgn(B D)``; ``W_m = (X_m X_mᵀ)⁻¹ X_m Bᵀ`` (no ridge; the Cholesky factor of the
  constant ``X_m X_mᵀ`` is computed once per fit, not once per round);
  ``P_1 = tr(K_x − B_aᵀ B A_1)``, ``P_2`` likewise,
  ``η = (lam P_1)^g / (lam P_1 + lam P_2)^g`` with ``g = 1/(1 − lam)``;
* codes ``sgn(x W_x)``, ``sgn(y W_y)``.

Deviations of ``variant="reference"``: the demo's unit-norm rows before centring (testFSH.m:4-5)
are not applied (the harness's features are used as given, centred); ``η`` is real: MATLAB
turns a negative base under a fractional power into a complex number and the demo keeps the
real part of the codes (testFSH.m:21-24), here the real part of ``η`` is taken at each
round (identical for the default lam = 0.5, g = 2); a singular ``X_m X_mᵀ`` gets the smallest
ridge that makes its Cholesky factorisation succeed (MATLAB's backslash warns and returns
garbage).

``variant="reconstruction"`` (the default of version 1) was written from the paper's abstract
before any code was found: FSH "constructs an undirected asymmetric graph to model the fusion
similarity among different modalities", inspired by fusion by diffusion, and learns binary
codes by graph hashing with alternating optimisation:

1. Anchors: ``anchors`` seeded k-means centres of the concatenated features (each modality
   scaled to unit mean squared norm), so anchor j has an image half and a text half.
2. Per-modality anchor graphs ``Z_m`` (n x m): the ``nearest`` anchors of each item with
   Gaussian weights ``exp(−d²/h_m)`` (``h_m`` = mean squared distance to those anchors), rows
   normalised. Fusion: ``Z = (Z_1 + Z_2)/2``, then ``diffusion`` steps ``Z ← Z Λ⁻¹ZᵀZ``
   (Λ = diag(Zᵀ1)). The result is the asymmetric sample-anchor graph.
3. Codes maximising ``tr(Bᵀ Ẑ B_a)`` with ``Ẑ = Z Λ^{-1/2}`` under balance and
   decorrelation: the singular-vector blocks after the trivial one; sample and anchor codes
   share one ITQ rotation (``itq_iters``).
4. Hash functions: ``W_m = (X_mᵀX_m + ridge·tr/d I)⁻¹ X_mᵀ B`` on centred features.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from bench.errors import BenchError
from bench.methods.fsh import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.anchors import kmeans_anchors, squared_distances
from bench.shallow.base import ShallowHashMethod, sign_codes
from bench.shallow.cca import itq
from bench.shallow.linalg import relative_ridge, ridge_regression, with_ridge


def anchor_graph(x: np.ndarray, anchors: np.ndarray, nearest: int) -> np.ndarray:
    """(n, m) row-stochastic affinities to the ``nearest`` closest anchors (Gaussian)."""
    d = squared_distances(x, anchors)
    s = min(int(nearest), anchors.shape[0])
    idx = np.argpartition(d, s - 1, axis=1)[:, :s]
    dn = np.take_along_axis(d, idx, axis=1)
    h = max(float(dn.mean()), 1e-12)
    w = np.exp(-(dn - dn.min(axis=1, keepdims=True)) / h)
    z = np.zeros_like(d)
    np.put_along_axis(z, idx, w / w.sum(axis=1, keepdims=True), axis=1)
    return z


def fused_graph(zs: list[np.ndarray], diffusion: int) -> np.ndarray:
    z = sum(zs) / len(zs)
    for _ in range(int(diffusion)):
        lam = np.maximum(z.sum(0), 1e-12)
        z = z @ ((z.T @ z) / lam[:, None])
    return z


def spectral_embedding(z: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample (n, bits) and anchor (m, bits) blocks of the non-trivial singular vectors of
    ``z Λ^{-1/2}``, each scaled to unit mean squared entry."""
    zh = z / np.sqrt(np.maximum(z.sum(0), 1e-12))
    vals, v = np.linalg.eigh(zh.T @ zh)
    order = np.argsort(vals)[::-1][1:bits + 1]
    sv = np.sqrt(np.maximum(vals[order], 1e-24))
    v = v[:, order]
    u = (zh @ v) / sv
    return u * np.sqrt(len(u)), v * np.sqrt(len(v))


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean (not squared) distances between the rows of ``a`` and ``b``."""
    return np.sqrt(squared_distances(a, b))


def nearest_indicator(d: np.ndarray, k: int) -> np.ndarray:
    """(rows, cols) 0/1 matrix marking each row's ``k`` smallest entries of ``d`` (a stable sort,
    as MATLAB's ``sort``)."""
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(d)
    np.put_along_axis(out, idx, 1.0, axis=1)
    return out


def reference_affinities(x: np.ndarray, y: np.ndarray, anchor_x: np.ndarray,
                         anchor_y: np.ndarray, k: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(A_1, A_2, K_x, K_y) of the public FSH code: ``K_m = exp(−‖a − b‖/2)`` between anchors
    in modality m; ``A_1 = S_x K_x M_yᵀ / k²`` with ``S_x`` the items' k nearest anchors in the
    image space and ``M_y`` the anchors' k nearest anchors in the text space; ``A_2`` swapped."""
    s_x = nearest_indicator(distances(x, anchor_x), k)
    s_y = nearest_indicator(distances(y, anchor_y), k)
    d_ax, d_ay = distances(anchor_x, anchor_x), distances(anchor_y, anchor_y)
    m_x, m_y = nearest_indicator(d_ax, k), nearest_indicator(d_ay, k)
    k_x, k_y = np.exp(-d_ax / 2.0), np.exp(-d_ay / 2.0)
    return s_x @ k_x @ m_y.T / k ** 2, s_y @ k_y @ m_x.T / k ** 2, k_x, k_y


def gram_factor(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cholesky factor of ``xᵀx``, with the smallest ridge (1e-10 times the mean diagonal,
    growing tenfold) that makes it succeed when ``xᵀx`` is singular: the rule of
    ``bench.shallow.linalg.spd_solve``, factorised once for many right-hand sides."""
    a = x.T @ x
    extra, scale = 0.0, max(float(np.trace(a)) / max(a.shape[0], 1), 1e-300)
    for _ in range(12):
        try:
            return sla.cho_factor(with_ridge(a, extra), lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            extra = scale * 1e-10 if extra == 0.0 else extra * 10.0
    raise np.linalg.LinAlgError("xᵀx is not positive definite even with a ridge")


def reference_round(x: np.ndarray, y: np.ndarray, aff: tuple[np.ndarray, ...],
                    state: dict[str, np.ndarray | float], lam_b: float, lam_w: float,
                    grams: tuple | None = None) -> dict[str, np.ndarray | float]:
    """One round of the public FSH code's alternation (rows are items here, so ``B`` is
    n x bits and ``B_a`` m x bits); ``state`` holds ``wx``, ``wy``, ``ba`` and ``eta``;
    ``grams`` the factors of ``xᵀx`` and ``yᵀy`` (:func:`gram_factor`), computed when absent."""
    a1, a2, k_x, k_y = aff
    fx, fy = grams if grams is not None else (gram_factor(x), gram_factor(y))
    eta = float(state["eta"])
    d = eta * a1 + (1.0 - eta) * a2
    b = np.sign(d @ state["ba"] + 2.0 * lam_b * (x @ state["wx"] + y @ state["wy"]))
    ba = np.sign(d.T @ b)
    wx = sla.cho_solve(fx, x.T @ b, check_finite=False)
    wy = sla.cho_solve(fy, y.T @ b, check_finite=False)
    g = 1.0 / (1.0 - lam_w)
    p1 = np.trace(k_x) - float(np.sum(ba * (a1.T @ b)))
    p2 = np.trace(k_y) - float(np.sum(ba * (a2.T @ b)))
    eta = complex(lam_w * p1) ** g / complex(lam_w * p1 + lam_w * p2) ** g
    return {"wx": wx, "wy": wy, "ba": ba, "b": b, "eta": float(np.real(eta))}


class FSH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        if self.params["variant"] == "reference":
            return self._fit_reference(x, y, ctx)
        if self.params["variant"] != "reconstruction":
            raise BenchError(f"fsh: variant must be 'reconstruction' or 'reference', "
                             f"not {self.params['variant']!r}")
        p = self.params
        m = min(int(p["anchors"]), len(x))
        self.codes: dict[int, np.ndarray] = {}
        scaled = [f / np.sqrt(max(float((f ** 2).sum(1).mean()), 1e-24)) for f in (x, y)]
        centres = kmeans_anchors(np.hstack(scaled), m, self.rng(0), int(p["kmeans_iters"]))
        split = scaled[0].shape[1]
        zs = [anchor_graph(scaled[0], centres[:, :split], p["nearest"]),
              anchor_graph(scaled[1], centres[:, split:], p["nearest"])]
        self.graph = fused_graph(zs, p["diffusion"])
        for b in self.bits:
            if b > m - 1:
                raise BenchError(f"fsh: {b} bits need at least {b + 1} anchors "
                                 f"(have {m}; set fsh.anchors or train on more pairs)")
            es, ea = spectral_embedding(self.graph, b)
            rot = itq(np.vstack([es, ea]), int(p["itq_iters"]), self.rng(b))
            codes = sign_codes(es @ rot).astype(np.float64)
            self.codes[b] = codes
            for name, f in (("image", x), ("text", y)):
                ridge = relative_ridge(f.T @ f, float(p["ridge"]))
                self.maps[name][b] = (ridge_regression(f, codes, ridge), 0.0)
        ctx.report(epoch=1)

    def _fit_reference(self, x: np.ndarray, y: np.ndarray, ctx: FitContext) -> None:
        p = self.params
        m, k = min(int(p["ref_anchors"]), len(x)), int(p["ref_k"])
        if k > m:
            raise BenchError(f"fsh: ref_k={k} nearest anchors need at least {k} anchors "
                             f"(have {m})")
        rng = self.rng(0)
        if p["ref_anchor_kind"] == "random":
            rows = np.sort(rng.choice(len(x), size=m, replace=False))
            anchor_x, anchor_y = x[rows], y[rows]
        else:
            centres = kmeans_anchors(np.hstack([x, y]), m, rng, 10)
            anchor_x, anchor_y = centres[:, :x.shape[1]], centres[:, x.shape[1]:]
        aff = reference_affinities(x, y, anchor_x, anchor_y, k)
        grams = (gram_factor(x), gram_factor(y))
        self.codes, self.etas = {}, {}
        for b in self.bits:
            init = self.rng(b)
            wx = init.standard_normal((x.shape[1], b))
            wy = init.standard_normal((y.shape[1], b))
            state: dict = {"wx": wx, "wy": wy, "ba": anchor_y @ wy, "eta": 0.5,
                           "b": np.sign(y @ wy)}
            for _ in range(int(p["ref_iters"])):
                state = reference_round(x, y, aff, state, float(p["ref_lambda"]),
                                        float(p["ref_lam"]), grams)
            self.codes[b], self.etas[b] = state["b"], float(state["eta"])
            self.maps["image"][b], self.maps["text"][b] = (state["wx"], 0.0), (state["wy"], 0.0)
        ctx.report(epoch=1)
