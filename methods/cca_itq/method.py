"""CCA followed by ITQ (numpy only)."""

from __future__ import annotations

import numpy as np

from bench.methods.cca_itq import SPEC
from bench.plugins import FitContext, HashMethod, Modality, PairedData


def _inv_sqrt(c: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(c)
    return (vecs / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T


def _regularised_cov(x: np.ndarray, reg: float) -> np.ndarray:
    c = x.T @ x / len(x)
    return c + (reg * np.trace(c) + 1e-12) * np.eye(c.shape[0])


def cca(x: np.ndarray, y: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projections (dx, r), (dy, r) and canonical correlations (r,), r = min(dx, dy)."""
    wx, wy = _inv_sqrt(_regularised_cov(x, reg)), _inv_sqrt(_regularised_cov(y, reg))
    t = wx @ (x.T @ y / len(x)) @ wy
    u, s, vt = np.linalg.svd(t, full_matrices=False)
    return wx @ u, wy @ vt.T, s


def itq(v: np.ndarray, iters: int, rng: np.random.Generator) -> np.ndarray:
    """Orthogonal rotation R minimising ||sign(VR) - VR||."""
    r = np.linalg.qr(rng.normal(size=(v.shape[1], v.shape[1])))[0]
    for _ in range(iters):
        b = np.where(v @ r >= 0, 1.0, -1.0)
        u, _, wt = np.linalg.svd(b.T @ v)
        r = (u @ wt).T
    return r


class CCAITQ(HashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        rng = np.random.default_rng(self.seed)
        x = np.asarray(train.image_features, dtype=np.float64)
        y = np.asarray(train.text_features, dtype=np.float64)
        self.mean = {"image": x.mean(0), "text": y.mean(0)}
        x, y = x - self.mean["image"], y - self.mean["text"]
        px, py, corr = cca(x, y, float(self.params["reg"]))
        self.maps: dict[str, dict[int, np.ndarray]] = {"image": {}, "text": {}}
        for b in self.bits:
            r = min(b, px.shape[1])
            scale = np.maximum(corr[:r], 1e-12) ** float(self.params["eig_power"])
            ax, ay = px[:, :r] * scale, py[:, :r] * scale
            if r < b:
                lift = rng.normal(size=(r, b)) / np.sqrt(r)
                ax, ay = ax @ lift, ay @ lift
            v = np.vstack([x @ ax, y @ ay])
            rot = itq(v, int(self.params["itq_iters"]), rng)
            self.maps["image"][b], self.maps["text"][b] = ax @ rot, ay @ rot
        ctx.report(epoch=1)

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        x = data.image_features if modality == "image" else data.text_features
        x = np.asarray(x, dtype=np.float64) - self.mean[modality]
        return {b: np.where(x @ m >= 0, 1, -1).astype(np.int8)
                for b, m in self.maps[modality].items()}
