"""The metric engine: exact Hamming-ranking retrieval metrics for ±1 hash codes.

Definitions (protocol version 2, see ``PROTOCOL``; version 2 searches the retrieval database in a
seeded order instead of dataset order, and selects models on a held-out validation database):

- **Relevance**: a database item is relevant to a query iff they share at least one label.
- **Ranking**: Hamming distance ascending; ties broken by database position ascending (a stable
  sort). The harness hands the engine the database in a seeded order (``bench.splits.
  database_order``: a permutation drawn from the split and the trial seed), so that position
  cannot follow the labels. R = number of relevant items in the whole database; rank r is 1-based.
- **mAP@all**: AP = (1/R) * sum over relevant ranks r of C(r)/r, where C(r) = relevant items in
  the top r (i.e. P@r at each relevant rank), over the whole ranked database.
- **mAP@k**: the same sum over the top-k list only, normalised by the number of relevant items
  inside the top k (AP@k = 0 if there are none). k larger than the database means k = database
  size. **P@k** = relevant items in the top k / k (same cap).
- **Tie-aware AP** (McSherry & Najork, ECIR 2008): the expected AP when the order inside each
  group of equal Hamming distance is uniformly random. For a bucket of n items with r relevant,
  s items and c relevant items ranked before it, position i of the bucket is relevant with
  probability r/n and then has c + 1 + (i-1)(r-1)/(n-1) relevant items at or before it, so the
  bucket adds (r/n) * sum_i [a + (i-1) b] / (s + i), a = c + 1, b = (r-1)/(n-1), i.e.
  (r/n) * [n b + (a - b (s+1)) (H(s+n) - H(s))] with harmonic numbers H (evaluated with an
  asymptotic expansion so that differences of large H keep full relative precision).
- **Empty queries** (R = 0): ``"exclude"`` drops them from every mean (they are counted in
  ``n_empty_queries``); ``"zero"`` gives them AP = AP@k = P@k = tie-aware AP = 0 and recall 0.
  Every mean is over the same set of counted queries; a mean over no query is ``None`` (NaN is
  not JSON).
- **PR curve** over Hamming radius rho = 0..L (items with distance <= rho are retrieved):
  macro-averaged over counted queries: ``recall[rho]`` = mean of (relevant retrieved / R), with
  0 for empty queries under ``"zero"``; ``precision[rho]`` = mean of (relevant retrieved /
  retrieved) over the counted queries that retrieve at least one item at that radius (``None`` if
  none does). ``precision_micro`` / ``recall_micro`` pool the counts over the counted queries.

All sums are float64. The numba kernel (default when numba imports) and the numpy fallback give
the same values up to summation order (<= 1e-12); ``backend=`` or the environment variable
``BENCH_METRICS_BACKEND`` (``auto`` | ``numba`` | ``numpy``) forces one (numpy is used anyway for
a database too large for the numba kernel's packed counters, ``_numba_kernel.fits``). Queries
are processed in chunks so that memory stays bounded; the numba kernel runs in
``numba.get_num_threads()`` threads (``numba.set_num_threads`` / ``NUMBA_NUM_THREADS``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import _numpy_kernel
from .packing import _check_n_bits, mask_padding, pack_codes, pack_labels, resolve_encoding

__all__ = [
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "BACKEND_ENV",
    "evaluate_retrieval",
    "numba_available",
    "prepare_inputs",
]

PROTOCOL_VERSION = 2
DEFAULT_K_VALUES = (50, 1000, 5000)
BACKEND_ENV = "BENCH_METRICS_BACKEND"
EMPTY_QUERY_POLICIES = ("exclude", "zero")

PROTOCOL: dict[str, Any] = {
    "version": PROTOCOL_VERSION,
    "distance": "hamming",
    "relevance": "at least one shared label",
    "ties": "by database position; the database is in a seeded order (split and trial seed), "
            "never dataset order",
    "validation": "model selection ranks validation queries against a held-out database: a "
                  "seeded sample of at most 1,000 training-pool items (never the query set, "
                  "never a query's own pair)",
    "empty_queries": "excluded (counted and recorded)",
    "k_values": list(DEFAULT_K_VALUES),
    "map_at_k": "AP over the top k, normalised by the relevant items in the top k (0 if none)",
    "k_above_database": "capped at the database size",
    "sign_zero": "+1",
    "tie_aware": "expected AP under uniformly random order within equal-distance groups",
    "pr_curve": "over Hamming radius 0..L, macro-averaged over counted queries (micro also given)",
}

# Auto chunking: bound the per-chunk numba outputs and the numpy temporaries.
_NUMBA_CHUNK_BYTES = 64 << 20
_NUMPY_BLOCK_BYTES = 256 << 20
_THREAD_BLOCK = 8  # queries per task handed to a worker thread

_EULER_GAMMA = 0.57721566490153286061
_H_SMALL_MAX = 32
_H_SMALL = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, _H_SMALL_MAX, dtype=np.float64))))


# --------------------------------------------------------------------------- backend


def numba_available() -> bool:
    """True if the numba kernel can be imported."""
    return _load_numba_kernel() is not None


_NUMBA_KERNEL: Any = None
_NUMBA_TRIED = False


def _load_numba_kernel() -> Any:
    global _NUMBA_KERNEL, _NUMBA_TRIED
    if not _NUMBA_TRIED:
        _NUMBA_TRIED = True
        try:
            from . import _numba_kernel
        except ImportError:
            _NUMBA_KERNEL = None
        else:
            _NUMBA_KERNEL = _numba_kernel
    return _NUMBA_KERNEL


def _run_numba(qc: np.ndarray, *args: Any) -> None:
    """Run the numba kernel over all rows of ``qc``: blocks of queries are handed to
    ``numba.get_num_threads()`` Python threads (the kernel releases the GIL)."""
    import numba

    nq = qc.shape[0]
    n_threads = max(1, min(numba.get_num_threads(), -(-nq // _THREAD_BLOCK)))
    if n_threads == 1:
        _NUMBA_KERNEL.evaluate_range(0, nq, qc, *args)
        return
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [
            pool.submit(_NUMBA_KERNEL.evaluate_range, lo, min(nq, lo + _THREAD_BLOCK), qc, *args)
            for lo in range(0, nq, _THREAD_BLOCK)
        ]
        for fut in futures:
            fut.result()


def _select_backend(backend: str | None) -> str:
    choice = backend if backend is not None else os.environ.get(BACKEND_ENV, "auto")
    choice = (choice or "auto").strip().lower()
    if choice not in ("auto", "numba", "numpy"):
        raise ValueError(
            f"backend must be 'auto', 'numba' or 'numpy' (argument or ${BACKEND_ENV}), "
            f"got {choice!r}"
        )
    if choice == "numpy":
        return "numpy"
    if _load_numba_kernel() is None:
        if choice == "numba":
            raise ImportError("backend='numba' was requested but numba cannot be imported")
        return "numpy"
    return "numba"


# --------------------------------------------------------------------------- inputs


def _prepare_codes(
    query_codes: np.ndarray, db_codes: np.ndarray, n_bits: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    q = np.asarray(query_codes)
    d = np.asarray(db_codes)
    for arr, what in ((q, "query_codes"), (d, "db_codes")):
        if arr.ndim != 2:
            raise ValueError(f"{what} must be a 2-D array (n, n_bits), got shape {arr.shape}")
    q_packed, d_packed = q.dtype == np.uint64, d.dtype == np.uint64
    if q_packed != d_packed:
        raise ValueError(
            "query_codes and db_codes must both be packed (uint64) or both unpacked, got "
            f"{q.dtype} and {d.dtype}"
        )
    if q_packed:
        if n_bits is None:
            raise ValueError("packed uint64 codes need n_bits (the code length in bits)")
        n_bits = _check_n_bits(n_bits)
        n_words = (n_bits + 63) // 64
        for arr, what in ((q, "query_codes"), (d, "db_codes")):
            if arr.shape[1] != n_words:
                raise ValueError(
                    f"{what} has {arr.shape[1]} uint64 words but n_bits={n_bits} needs {n_words}"
                )
        return mask_padding(q, n_bits), mask_padding(d, n_bits), n_bits
    if q.shape[1] != d.shape[1]:
        raise ValueError(
            f"query codes have {q.shape[1]} bits but database codes have {d.shape[1]} bits"
        )
    if n_bits is not None and _check_n_bits(n_bits) != q.shape[1]:
        raise ValueError(f"n_bits={n_bits} does not match the code length {q.shape[1]}")
    enc = resolve_encoding(q, d)
    return pack_codes(q, encoding=enc), pack_codes(d, encoding=enc), int(q.shape[1])


def _prepare_labels(query_labels: np.ndarray, db_labels: np.ndarray) -> tuple[np.ndarray, ...]:
    ql = np.asarray(query_labels)
    dl = np.asarray(db_labels)
    if ql.ndim == 1 and dl.ndim == 1:
        for arr, what in ((ql, "query_labels"), (dl, "db_labels")):
            if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0):
                raise ValueError(f"1-D {what} must be non-negative integer class ids")
        n_classes = int(max(ql.max(initial=0), dl.max(initial=0))) + 1
        return tuple(_one_hot_packed(a.astype(np.int64), n_classes) for a in (ql, dl))
    if ql.ndim != 2 or dl.ndim != 2:
        raise ValueError(
            "labels must be multi-hot matrices (n, C) or 1-D class ids, both of the same kind; "
            f"got shapes {ql.shape} and {dl.shape}"
        )
    if ql.shape[1] != dl.shape[1]:
        raise ValueError(
            f"query labels have {ql.shape[1]} classes but database labels have {dl.shape[1]}"
        )
    return pack_labels(ql), pack_labels(dl)


def _one_hot_packed(ids: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((ids.shape[0], (n_classes + 63) // 64), dtype=np.uint64)
    bit = np.left_shift(np.uint64(1), (ids % 64).astype(np.uint64))
    out[np.arange(ids.shape[0]), ids // 64] = bit
    return out


def prepare_inputs(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    n_bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate and pack inputs: returns (qc, dc, ql, dl, n_bits), all uint64 C-contiguous."""
    qc, dc, n_bits = _prepare_codes(query_codes, db_codes, n_bits)
    ql, dl = _prepare_labels(query_labels, db_labels)
    if ql.shape[0] != qc.shape[0]:
        raise ValueError(f"{qc.shape[0]} query codes but {ql.shape[0]} query label rows")
    if dl.shape[0] != dc.shape[0]:
        raise ValueError(f"{dc.shape[0]} database codes but {dl.shape[0]} database label rows")
    if qc.shape[0] == 0 or dc.shape[0] == 0:
        raise ValueError("need at least one query and one database item")
    return qc, dc, ql, dl, n_bits


def _check_k_values(k_values: Iterable[int]) -> list[int]:
    ks = list(k_values)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k_values must be positive integers, got {k!r}")
    if len({int(k) for k in ks}) != len(ks):
        raise ValueError(f"k_values contains duplicates: {ks}")
    return [int(k) for k in ks]


# --------------------------------------------------------------------------- harmonic numbers


def _harmonic(x: np.ndarray) -> np.ndarray:
    """H(x) for integer-valued float64 x >= 0 (table below 32, asymptotic series above)."""
    out = np.empty_like(x)
    small = x < _H_SMALL_MAX
    out[small] = _H_SMALL[x[small].astype(np.int64)]
    y = x[~small]
    y2 = 1.0 / (y * y)
    series = y2 * (1 / 12 - y2 * (1 / 120 - y2 * (1 / 252 - y2 * (1 / 240 - y2 / 132))))
    out[~small] = np.log(y) + _EULER_GAMMA + 0.5 / y - series
    return out


def harmonic_diff(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """H(s + n) - H(s) = sum_{i=1..n} 1/(s+i) for integer arrays s, n >= 0, to ~1e-15 relative."""
    s = np.asarray(s, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    m = s + n
    out = np.zeros(np.broadcast(s, n).shape, dtype=np.float64)
    s, n, m = np.broadcast_arrays(s, n, m)
    small = (s < _H_SMALL_MAX) & (n > 0)
    out[small] = _harmonic(m[small]) - _harmonic(s[small])
    big = (s >= _H_SMALL_MAX) & (n > 0)
    sb, nb, mb = s[big], n[big], m[big]
    # log(m/s) + [f(m) - f(s)] with f(x) = 1/(2x) - 1/(12x^2) + 1/(120x^4) - 1/(252x^6) + ...
    # the two leading differences are written without cancellation.
    d1 = -nb / (2.0 * mb * sb)
    d2 = nb * (mb + sb) / (12.0 * mb * mb * sb * sb)
    im2, is2 = 1.0 / (mb * mb), 1.0 / (sb * sb)
    d4 = (im2 * im2 - is2 * is2) / 120.0
    d6 = -(im2**3 - is2**3) / 252.0
    d8 = (im2**4 - is2**4) / 240.0
    out[big] = np.log1p(nb / sb) + d1 + d2 + d4 + d6 + d8
    return out


def tie_aware_ap_sum(nhist: np.ndarray, rhist: np.ndarray) -> np.ndarray:
    """Per-query expected sum of C/r under random order within distance buckets (rows = queries).

    Divide by R (row sum of ``rhist``) to get the tie-aware AP.
    """
    n = nhist.astype(np.float64)
    r = rhist.astype(np.float64)
    s = np.cumsum(n, axis=1) - n
    c = np.cumsum(r, axis=1) - r
    has = r > 0
    n_, r_, s_, c_ = n[has], r[has], s[has], c[has]
    b = np.where(n_ > 1, (r_ - 1.0) / np.maximum(n_ - 1.0, 1.0), 0.0)
    a = c_ + 1.0
    contrib = (r_ / n_) * (n_ * b + (a - b * (s_ + 1.0)) * harmonic_diff(s_, n_))
    out = np.zeros_like(n)
    out[has] = contrib
    return out.sum(axis=1)


# --------------------------------------------------------------------------- engine


def _none_if_nan(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _mean(values: np.ndarray) -> float | None:
    return None if values.size == 0 else _none_if_nan(np.mean(values, dtype=np.float64))


def evaluate_retrieval(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    *,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    empty_queries: str = "exclude",
    tie_aware: bool = True,
    pr_curve: bool = True,
    chunk_size: int | None = None,
    n_bits: int | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Exact mAP@all, mAP@k, P@k, tie-aware mAP and PR curve of Hamming ranking.

    Codes: ±1 / real (sign, sign(0)=+1) or {0,1}/bool arrays (n, L), or packed uint64 words
    (n, ceil(L/64)) with ``n_bits=L``. Labels: multi-hot (n, C) (x > 0 = label) or 1-D integer
    class ids. See the module docstring for the definitions. Returns a JSON-serialisable dict.
    """
    qc, dc, ql, dl, n_bits = prepare_inputs(query_codes, db_codes, query_labels, db_labels, n_bits)
    if empty_queries not in EMPTY_QUERY_POLICIES:
        raise ValueError(
            f"empty_queries must be one of {EMPTY_QUERY_POLICIES}, got {empty_queries!r}"
        )
    ks = _check_k_values(k_values)
    nq, nd = qc.shape[0], dc.shape[0]
    nb = n_bits + 1
    k_eff_of = {k: min(k, nd) for k in ks}
    ks_eff = np.array(sorted(set(k_eff_of.values())), dtype=np.int64)
    k_index = {k: int(np.searchsorted(ks_eff, k_eff_of[k])) for k in ks}
    nk = ks_eff.shape[0]
    used = _select_backend(backend)
    if used == "numba" and not _NUMBA_KERNEL.fits(nd, n_bits):
        used = "numpy"  # the kernel's packed counters cannot hold this size (~2**28 items)

    if chunk_size is None:
        chunk = max(1, _NUMBA_CHUNK_BYTES // (16 * nb + 16 * nk + 64))
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    elif chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    else:
        chunk = int(chunk_size)
    numpy_block = max(1, _NUMPY_BLOCK_BYTES // (_numpy_kernel.BYTES_PER_PAIR * nd))
    if chunk_size is not None:
        numpy_block = min(numpy_block, chunk)
    inv = 1.0 / np.arange(1, nd + 1, dtype=np.float64) if used == "numba" else None

    rel_total = np.empty(nq, dtype=np.int64)
    ap = np.zeros(nq)
    apk = np.zeros((nq, nk))
    pk = np.zeros((nq, nk))
    tie = np.zeros(nq) if tie_aware else None
    pr_sums = np.zeros((6, nb)) if pr_curve else None

    for a in range(0, nq, chunk):
        b = min(nq, a + chunk)
        m = b - a
        nhist = np.zeros((m, nb), dtype=np.int64)
        rhist = np.zeros((m, nb), dtype=np.int64)
        ap_sum = np.zeros(m)
        apk_sum = np.zeros((m, nk))
        relk = np.zeros((m, nk), dtype=np.int64)
        outs = (nhist, rhist, ap_sum, apk_sum, relk)
        if used == "numba":
            tie_sum = np.zeros(m)
            _run_numba(qc[a:b], dc, ql[a:b], dl, n_bits, ks_eff, inv, *outs, tie_sum)
        else:
            _numpy_kernel.evaluate_chunk(
                qc[a:b], dc, ql[a:b], dl, n_bits, ks_eff, *outs, block=numpy_block
            )
            tie_sum = tie_aware_ap_sum(nhist, rhist) if tie is not None else None
        rel = rhist.sum(axis=1)
        rel_total[a:b] = rel
        has = rel > 0
        ap[a:b] = np.where(has, ap_sum / np.maximum(rel, 1), 0.0)
        apk[a:b] = np.where(relk > 0, apk_sum / np.maximum(relk, 1), 0.0)
        pk[a:b] = relk / ks_eff
        if tie is not None:
            tie[a:b] = np.where(has, tie_sum / np.maximum(rel, 1), 0.0)
        if pr_sums is not None:
            keep = has if empty_queries == "exclude" else np.ones(m, dtype=bool)
            if used == "numba":
                _NUMBA_KERNEL.pr_accumulate(nhist, rhist, keep, pr_sums)
            else:
                _accumulate_pr(pr_sums, nhist, rhist, rel, keep)

    counted = rel_total > 0 if empty_queries == "exclude" else np.ones(nq, dtype=bool)
    result: dict[str, Any] = {
        "map_all": _mean(ap[counted]),
        "map_at_k": {str(k): _mean(apk[counted, k_index[k]]) for k in ks},
        "p_at_k": {str(k): _mean(pk[counted, k_index[k]]) for k in ks},
    }
    if tie is not None:
        result["map_tie_aware"] = _mean(tie[counted])
    if pr_sums is not None:
        result["pr_curve"] = _finish_pr(pr_sums, int(counted.sum()), n_bits)
    result.update(
        {
            "n_queries": nq,
            "n_empty_queries": int(np.count_nonzero(rel_total == 0)),
            "empty_queries": empty_queries,
            "n_database": nd,
            "n_bits": n_bits,
            "k_values": ks,
            "k_effective": {str(k): k_eff_of[k] for k in ks},
            "protocol_version": PROTOCOL_VERSION,
            "backend": used,
        }
    )
    return result


def _accumulate_pr(
    sums: np.ndarray, nhist: np.ndarray, rhist: np.ndarray, rel: np.ndarray, keep: np.ndarray
) -> None:
    """Add the queries with ``keep`` to the PR sums: rows = macro P sum, #queries with P, macro
    R sum, and the micro numerators / denominators (relevant retrieved, retrieved, relevant)."""
    retrieved = np.cumsum(nhist[keep], axis=1)
    rel_ret = np.cumsum(rhist[keep], axis=1)
    rk = rel[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = rel_ret / retrieved
        rec = np.where(rk[:, None] > 0, rel_ret / np.maximum(rk, 1)[:, None], 0.0)
    defined = retrieved > 0
    sums[0] += np.where(defined, prec, 0.0).sum(axis=0)
    sums[1] += defined.sum(axis=0)
    sums[2] += rec.sum(axis=0)
    sums[3] += rel_ret.sum(axis=0)
    sums[4] += retrieved.sum(axis=0)
    sums[5] += rk.sum()


def _finish_pr(sums: np.ndarray, n_counted: int, n_bits: int) -> dict[str, Any]:
    def ratio(num: np.ndarray, den: np.ndarray) -> list[float | None]:
        return [None if d == 0 else float(x / d) for x, d in zip(num, den, strict=True)]

    counted = np.full(sums.shape[1], float(n_counted))
    return {
        "radius": list(range(n_bits + 1)),
        "precision": ratio(sums[0], sums[1]),
        "recall": ratio(sums[2], counted),
        "precision_micro": ratio(sums[3], sums[4]),
        "recall_micro": ratio(sums[3], sums[5]),
        "averaging": "macro over counted queries (precision: over queries retrieving >= 1 item)",
    }
