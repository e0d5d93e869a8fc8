"""A test method plugin with faults on demand, installed on a test cluster's nodes as a
third-party plugin (entry point ``bench.methods: fault``, see ``test_cluster.py``).

Codes are signs of a seeded Gaussian projection (like LSH). Faults, by seed:

* ``fail_seed``: ``fit`` raises ``ValueError`` (a deterministic method error: never retried);
* ``die_seed``: the trial's worker process kills itself with SIGKILL (an infrastructure
  failure: retried) - on its first attempt only, or on every attempt with ``die_always``;
  ``marker_dir`` (shared by all nodes) remembers the first death;
* ``sleep_s``: ``fit`` lasts at least this long (a fault can be injected meanwhile).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from bench.plugins import FitContext, HashMethod, MethodSpec, PairedData

SPEC = MethodSpec(
    name="fault", entry="cluster_faults:Fault", version="1", supervision="unsupervised",
    inputs=("image_features", "text_features"), multi_bit=False,
    defaults={"fail_seed": -1, "die_seed": -1, "die_always": False, "marker_dir": "",
              "sleep_s": 0.0},
    param_types={"sleep_s": "float[0,]"}, reference={"paper": "none (test plugin)"})


class Fault(HashMethod):
    spec = SPEC

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        ctx.report(1, loss=1.0)
        p = self.params
        deadline = time.monotonic() + float(p["sleep_s"])
        while time.monotonic() < deadline:
            time.sleep(0.2)
        if self.seed == p["fail_seed"]:
            raise ValueError(f"planned method error for seed {self.seed}")
        if self.seed == p["die_seed"]:
            marker = Path(p["marker_dir"]) / f"died-seed-{self.seed}"
            if p["die_always"] or not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
        rng = np.random.default_rng(self.seed)
        self.w = rng.normal(size=(train.image_features.shape[1], max(self.bits)))

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}
