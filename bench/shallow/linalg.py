"""Stable linear algebra for the shallow methods: ridge terms, Cholesky solves, symmetric
(generalised) eigenproblems. No explicit inverse of an ill-conditioned matrix anywhere."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def with_ridge(c: np.ndarray, ridge: float) -> np.ndarray:
    """``c + ridge * I`` (a new array)."""
    out = np.array(c, dtype=np.float64, copy=True)
    out[np.diag_indices_from(out)] += ridge
    return out


def relative_ridge(c: np.ndarray, reg: float) -> float:
    """A ridge of ``reg`` times the mean diagonal of ``c`` (scale-free regularisation)."""
    return float(reg) * float(np.trace(c)) / max(c.shape[0], 1) + 1e-12


def spd_solve(a: np.ndarray, b: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Solve ``(a + ridge I) x = b`` for symmetric positive (semi)definite ``a`` by Cholesky.

    When the factorisation fails (``a`` singular and ``ridge`` 0), the smallest ridge that makes
    it succeed (1e-10 times the mean diagonal, growing tenfold) is added: a solve never returns
    garbage from a singular matrix.
    """
    a = np.asarray(a, dtype=np.float64)
    extra = 0.0
    scale = max(float(np.trace(a)) / max(a.shape[0], 1), 1e-300)
    for _ in range(12):
        try:
            factor = sla.cho_factor(with_ridge(a, ridge + extra), lower=True,
                                    check_finite=False)
            return sla.cho_solve(factor, b, check_finite=False)
        except np.linalg.LinAlgError:
            extra = scale * 1e-10 if extra == 0.0 else extra * 10.0
    raise np.linalg.LinAlgError("matrix is not positive definite even with a ridge")


def ridge_regression(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """``argmin_W ||x W - y||² + ridge ||W||²`` = ``(xᵀx + ridge I)⁻¹ xᵀ y`` (Cholesky)."""
    return spd_solve(x.T @ x, x.T @ y, ridge)


def inv_sqrt(c: np.ndarray) -> np.ndarray:
    """``c^{-1/2}`` of a symmetric positive definite matrix (eigenvalues floored at 1e-12)."""
    vals, vecs = np.linalg.eigh(c)
    return (vecs / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T


def smallest_eigh(m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of symmetric ``m``, ascending (orthonormal vectors)."""
    m = 0.5 * (m + m.T)
    vals, vecs = sla.eigh(m, subset_by_index=[0, k - 1], check_finite=False)
    return vals, vecs


def largest_generalized_eigh(a: np.ndarray, b: np.ndarray,
                             k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of ``a v = λ b v`` (``a`` symmetric, ``b`` symmetric positive
    definite), descending; the vectors are ``b``-orthonormal (``Vᵀ b V = I``)."""
    n = a.shape[0]
    vals, vecs = sla.eigh(0.5 * (a + a.T), 0.5 * (b + b.T), subset_by_index=[n - k, n - 1],
                         check_finite=False)
    return vals[::-1], vecs[:, ::-1]


def sign_fix(vectors: np.ndarray) -> np.ndarray:
    """Columns with their largest-magnitude entry made positive (a deterministic sign for
    eigen/singular vectors, whose sign is arbitrary)."""
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs
