"""Numba kernel of the metric engine (imported lazily; needs numba).

For each query (ranges of queries run in parallel Python threads; the kernel releases the GIL):

- **Pass A**, over the database in index order, branch-free: ``d = popcount(q ^ x)``,
  ``rel = (labels_q & labels_x) != 0``; one 64-bit counter word per distance holds the bucket's
  item count (low field), relevant count (middle field) and the distance itself (top field;
  ``fits`` says when the three fields fit in 64 bits, the engine uses numpy otherwise); the word
  is incremented by ``1 + (rel << sh)``, its old value is always written to ``rec[m]`` and
  ``m += rel`` keeps only the relevant items.
- Prefix sums over the buckets turn every counter word into an offset such that ``rec[i] +
  offset[d] = (r - 1) | ((C - 1) << sh)``: ``r`` the exact rank (distance ascending, ties by
  database position, i.e. a stable ranking) and ``C`` the relevant items ranked up to it.
- **Pass B**, over the relevant items only: ``order[C - 1] = r - 1`` (a counting sort: the
  relevant items in rank order).
- **Pass C**: ``AP_sum = sum(C / r)`` in rank order; the relevant items inside the top k form a
  prefix of ``order`` (found by bisection), which gives the top-k sums and counts. ``1 / r`` is
  read from a table (at most 1 ulp from a true division per term).

The tie-aware sum and the PR-curve sums are computed from the per-distance counts (same formulas
as the numpy versions in ``engine``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

_ONE = np.uint64(1)
_EULER_GAMMA = 0.57721566490153286061


@intrinsic
def _popcount(typingctx, x):
    if x != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True)
def _harmonic(x):
    """H(x) for an integer-valued x >= 0: direct sum below 32, asymptotic series above."""
    if x < 32:
        h = 0.0
        for i in range(1, int(x) + 1):
            h += 1.0 / i
        return h
    y2 = 1.0 / (x * x)
    series = y2 * (1 / 12 - y2 * (1 / 120 - y2 * (1 / 252 - y2 * (1 / 240 - y2 / 132))))
    return math.log(x) + _EULER_GAMMA + 0.5 / x - series


@njit(cache=True)
def _harmonic_diff(s, n):
    """H(s + n) - H(s) (same method as ``engine.harmonic_diff``)."""
    if n <= 0:
        return 0.0
    m = s + n
    if s < 32:
        return _harmonic(m) - _harmonic(s)
    d1 = -n / (2.0 * m * s)
    d2 = n * (m + s) / (12.0 * m * m * s * s)
    im2 = 1.0 / (m * m)
    is2 = 1.0 / (s * s)
    d4 = (im2 * im2 - is2 * is2) / 120.0
    d6 = -(im2**3 - is2**3) / 252.0
    d8 = (im2**4 - is2**4) / 240.0
    return math.log1p(n / s) + d1 + d2 + d4 + d6 + d8


@njit(cache=True)
def _tie_aware_sum(nh, rh):
    """Expected sum of C/r for one query from its per-distance item / relevant counts."""
    total = 0.0
    s = 0.0
    c = 0.0
    for d in range(nh.shape[0]):
        n = float(nh[d])
        r = float(rh[d])
        if r > 0:
            b = (r - 1.0) / (n - 1.0) if n > 1 else 0.0
            a = c + 1.0
            total += (r / n) * (n * b + (a - b * (s + 1.0)) * _harmonic_diff(s, n))
        s += n
        c += r
    return total


@njit(cache=True)
def pr_accumulate(nhist, rhist, keep, sums):
    """Add the PR-curve sums of the queries with ``keep`` (see ``engine._accumulate_pr``)."""
    nq, nb = nhist.shape
    for i in range(nq):
        if not keep[i]:
            continue
        total = 0
        for d in range(nb):
            total += rhist[i, d]
        ret = 0
        hit = 0
        for d in range(nb):
            ret += nhist[i, d]
            hit += rhist[i, d]
            if ret > 0:
                sums[0, d] += hit / ret
                sums[1, d] += 1.0
            if total > 0:
                sums[2, d] += hit / total
            sums[3, d] += hit
            sums[4, d] += ret
            sums[5, d] += total


@njit(cache=True)
def _count_bits(n):
    """Number of bits needed to hold the integer ``n >= 0``."""
    b = np.uint64(0)
    while n >> np.int64(b):
        b += _ONE
    return b


def fits(n_database: int, n_bits: int) -> bool:
    """True if the kernel's counter words hold ``n_database`` items and distances up to
    ``n_bits`` (two count fields of ``n_database.bit_length()`` bits plus the distance)."""
    return 2 * int(n_database).bit_length() + int(n_bits).bit_length() <= 64


@njit(cache=True)
def _one_query(
    qi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum, scratch
):
    """All outputs of query ``qi`` (see ``evaluate_range``); ``scratch`` = (cnt, rec, order).

    Needs ``fits(n_database, n_bits)``.

    The hot loops are written out by hand: helpers taking arrays would add reference counting
    to every iteration.
    """
    cnt, rec, order = scratch
    nd = dc.shape[0]
    nw = qc.shape[1]
    ncw = ql.shape[1]
    nb = n_bits + 1
    nk = ks.shape[0]
    # counter word: items [0, sh), relevant items [sh, 2 sh), distance [2 sh, 64)
    sh = _count_bits(nd)
    sh2 = sh + sh
    mask = (_ONE << sh) - _ONE
    for d in range(nb):
        cnt[d] = np.uint64(d) << sh2
    m = 0
    if nw == 1 and ncw == 1:
        q0 = qc[qi, 0]
        l0 = ql[qi, 0]
        for j in range(nd):
            d = _popcount(q0 ^ dc[j, 0])
            rel = np.uint64((l0 & dl[j, 0]) != 0)
            old = cnt[d]
            cnt[d] = old + _ONE + (rel << sh)
            rec[m] = old
            m += np.int64(rel)
    else:
        for j in range(nd):
            d = np.uint64(0)
            for w in range(nw):
                d += _popcount(qc[qi, w] ^ dc[j, w])
            hit = np.uint64(0)
            for w in range(ncw):
                hit |= ql[qi, w] & dl[j, w]
            rel = np.uint64(hit != 0)
            old = cnt[d]
            cnt[d] = old + _ONE + (rel << sh)
            rec[m] = old
            m += np.int64(rel)

    # histograms; cnt[d] becomes the offset with rec + cnt[d] = (r - 1) | ((C - 1) << sh)
    s = np.uint64(0)
    c = np.uint64(0)
    for d in range(nb):
        w = cnt[d]
        n = w & mask
        r = (w >> sh) & mask
        nhist[qi, d] = n
        rhist[qi, d] = r
        cnt[d] = s + (c << sh) - (np.uint64(d) << sh2)
        s += n
        c += r
    # counting sort of the relevant items by rank: order[C - 1] = r - 1 (ascending)
    for i in range(m):
        v = rec[i]
        v += cnt[v >> sh2]
        order[v >> sh] = v & mask

    # sum C / r in rank order, split at the top-k boundaries (the relevant items with r <= k
    # are a prefix of order)
    total = 0.0
    i = 0
    for ki in range(nk + 1):
        e = m
        if ki < nk:
            lim = np.uint64(ks[ki])
            hi = m
            e = i
            while e < hi:
                mid = (e + hi) >> 1
                if order[mid] < lim:
                    e = mid + 1
                else:
                    hi = mid
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        while i + 4 <= e:
            a0 += (i + 1) * inv[order[i]]
            a1 += (i + 2) * inv[order[i + 1]]
            a2 += (i + 3) * inv[order[i + 2]]
            a3 += (i + 4) * inv[order[i + 3]]
            i += 4
        while i < e:
            a0 += (i + 1) * inv[order[i]]
            i += 1
        total += (a0 + a1) + (a2 + a3)
        if ki < nk:
            apk_sum[qi, ki] = total
            relk[qi, ki] = e
    ap_sum[qi] = total
    tie_sum[qi] = _tie_aware_sum(nhist[qi], rhist[qi])


@njit(nogil=True, cache=True)
def evaluate_range(
    lo, hi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum
):
    """Fill rows ``lo:hi`` of the per-query outputs (releases the GIL; callers run disjoint row
    ranges in parallel threads).

    qc/dc: packed codes (uint64, C order); ql/dl: packed labels; ks: sorted unique effective k
    values (1 <= k <= n_database); ``fits(n_database, n_bits)``; inv[i] = 1 / (i + 1). Outputs
    (first dim = queries):
    nhist/rhist (n, n_bits + 1) item / relevant counts per distance, ap_sum (n,) = sum C/r,
    apk_sum / relk (n, len(ks)) = the same sum and the relevant count over the top k, tie_sum
    (n,) = expected sum of C/r under random order inside distance buckets (tie-aware AP * R).
    """
    nd = dc.shape[0]
    scratch = (np.empty(n_bits + 1, np.uint64), np.empty(nd, np.uint64), np.empty(nd, np.uint64))
    for qi in range(lo, hi):
        _one_query(
            qi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum,
            scratch,
        )
