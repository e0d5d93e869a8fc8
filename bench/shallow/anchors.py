"""Seeded anchors: Lloyd's k-means with a seeded sample start, and random training items."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, clipped at 0."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def random_anchors(x: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` distinct rows of ``x`` drawn with ``rng``."""
    return x[np.sort(rng.choice(len(x), size=min(m, len(x)), replace=False))].copy()


def kmeans_anchors(x: np.ndarray, m: int, rng: np.random.Generator, iters: int = 100,
                   chunk: int = 8192) -> np.ndarray:
    """``m`` k-means centres of ``x`` (Lloyd's algorithm from ``m`` seeded sample rows, at most
    ``iters`` rounds; an emptied cluster is re-seeded with the point farthest from its centre,
    as MATLAB's ``EmptyAction='singleton'``). Deterministic for a given ``rng`` state."""
    x = np.asarray(x, dtype=np.float64)
    centres = random_anchors(x, m, rng)
    m = len(centres)
    assign = np.full(len(x), -1)
    for _ in range(iters):
        new = np.empty(len(x), dtype=np.int64)
        best = np.empty(len(x))
        for s in range(0, len(x), chunk):
            d = squared_distances(x[s:s + chunk], centres)
            new[s:s + chunk] = d.argmin(1)
            best[s:s + chunk] = d[np.arange(len(d)), new[s:s + chunk]]
        counts = np.bincount(new, minlength=m)
        members = sparse.csr_matrix((np.ones(len(x)), (new, np.arange(len(x)))),
                                    shape=(m, len(x)))
        sums = np.asarray(members @ x)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        for j in np.flatnonzero(~filled):
            far = int(best.argmax())
            centres[j], best[far] = x[far], 0.0
        if np.array_equal(new, assign) and filled.all():
            break
        assign = new
    return centres
