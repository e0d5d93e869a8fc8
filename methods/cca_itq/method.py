"""CCA followed by ITQ (numpy only); CCA and ITQ themselves are in ``bench.shallow.cca``."""

from __future__ import annotations

import numpy as np

from bench.methods.cca_itq import SPEC
from bench.plugins import FitContext, HashMethod, Modality, PairedData
from bench.shallow.base import linear_codes, raw_features
from bench.shallow.cca import cca, itq, lift


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
                m = lift(rng, r, b)
                ax, ay = ax @ m, ay @ m
            v = np.vstack([x @ ax, y @ ay])
            rot = itq(v, int(self.params["itq_iters"]), rng)
            self.maps["image"][b], self.maps["text"][b] = ax @ rot, ay @ rot
        ctx.report(epoch=1)

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        return linear_codes(raw_features(data, modality), self.mean[modality],
                            self.maps[modality])
