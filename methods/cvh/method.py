"""Cross-View Hashing (Kumar & Udupa 2011) in the paired-only setting.

With the within-view similarity W = I, CVH's objective (Hamming distance between the codes of
a pair across the two views, with uncorrelated unit-variance relaxed bits) reduces to the
generalised eigenproblem ``C_xy C_yy⁻¹ C_yx a = λ C_xx a`` on the image side, with the text
projections ``C_yy⁻¹ C_yx a / sqrt(λ)``: a CCA-type solution, which is what the BMC-SDNU
reference solves (BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, CVH/code/CVH_learn.m:4-7,
CVHtrainCCA.m:30-44). Differences from ``cca``: unnormalised covariances with an absolute
ridge (1e-4, demo_CVH.m:51) and the eigenvalue formulation.

Named options for the reference's behaviour: ``cyy="toolbox"`` uses ``C_yy`` instead of its
inverse in the eigenproblem (CVHtrainCCA.m:30 multiplies by ``Cyy`` where the paper's
derivation, and the same file's text projection on line 44, use ``inv(Cyy)``; the default keeps
the paper's form, the toolbox's is an option); ``center=False`` skips the training-mean
centring (demo_CVH.m does not centre).
Deviation: beyond min(dx, dy) bits the eigenvalues are 0 and the eigenspace is degenerate (any
basis is a solution; the reference takes whatever ``eigs`` returns and prints "Retrieved
eigenvectors wrong!", CVHtrainCCA.m:33-39), so the solutions are lifted by a seeded Gaussian
map like ``cca`` (``lift=null_space`` takes zero-eigenvalue directions, as the reference).
"""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.methods.cvh import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.base import ShallowHashMethod
from bench.shallow.cca import take_directions
from bench.shallow.linalg import largest_generalized_eigh, sign_fix, spd_solve, with_ridge


def cvh_moments(x: np.ndarray, y: np.ndarray, reg: float) -> tuple[np.ndarray, ...]:
    """(C_xx + reg I, C_yy + reg I, C_xy) with unnormalised (co)variances."""
    return with_ridge(x.T @ x, reg), with_ridge(y.T @ y, reg), x.T @ y


def cvh_directions(x: np.ndarray, y: np.ndarray, reg: float, cyy: str = "inverse"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(W_x, W_y, eigenvalues, B) for the min(dx, dy) non-degenerate solutions, descending;
    ``W_xᵀ B W_x = I`` with ``B = xᵀx + reg I``."""
    cxx, cyy_m, cxy = x.T @ x, y.T @ y, x.T @ y
    rank = min(x.shape[1], y.shape[1])
    if cyy == "inverse":
        k_cyx = spd_solve(cyy_m, cxy.T, reg)
    elif cyy == "toolbox":
        k_cyx = with_ridge(cyy_m, reg) @ cxy.T
    else:
        raise BenchError(f"cvh: cyy must be 'inverse' or 'toolbox', not {cyy!r}")
    b = with_ridge(cxx, reg)
    vals, wx = largest_generalized_eigh(cxy @ k_cyx, b, rank)
    wx = sign_fix(wx)
    vals = np.maximum(vals, 1e-300)
    wy = spd_solve(cyy_m, cxy.T @ wx, reg) / np.sqrt(vals)
    return wx, wy, vals, b


class CVH(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        self.wx, self.wy, self.eigenvalues, self.constraint = cvh_directions(
            x, y, float(self.params["reg"]), self.params["cyy"])
        moments = cvh_moments(x, y, float(self.params["reg"]))
        for b in self.bits:
            wx, wy = take_directions(self.wx, self.wy, b, self.seed, self.spec.name,
                                     self.params["lift"], moments)
            self.maps["image"][b], self.maps["text"][b] = (wx, 0.0), (wy, 0.0)
        ctx.report(epoch=1, top_eigenvalue=float(self.eigenvalues[0]))
