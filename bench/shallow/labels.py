"""Label-derived similarities for the supervised shallow methods (SCM, SePH, CMSSH)."""

from __future__ import annotations

import numpy as np


def normalised_labels(labels: np.ndarray) -> np.ndarray:
    """Rows of the 0/1 label matrix scaled to unit ℓ2 norm (all-zero rows stay zero), so that
    ``L̂ L̂ᵀ`` is the cosine label similarity."""
    lab = (np.asarray(labels) > 0).astype(np.float64)
    norms = np.linalg.norm(lab, axis=1, keepdims=True)
    return lab / np.where(norms > 0, norms, 1.0)


def shares_label(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """+1 where rows ``a[k]`` and ``b[k]`` share at least one label, -1 otherwise."""
    common = ((np.asarray(a) > 0) & (np.asarray(b) > 0)).any(axis=1)
    return np.where(common, 1.0, -1.0)
