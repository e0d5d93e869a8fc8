"""Hamming ranking of packed codes: what a retrieval system does per query.

The engine (``bench.metrics.engine``) scores whole query sets; this module answers one query the
way a deployed index would, on the same packed layout (``bench.metrics.packing``): distances by
popcount of XOR over the uint64 words, then a stable sort (ties by database index, the
protocol's tie policy). ``bench report`` times it to give a query latency per bit length.
"""

from __future__ import annotations

import numpy as np

from .packing import _check_n_bits, mask_padding, popcount64

__all__ = ["hamming_distances", "hamming_rank"]


def _distance_dtype(n_bits: int) -> type[np.unsignedinteger]:
    return np.uint8 if n_bits < 256 else np.uint16 if n_bits < 65536 else np.uint32


def _check_packed(arr: np.ndarray, n_bits: int, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint64 or arr.ndim != 2 or arr.shape[1] != (n_bits + 63) // 64:
        raise ValueError(f"{what} must be packed uint64 codes of shape (n, {(n_bits + 63) // 64})"
                         f" for {n_bits} bits, got {arr.dtype} {arr.shape}")
    return arr


def hamming_distances(query: np.ndarray, database: np.ndarray, n_bits: int) -> np.ndarray:
    """Distances (n_query, n_database) between packed codes; padding bits are ignored."""
    n_bits = _check_n_bits(n_bits)
    q = mask_padding(_check_packed(query, n_bits, "query"), n_bits)
    d = mask_padding(_check_packed(database, n_bits, "database"), n_bits)
    dist = np.zeros((q.shape[0], d.shape[0]), dtype=_distance_dtype(n_bits))
    for w in range(q.shape[1]):
        dist += popcount64(q[:, w, None] ^ d[None, :, w])
    return dist


def hamming_rank(query: np.ndarray, database: np.ndarray, n_bits: int,
                 top: int | None = None) -> np.ndarray:
    """Database indices of one packed query (shape (words,) or (1, words)) ranked by Hamming
    distance, ties by index; the first ``top`` of them when given."""
    q = np.asarray(query).reshape(1, -1)
    dist = hamming_distances(q, database, n_bits)[0]
    order = np.argsort(dist, kind="stable")
    return order if top is None else order[:top]
