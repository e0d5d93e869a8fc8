"""Pure-numpy fallback of the metric engine kernel (exact, slower, used when numba is missing).

Same outputs as ``_numba_kernel.evaluate_range``; works on blocks of queries: Hamming distances
(popcount of XOR of packed words), relevance (AND of packed labels), per-row stable argsort of the
small-integer distances (numpy uses a radix sort for 8/16-bit keys), running relevant counts and
``sum(C / r)`` over relevant ranks.
"""

from __future__ import annotations

import numpy as np

from .packing import popcount64

# Bytes of temporaries per (query, database item) pair in one block, used to size blocks.
BYTES_PER_PAIR = 48


def _dist_dtype(n_bits: int) -> type[np.unsignedinteger]:
    if n_bits < 256:
        return np.uint8
    if n_bits < 65536:
        return np.uint16
    return np.uint32


def evaluate_chunk(
    qc: np.ndarray,
    dc: np.ndarray,
    ql: np.ndarray,
    dl: np.ndarray,
    n_bits: int,
    ks: np.ndarray,
    nhist: np.ndarray,
    rhist: np.ndarray,
    ap_sum: np.ndarray,
    apk_sum: np.ndarray,
    relk: np.ndarray,
    block: int,
) -> None:
    """Fill the per-query outputs for a chunk of queries, ``block`` queries at a time."""
    nq, nd = qc.shape[0], dc.shape[0]
    nb = n_bits + 1
    ranks = np.arange(1, nd + 1, dtype=np.float64)
    dtype = _dist_dtype(n_bits)
    for a in range(0, nq, block):
        b = min(nq, a + block)
        m = b - a
        dist = np.zeros((m, nd), dtype=dtype)
        for w in range(qc.shape[1]):
            dist += popcount64(qc[a:b, w, None] ^ dc[None, :, w])
        rel = np.zeros((m, nd), dtype=bool)
        for w in range(ql.shape[1]):
            rel |= (ql[a:b, w, None] & dl[None, :, w]) != 0
        flat = (dist.astype(np.int64) + (np.arange(m, dtype=np.int64) * nb)[:, None]).ravel()
        nhist[a:b] = np.bincount(flat, minlength=m * nb).reshape(m, nb)
        rhist[a:b] = np.bincount(flat[rel.ravel()], minlength=m * nb).reshape(m, nb)
        del flat
        order = np.argsort(dist, axis=1, kind="stable")
        del dist
        rel_sorted = np.take_along_axis(rel, order, axis=1)
        del order, rel
        count = np.cumsum(rel_sorted, axis=1, dtype=np.int64)
        terms = np.where(rel_sorted, count / ranks, 0.0)
        ap_sum[a:b] = terms.sum(axis=1)
        for i, k in enumerate(ks):
            apk_sum[a:b, i] = terms[:, :k].sum(axis=1)
            relk[a:b, i] = count[:, k - 1]
