"""Semantic Correlation Maximization (Zhang & Li 2014): SCM-Orth and SCM-Seq.

SCM relaxes ``min ||L·S − sgn(XW_x) sgn(YW_y)ᵀ||²`` (S = 2L̂L̂ᵀ − 1, L the code length) to the
CCA-type problem ``max tr(W_xᵀ XᵀSY W_y)`` s.t. ``W_xᵀ C_xx W_x = I``, ``W_yᵀ C_yy W_y = I``,
with ``XᵀSY = L·(2(XᵀL̂)(YᵀL̂)ᵀ − (Xᵀ1)(Yᵀ1)ᵀ)`` computed in O(n) (S is never formed).

Reference: BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, SCM/code/trainSCM_orth.m:21-36
(label normalisation, cross term, ridge 1e-6), trainSCM_seq.m:33-64 and trainCCA.m:18-34.
SCM-Orth solves it once (``bench.shallow.cca.cca_from_moments``, whitening + SVD, equivalent
to the reference's ``eig(C_xy C_yy⁻¹ C_yx, C_xx)``, trainCCA.m:18-34). SCM-Seq learns bit t as
the top solution for the residual cross term ``C_t = C_{t−1} − (Xᵀ sgn(X w_x))(Yᵀ sgn(Y w_y))ᵀ``
(trainSCM_seq.m:50-64); when the top eigenvalue rises, the reference stops and keeps, for the
remaining positions j, plain CCA directions in reversed order (position j gets CCA direction
L − j, trainSCM_seq.m:38-39): so does this plugin.

Deviations: the reference solves the eigenproblem on its "X" modality (text), which cannot give
more bits than the text dimension (10 on Wikipedia); here both sides come from one SVD, and
SCM-Orth lifts beyond min(dx, dy) bits by a seeded Gaussian map (``lift``; SCM-Seq needs
none, and its CCA fallback directions are lifted the same way). The reference's demo leaves
database features uncentred; here every set is centred on the training mean.
"""

from __future__ import annotations

import numpy as np

from bench.methods.scm import SPEC_ORTH, SPEC_SEQ
from bench.plugins import FitContext, PairedData
from bench.shallow.base import ShallowHashMethod, sign_codes
from bench.shallow.cca import cca_from_moments, take_directions
from bench.shallow.labels import normalised_labels
from bench.shallow.linalg import inv_sqrt, with_ridge


def semantic_cross_term(x: np.ndarray, y: np.ndarray, labels: np.ndarray,
                        bits: int) -> np.ndarray:
    """``bits · XᵀSY`` with ``S = 2L̂L̂ᵀ − 1``, in O(n)."""
    lh = normalised_labels(labels)
    return bits * (2.0 * (x.T @ lh) @ (y.T @ lh).T - np.outer(x.sum(0), y.sum(0)))


class _SCM(ShallowHashMethod):
    def moments(self, train: PairedData, bits: int):
        x, y = self.centred_training(train)
        reg = float(self.params["reg"])
        return x, y, with_ridge(x.T @ x, reg), with_ridge(y.T @ y, reg), train.labels


class SCMOrth(_SCM):
    spec = SPEC_ORTH

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        top = max(self.bits)
        x, y, cxx, cyy, labels = self.moments(train, top)
        cxy = semantic_cross_term(x, y, labels, top)
        self.px, self.py, self.singular_values = cca_from_moments(cxx, cyy, cxy)
        for b in self.bits:
            wx, wy = take_directions(self.px, self.py, b, self.seed, self.spec.name,
                                     self.params["lift"], (cxx, cyy, cxy))
            self.maps["image"][b], self.maps["text"][b] = (wx, 0.0), (wy, 0.0)
        ctx.report(epoch=1)


class SCMSeq(_SCM):
    spec = SPEC_SEQ

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        self.eigenvalues: dict[int, list[float]] = {}
        for b in self.bits:
            x, y, cxx, cyy, labels = self.moments(train, b)
            wxs, wys = inv_sqrt(cxx), inv_sqrt(cyy)
            px, py, _ = cca_from_moments(cxx, cyy, x.T @ y)
            fx, fy = take_directions(px, py, b, self.seed, self.spec.name)
            wx, wy = fx[:, ::-1].copy(), fy[:, ::-1].copy()  # reference's fallback order
            c = semantic_cross_term(x, y, labels, b)
            last, values = np.inf, []
            for i in range(b):
                u, s, vt = np.linalg.svd(wxs @ c @ wys)
                eig = float(s[0] ** 2)
                if eig > last:
                    break
                last = eig
                values.append(eig)
                wx[:, i], wy[:, i] = wxs @ u[:, 0], wys @ vt[0]
                vx, vy = sign_codes(x @ wx[:, i]), sign_codes(y @ wy[:, i])
                c = c - np.outer(x.T @ vx, y.T @ vy)
            self.eigenvalues[b] = values
            self.maps["image"][b], self.maps["text"][b] = (wx, 0.0), (wy, 0.0)
            ctx.report(epoch=len(self.eigenvalues), sequential_bits=len(values))
