"""Plain CCA hashing (Gong & Lazebnik 2013's CCA baseline): sign of canonical projections.

Deviation: when ``bits`` exceeds the number of canonical pairs the canonical space is lifted by
a seeded Gaussian map (``lift=gaussian``; the reference setting has no such case).
"""

from __future__ import annotations

from bench.methods.cca import SPEC
from bench.plugins import FitContext, PairedData
from bench.shallow.base import ShallowHashMethod
from bench.shallow.cca import cca, take_directions


class CCAHash(ShallowHashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        x, y = self.centred_training(train)
        self.px, self.py, self.correlations = cca(x, y, float(self.params["reg"]))
        for b in self.bits:
            wx, wy = take_directions(self.px, self.py, b, self.seed, self.spec.name,
                                     self.params["lift"])
            self.maps["image"][b], self.maps["text"][b] = (wx, 0.0), (wy, 0.0)
        ctx.report(epoch=1, top_correlation=float(self.correlations[0]))
