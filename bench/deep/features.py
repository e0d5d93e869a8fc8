"""Feature preparation for the deep plugins: every method sees ℓ2-normalised frozen features."""

from __future__ import annotations

import numpy as np

from bench.plugins import Modality, PairedData


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit ℓ2 norm (float32); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def modality_features(data: PairedData, modality: Modality, method: str) -> np.ndarray:
    """The ``modality`` features of ``data``, ℓ2-normalised; a clear error when absent."""
    x = data.image_features if modality == "image" else data.text_features
    if x is None:
        raise ValueError(f"{method} needs {modality} features")
    return unit_rows(x)
