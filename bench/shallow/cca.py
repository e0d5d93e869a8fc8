"""Canonical correlation analysis and iterative quantisation (ITQ).

``cca`` is the regularised CCA of Gong et al. (TPAMI 2013) used by ``cca``, ``cca-itq``,
``cvh`` and ``scm-*`` (SCM is CCA with the cross-covariance replaced by the label-weighted
one); ``itq`` is the Procrustes rotation of ITQ. ``lift`` handles code lengths beyond the
number of canonical pairs.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.shallow.linalg import inv_sqrt


def regularised_cov(x: np.ndarray, reg: float) -> np.ndarray:
    """``xᵀx / n + (reg · trace + 1e-12) I`` for centred ``x``."""
    c = x.T @ x / len(x)
    return c + (reg * np.trace(c) + 1e-12) * np.eye(c.shape[0])


def cca_from_moments(cxx: np.ndarray, cyy: np.ndarray,
                     cxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical directions of the (already regularised) moments.

    Returns projections ``px`` (dx, r) and ``py`` (dy, r) and correlations (r,), descending,
    r = min(dx, dy): ``pxᵀ cxx px = I``, ``pyᵀ cyy py = I``, ``pxᵀ cxy py = diag(corr)``.
    Solved by whitening both sides and one SVD (the generalised eigenproblem
    ``cxy cyy⁻¹ cyx w = λ² cxx w`` without inverting anything ill-conditioned).
    """
    wx, wy = inv_sqrt(cxx), inv_sqrt(cyy)
    t = wx @ cxy @ wy
    u, s, vt = np.linalg.svd(t, full_matrices=False)
    return wx @ u, wy @ vt.T, s


def cca(x: np.ndarray, y: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projections (dx, r), (dy, r) and canonical correlations (r,), r = min(dx, dy), of
    centred ``x`` and ``y`` with the trace-relative ridge ``reg`` (see ``regularised_cov``)."""
    return cca_from_moments(regularised_cov(x, reg), regularised_cov(y, reg), x.T @ y / len(x))


def itq(v: np.ndarray, iters: int, rng: np.random.Generator) -> np.ndarray:
    """Orthogonal rotation R minimising ||sign(VR) - VR|| (random orthogonal start)."""
    r = np.linalg.qr(rng.normal(size=(v.shape[1], v.shape[1])))[0]
    for _ in range(iters):
        b = np.where(v @ r >= 0, 1.0, -1.0)
        u, _, wt = np.linalg.svd(b.T @ v)
        r = (u @ wt).T
    return r


def lift(rng: np.random.Generator, rank: int, bits: int) -> np.ndarray:
    """A seeded Gaussian map (rank, bits) / sqrt(rank) from a ``rank``-dim space to ``bits``."""
    return rng.normal(size=(rank, bits)) / np.sqrt(rank)


def take_directions(px: np.ndarray, py: np.ndarray, bits: int, seed: int, method: str,
                    how: str = "gaussian") -> tuple[np.ndarray, np.ndarray]:
    """The first ``bits`` columns of paired projections; when there are fewer (more bits than
    canonical pairs, e.g. Wikipedia's 10-d text), ``how="gaussian"`` maps the available ones
    through ``lift`` seeded by (seed, bits), and ``how="error"`` refuses in one line."""
    rank = px.shape[1]
    if bits <= rank:
        return px[:, :bits], py[:, :bits]
    if how != "gaussian":
        raise BenchError(f"{method}: {bits} bits > {rank} canonical pairs (the smaller feature "
                         f"dimension); set {method}.lift=gaussian to lift them")
    m = lift(np.random.default_rng([seed, bits]), rank, bits)
    return px @ m, py @ m
