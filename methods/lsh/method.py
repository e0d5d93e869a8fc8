"""Sign-of-random-projection hashing (numpy only)."""

from __future__ import annotations

import numpy as np

from bench.methods.lsh import SPEC
from bench.plugins import FitContext, HashMethod, Modality, PairedData
from bench.shallow.base import linear_codes, raw_features


class LSH(HashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        rng = np.random.default_rng(self.seed)
        xi, xt = train.image_features, train.text_features
        self.mean = {
            "image": xi.mean(0) if self.params["center"] else np.zeros(xi.shape[1]),
            "text": xt.mean(0) if self.params["center"] else np.zeros(xt.shape[1]),
        }
        shared = xi.shape[1] == xt.shape[1]
        self.proj: dict[str, dict[int, np.ndarray]] = {"image": {}, "text": {}}
        for b in self.bits:
            w_img = rng.normal(size=(xi.shape[1], b))
            w_txt = w_img if shared else rng.normal(size=(xt.shape[1], b))
            self.proj["image"][b], self.proj["text"][b] = w_img, w_txt
        ctx.report(epoch=1)

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        return linear_codes(raw_features(data, modality), self.mean[modality],
                            self.proj[modality])
