"""PAGA's two prototype sets: latent K-means prototypes (with K by the Elbow method) and the
binary anchors in Hamming space, updated K-means style (arXiv 2606.31517, Eq. (4); no public
code)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class LatentPrototypes:
    """ℓ2-normalised K-means centroids (K, d) and the K-means label of every pooled vector."""

    centroids: np.ndarray
    labels: np.ndarray  #: (2n,): rows 0..n-1 image features, n..2n-1 text features
    k: int
    inertias: dict[int, float]  #: the Elbow curve (empty when K was given)


def _kmeans(points: np.ndarray, k: int, seed: int, restarts: int) -> tuple[np.ndarray, np.ndarray,
                                                                          float]:
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate points / fewer distinct clusters than k
        km = KMeans(n_clusters=k, n_init=restarts, random_state=seed).fit(points)
    return km.cluster_centers_, km.labels_, float(km.inertia_)


def max_curvature_k(ks: list[int], inertias: list[float]) -> int:
    """The K of the largest discrete second difference of the inertia curve (the "bend")."""
    if len(ks) < 3:
        return ks[0]
    y = np.asarray(inertias, dtype=np.float64)
    y = (y - y.min()) / max(y.max() - y.min(), 1e-12)
    second = y[:-2] - 2 * y[1:-1] + y[2:]
    return int(ks[1 + int(np.argmax(second))])


def kneedle_k(ks: list[int], inertias: list[float], sensitivity: float = 1.0) -> int | None:
    """Kneedle (Satopää et al. 2011) for a convex, decreasing curve, offline mode.

    Both axes are scaled to [0, 1] and y is flipped, so the difference curve d = (1 − y) − x is
    how far each point lies below the chord from the first to the last point. A local maximum of
    d is the knee when d then falls below ``d_max − sensitivity · mean(Δx)`` before the next
    local maximum; the first such maximum wins. None when there is no knee (a straight curve).
    """
    x = np.asarray(ks, dtype=np.float64)
    y = np.asarray(inertias, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    xn = (x - x.min()) / np.ptp(x)
    d = (1.0 - (y - y.min()) / np.ptp(y)) - xn
    maxima = [i for i in range(1, len(d) - 1) if d[i] >= d[i - 1] and d[i] >= d[i + 1]]
    step = float(np.mean(np.diff(xn)))
    for n_max, i in enumerate(maxima):
        if d[i] <= 0:
            continue
        threshold = d[i] - sensitivity * step
        stop = maxima[n_max + 1] if n_max + 1 < len(maxima) else len(d)
        if any(d[j] < threshold for j in range(i + 1, stop)):
            return int(ks[i])
    return None


def elbow_k(ks: list[int], inertias: list[float], rule: str = "kneedle") -> int:
    """Kneedle on the inertia curve; max curvature if it finds no knee (or ``rule`` says so)."""
    if rule == "kneedle":
        knee = kneedle_k(ks, inertias)
        if knee is not None:
            return knee
    return max_curvature_k(ks, inertias)


def latent_prototypes(image: np.ndarray, text: np.ndarray, k: int | str, k_max: int, seed: int,
                      restarts: int = 10) -> LatentPrototypes:
    """K-means on the 2n pooled features; ``k`` an integer or "elbow"/"max_curvature"."""
    points = np.vstack([image, text]).astype(np.float64)
    n = len(image)
    inertias: dict[int, float] = {}
    if isinstance(k, str):
        if k not in ("elbow", "max_curvature"):
            raise ValueError(f"gnah: k must be an integer, 'elbow' or 'max_curvature', got {k!r}")
        hi = max(2, min(int(k_max), n // 2))
        fits = {j: _kmeans(points, j, seed, restarts) for j in range(2, hi + 1)}
        inertias = {j: f[2] for j, f in fits.items()}
        ks = sorted(inertias)
        chosen = elbow_k(ks, [inertias[j] for j in ks],
                         "kneedle" if k == "elbow" else "max_curvature")
        centres, labels, _ = fits[chosen]
    else:
        chosen = int(k)
        if not 1 <= chosen <= len(points):
            raise ValueError(f"gnah: k={chosen} must lie in 1..{len(points)}")
        centres, labels, _ = _kmeans(points, chosen, seed, restarts)
    centres = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    return LatentPrototypes(centroids=centres.astype(np.float32), labels=labels.astype(np.int64),
                            k=chosen, inertias=inertias)


def soft_assignment(features: torch.Tensor, centroids: torch.Tensor,
                    tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PAGA's fixed latent targets p = softmax(C^T f / tau) (n, K) for unit-norm ``features``
    (n, d) and ``centroids`` (K, d), and sum_k p log p (n,) (0 log 0 = 0)."""
    p = F.softmax(features @ centroids.T / tau, dim=1)
    return p, torch.xlogy(p, p).sum(1)


def binarise(s: torch.Tensor, continuous: bool = False) -> torch.Tensor:
    """Unit-norm anchors from continuous ones: sgn(s)/sqrt(L) with sgn(0)=+1, or s/||s||."""
    if continuous:
        return s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.where(s >= 0, 1.0, -1.0).to(s.dtype) / math.sqrt(s.shape[1])


class AnchorAccumulator:
    """Eq. (4): s_j = mean of the relaxed codes (both modalities) assigned to anchor j."""

    def __init__(self, k: int, bits: int, device: str | torch.device):
        self.sums = torch.zeros(k, bits, device=device)
        self.counts = torch.zeros(k, device=device)

    def add(self, codes: torch.Tensor, labels: torch.Tensor) -> None:
        self.sums.index_add_(0, labels, codes)
        self.counts.index_add_(0, labels, torch.ones_like(labels, dtype=self.counts.dtype))

    def update(self, previous: torch.Tensor | None) -> torch.Tensor:
        """The continuous anchors s (K, L); an empty cluster keeps its ``previous`` row."""
        s = self.sums / self.counts.clamp_min(1.0)[:, None]
        if previous is not None:
            s = torch.where(self.counts[:, None] > 0, s, previous)
        self.sums.zero_()
        self.counts.zero_()
        return s
