"""Numba kernel of the metric engine (imported lazily; needs numba).

For each query (ranges of queries run in parallel Python threads; the kernel releases the GIL),
one pass over the database in index order computes ``d = popcount(q ^ x)`` and
``rel = (labels_q & labels_x) != 0`` and appends ``rel`` to a per-distance bit stream. Each
stream lives in one 64-bit word with a sentinel bit (it starts at bit 63 and moves down one bit
per append); when a word holds 63 items it is moved to a small pool and linked to its distance
bucket. After the pass, the buckets are walked in distance order (ties in index order, i.e. a
stable ranking): the position of every relevant item is its exact rank ``r`` and the running
relevant count is ``C``, so ``AP_sum = sum(C / r)``; the sums and relevant counts at the top-k
boundaries and the per-distance item / relevant counts come out of the same walk. ``1 / r`` is
read from a table (at most 1 ulp from a true division per term). The tie-aware sum and the
PR-curve sums are computed here too from the per-distance counts (same formulas as the numpy
versions in ``engine``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_ONE = np.uint64(1)
_SHIFT63 = np.uint64(63)
_TOP = np.uint64(1 << 63)
_EULER_GAMMA = 0.57721566490153286061


@intrinsic
def _popcount(typingctx, x):
    if x != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _ctz(typingctx, x):
    if x != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], cgutils.true_bit)

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
def _one_query(qi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum):
    """All outputs of query ``qi`` (see ``evaluate_range``).

    The hot loops are written out by hand: helpers taking arrays would add reference counting
    to every iteration.
    """
    nd = dc.shape[0]
    nw = qc.shape[1]
    ncw = ql.shape[1]
    fast = nw == 1 and ncw == 1
    nb = n_bits + 1
    nk = ks.shape[0]
    npool = nd // 63 + 1
    cur = np.empty(nb, np.uint64)
    head = np.empty(nb, np.int64)
    tail = np.empty(nb, np.int64)
    pool_w = np.empty(npool, np.uint64)
    pool_next = np.empty(npool, np.int64)
    for d in range(nb):
        cur[d] = _TOP
        head[d] = -1
        tail[d] = -1
    top = 0
    q0 = qc[qi, 0]
    l0 = ql[qi, 0]
    for j in range(nd):
        if fast:
            d = _popcount(q0 ^ dc[j, 0])
            hit = l0 & dl[j, 0]
        else:
            d = np.uint64(0)
            for w in range(nw):
                d += _popcount(qc[qi, w] ^ dc[j, w])
            hit = np.uint64(0)
            for w in range(ncw):
                hit |= ql[qi, w] & dl[j, w]
        # append rel to the sentinel word of bucket d; move full words to the pool
        c = (cur[d] >> _ONE) | (np.uint64(hit != 0) << _SHIFT63)
        if c & _ONE:
            pool_w[top] = c >> _ONE
            pool_next[top] = -1
            t = tail[d]
            if t < 0:
                head[d] = top
            else:
                pool_next[t] = top
            tail[d] = top
            top += 1
            c = _TOP
        cur[d] = c

    # Walk the buckets in distance order; ranks are 1-based, s = items ranked so far, bit t of a
    # word has rank s + t + 1 and inv[s + t] = 1 / rank.
    count = 0
    s = 0
    total = 0.0
    ki = 0
    for d in range(nb):
        s0 = s
        c0 = count
        bucket = 0.0
        p = head[d]
        while True:
            if p >= 0:
                w = pool_w[p]
                m = 63
                p = pool_next[p]
            else:
                cw = cur[d]
                sp = np.int64(_ctz(cw))
                m = 63 - sp
                if m == 0:
                    break
                w = cw >> np.uint64(sp + 1)
            while True:
                # the part of the word up to the next top-k boundary, if it falls in this word
                boundary = ki < nk and ks[ki] <= s + m
                if boundary:
                    seg = w & ((_ONE << np.uint64(ks[ki] - s)) - _ONE)
                else:
                    seg = w
                w ^= seg
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                left = np.int64(_popcount(seg))
                while left >= 4:
                    t0 = np.int64(_ctz(seg))
                    seg &= seg - _ONE
                    t1 = np.int64(_ctz(seg))
                    seg &= seg - _ONE
                    t2 = np.int64(_ctz(seg))
                    seg &= seg - _ONE
                    t3 = np.int64(_ctz(seg))
                    seg &= seg - _ONE
                    a0 += (count + 1) * inv[s + t0]
                    a1 += (count + 2) * inv[s + t1]
                    a2 += (count + 3) * inv[s + t2]
                    a3 += (count + 4) * inv[s + t3]
                    count += 4
                    left -= 4
                while seg:
                    t0 = np.int64(_ctz(seg))
                    seg &= seg - _ONE
                    count += 1
                    a0 += count * inv[s + t0]
                bucket += (a0 + a1) + (a2 + a3)
                if not boundary:
                    break
                apk_sum[qi, ki] = total + bucket
                relk[qi, ki] = count
                ki += 1
            s += m
            if m < 63:
                break
        total += bucket
        nhist[qi, d] = s - s0
        rhist[qi, d] = count - c0
    ap_sum[qi] = total
    tie_sum[qi] = _tie_aware_sum(nhist[qi], rhist[qi])


@njit(nogil=True, cache=True)
def evaluate_range(
    lo, hi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum
):
    """Fill rows ``lo:hi`` of the per-query outputs (releases the GIL; callers run disjoint row
    ranges in parallel threads).

    qc/dc: packed codes (uint64, C order); ql/dl: packed labels; ks: sorted unique effective k
    values (1 <= k <= n_database); inv[i] = 1 / (i + 1). Outputs (first dim = queries):
    nhist/rhist (n, n_bits + 1) item / relevant counts per distance, ap_sum (n,) = sum C/r,
    apk_sum / relk (n, len(ks)) = the same sum and the relevant count over the top k, tie_sum
    (n,) = expected sum of C/r under random order inside distance buckets (tie-aware AP * R).
    """
    for qi in range(lo, hi):
        _one_query(
            qi, qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk, tie_sum
        )
