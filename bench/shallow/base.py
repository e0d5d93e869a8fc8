"""Base class of the shallow methods: centring, a training cap, per-bit linear hash maps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.plugins import HashMethod, Modality, PairedData, seeded_rows

MODALITIES: tuple[Modality, Modality] = ("image", "text")
#: Rows encoded at a time (keeps kernel/sparse-code features of a 200k-item database small).
ENCODE_CHUNK = 16384


def sign_codes(v: np.ndarray) -> np.ndarray:
    """±1 int8 codes; 0 maps to +1."""
    return np.where(v >= 0, 1, -1).astype(np.int8)


def raw_features(data: PairedData, modality: Modality) -> np.ndarray:
    """``modality``'s features as given (their own dtype, no copy)."""
    x = data.image_features if modality == "image" else data.text_features
    if x is None:
        raise ValueError(f"no {modality} features given")
    return x


def features(data: PairedData, modality: Modality) -> np.ndarray:
    return np.asarray(raw_features(data, modality), dtype=np.float64)


def centred_chunks(x: np.ndarray, mean: np.ndarray) -> Iterator[np.ndarray]:
    """``x - mean`` in float64, :data:`ENCODE_CHUNK` rows at a time (a 200k-item database is
    never converted to float64 whole)."""
    for s in range(0, len(x), ENCODE_CHUNK):
        yield np.asarray(x[s:s + ENCODE_CHUNK], dtype=np.float64) - mean


def linear_codes(x: np.ndarray, mean: np.ndarray,
                 maps: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """``sign((x - mean) @ W_b)`` for every bit length ``b`` of ``maps``, chunk by chunk."""
    parts: dict[int, list[np.ndarray]] = {b: [] for b in maps}
    for chunk in centred_chunks(x, mean):
        for b, w in maps.items():
            parts[b].append(sign_codes(chunk @ w))
    return {b: (np.concatenate(p) if p else np.zeros((0, b), np.int8))
            for b, p in parts.items()}


class ShallowHashMethod(HashMethod):
    """A method whose codes are ``sign(φ(x - mean) W_b - t_b)`` per modality and bit length.

    Subclasses fit ``self.maps[modality][bits] = (W, t)`` (``t`` a threshold vector or 0) and,
    when codes are not linear in the centred features, override ``transform`` (e.g. kernel
    features). ``center`` in the parameters (default True) subtracts the training mean.
    """

    def __init__(self, bits, params: dict[str, Any], seed: int, device: str = "cpu"):
        super().__init__(bits, params, seed, device)
        self.mean: dict[str, np.ndarray] = {}
        self.maps: dict[str, dict[int, tuple[np.ndarray, np.ndarray | float]]] = {
            m: {} for m in MODALITIES}

    # -- training helpers ---------------------------------------------------------------
    def capped(self, train: PairedData, cap: int | None) -> PairedData:
        """``train``, or a seeded subset of ``cap`` pairs (recorded as the pairs used)."""
        rows = seeded_rows(len(train), None if cap is None else int(cap), self.seed)
        return train if rows is None else self.train_on_subset(train, rows)

    def centred_training(self, train: PairedData) -> tuple[np.ndarray, np.ndarray]:
        """Both modalities' training features, centred (and the means remembered)."""
        out = []
        for m in MODALITIES:
            x = features(train, m)
            self.mean[m] = x.mean(0) if self.params.get("center", True) else np.zeros(x.shape[1])
            out.append(x - self.mean[m])
        return out[0], out[1]

    def rng(self, *stream: int) -> np.random.Generator:
        """A generator seeded by the trial seed and ``stream`` (e.g. the bit length)."""
        return np.random.default_rng([self.seed, *stream])

    # -- encoding ------------------------------------------------------------------------
    def transform(self, x: np.ndarray, modality: Modality) -> np.ndarray:
        """Features fed to the linear maps; ``x`` is already centred."""
        return x

    def _chunks(self, data: PairedData, modality: Modality) -> Iterator[np.ndarray]:
        for chunk in centred_chunks(raw_features(data, modality), self.mean[modality]):
            yield self.transform(chunk, modality)

    def unified_codes(self, data: PairedData) -> dict[int, np.ndarray]:
        """Codes of items seen in both modalities at once, the way some reference papers code
        their database (CMFH, LSSH, SePH). Not used by the harness, whose protocol codes each
        modality alone (a query never brings its other modality); the Wikipedia reproduction
        script uses it to show that protocol difference. Raises NotImplementedError for
        methods without such a formula."""
        raise NotImplementedError(f"{self.spec.name} has no unified (both-modality) codes")

    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        parts: dict[int, list[np.ndarray]] = {b: [] for b in self.maps[modality]}
        for phi in self._chunks(data, modality):
            for b, (w, t) in self.maps[modality].items():
                parts[b].append(sign_codes(phi @ w - t))
        return {b: (np.concatenate(p) if p else np.zeros((0, b), np.int8))
                for b, p in parts.items()}
