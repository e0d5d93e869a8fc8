"""Canonical correlation analysis and iterative quantisation (ITQ).

``cca`` is the regularised CCA of Gong et al. (TPAMI 2013) used by ``cca``, ``cca-itq``,
``cvh`` and ``scm-*`` (SCM is CCA with the cross-covariance replaced by the label-weighted
one); ``itq`` is the Procrustes rotation of ITQ. ``lift`` handles code lengths beyond the
number of canonical pairs.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.shallow.linalg import inv_sqrt, spd_solve

#: How code lengths beyond the canonical rank are handled (see ``take_directions``).
LIFTS = ("gaussian", "null_space", "error")


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


def null_space_directions(cxx: np.ndarray, cyy: np.ndarray, cxy: np.ndarray,
                          bits: int) -> tuple[np.ndarray, np.ndarray]:
    """What the reference eigen-solvers return beyond the rank: the larger modality's
    canonical directions completed by its zero-correlation directions, the other modality's
    projections ``C⁻¹ C_cross w`` (for the zero-correlation directions these are rounding
    noise, so those bits are noise, and the exact codes depend on the BLAS)."""
    swap = cxx.shape[0] < cyy.shape[0]
    if swap:
        cxx, cyy, cxy = cyy, cxx, cxy.T
    wxs = inv_sqrt(cxx)
    u = np.linalg.svd(wxs @ cxy @ inv_sqrt(cyy), full_matrices=True)[0]
    wx = (wxs @ u)[:, :bits]
    wy = spd_solve(cyy, cxy.T @ wx)
    return (wy, wx) if swap else (wx, wy)


def take_directions(px: np.ndarray, py: np.ndarray, bits: int, seed: int, method: str,
                    how: str = "gaussian", moments: tuple | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``bits`` columns of paired projections. When there are fewer (more bits than
    canonical pairs, e.g. Wikipedia's 10-d text): ``how="gaussian"`` maps the available ones
    through ``lift`` seeded by (seed, bits); ``how="null_space"`` behaves as the reference
    eigen-solvers (``null_space_directions`` of ``moments`` = (C_xx, C_yy, C_xy)); ``how="error"``
    refuses in one line."""
    if how not in LIFTS:
        raise BenchError(f"{method}: lift must be one of {', '.join(LIFTS)}, not {how!r}")
    rank = px.shape[1]
    if bits <= rank:
        return px[:, :bits], py[:, :bits]
    dims = (px.shape[0], py.shape[0])
    if how == "null_space" and moments is not None and bits <= max(dims):
        return null_space_directions(*moments, bits)
    if how != "gaussian":
        raise BenchError(f"{method}: {bits} bits > {rank} canonical pairs (the smaller feature "
                         f"dimension{'' if how == 'error' else f'; at most {max(dims)} with {how}'}"
                         f"); set {method}.lift=gaussian to lift them")
    m = lift(np.random.default_rng([seed, bits]), rank, bits)
    return px @ m, py @ m
