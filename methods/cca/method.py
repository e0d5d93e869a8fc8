"""Plain CCA hashing (Gong & Lazebnik 2013's CCA baseline): sign of canonical projections.

Deviation: when ``bits`` exceeds the number of canonical pairs the canonical space is lifted by
a seeded Gaussian map (``lift=gaussian``); ``lift=null_space`` takes the zero-correlation
directions an eigen-solver returns there (noise bits, as the reference codes of CVH and SCM);
``lift=error`` refuses.
"""

from __future__ import annotations

from bench.methods.cca import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.base import ShallowHashMethod
from bench.shallow.cca import cca, regularised_cov, take_directions


class CCAHash(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        reg = float(self.params["reg"])
        self.px, self.py, self.correlations = cca(x, y, reg)
        moments = (regularised_cov(x, reg), regularised_cov(y, reg), x.T @ y / len(x))
        for b in self.bits:
            wx, wy = take_directions(self.px, self.py, b, self.seed, self.spec.name,
                                     self.params["lift"], moments)
            self.maps["image"][b], self.maps["text"][b] = (wx, 0.0), (wy, 0.0)
        ctx.report(epoch=1, top_correlation=float(self.correlations[0]))
