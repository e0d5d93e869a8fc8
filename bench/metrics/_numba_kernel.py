"""Numba kernel of the metric engine (imported lazily; needs numba).

For each query (``prange`` over queries, dynamically scheduled by the caller), one pass over the
database in index order computes ``d = popcount(q ^ x)`` and ``rel = (labels_q & labels_x) != 0``
and appends ``rel`` to a per-distance bit stream. Each stream lives in one 64-bit word with a
sentinel bit (it starts at bit 63 and moves down one bit per append); when a word holds 63 items
it is moved to a small pool and linked to its distance bucket. After the pass, the buckets are
walked in distance order (ties in index order, i.e. a stable ranking): the position of every
relevant item is its exact rank ``r`` and the running relevant count is ``C``, so
``AP_sum = sum(C / r)``; the sums and relevant counts at the top-k boundaries, and the per-bucket
item / relevant counts (for tie-aware AP and the PR curve), come out of the same walk.
``1 / r`` is read from a table (at most 1 ulp from a true division per term).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_ONE = np.uint64(1)
_SHIFT63 = np.uint64(63)
_TOP = np.uint64(1 << 63)


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


@njit(cache=True, inline="always")
def _word_sum(w, count, idx0, inv):
    """Sum ``count_i / rank_i`` over the set bits of ``w`` (bit t has rank ``idx0 + t + 1``)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    n = np.int64(_popcount(w))
    while n >= 4:
        t0 = np.int64(_ctz(w))
        w &= w - _ONE
        t1 = np.int64(_ctz(w))
        w &= w - _ONE
        t2 = np.int64(_ctz(w))
        w &= w - _ONE
        t3 = np.int64(_ctz(w))
        w &= w - _ONE
        a0 += (count + 1) * inv[idx0 + t0]
        a1 += (count + 2) * inv[idx0 + t1]
        a2 += (count + 3) * inv[idx0 + t2]
        a3 += (count + 4) * inv[idx0 + t3]
        count += 4
        n -= 4
    while w:
        t0 = np.int64(_ctz(w))
        w &= w - _ONE
        count += 1
        a0 += count * inv[idx0 + t0]
    return (a0 + a1) + (a2 + a3), count


@njit(cache=True, inline="always")
def _append(cur, d, rel, pool_w, pool_next, head, tail, top):
    c = (cur[d] >> _ONE) | (rel << _SHIFT63)
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
    return top


@njit(parallel=True, cache=True)
def evaluate_chunk(qc, dc, ql, dl, n_bits, ks, inv, nhist, rhist, ap_sum, apk_sum, relk):
    """Fill the per-query outputs for one chunk of queries (see the module docstring).

    qc/dc: packed codes (uint64, C order); ql/dl: packed labels; ks: sorted unique effective k
    values (1 <= k <= n_database); inv[i] = 1 / (i + 1). Outputs (first dim = chunk queries):
    nhist/rhist (n, n_bits + 1) item / relevant counts per distance, ap_sum (n,) = sum C/r,
    apk_sum / relk (n, len(ks)) = the same sum and the relevant count over the top k.
    """
    nq = qc.shape[0]
    nd = dc.shape[0]
    nw = qc.shape[1]
    ncw = ql.shape[1]
    nb = n_bits + 1
    nk = ks.shape[0]
    npool = nd // 63 + 1
    for qi in prange(nq):
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
        if nw == 1 and ncw == 1:
            q0 = qc[qi, 0]
            l0 = ql[qi, 0]
            for j in range(nd):
                d = _popcount(q0 ^ dc[j, 0])
                rel = np.uint64((l0 & dl[j, 0]) != 0)
                top = _append(cur, d, rel, pool_w, pool_next, head, tail, top)
        else:
            for j in range(nd):
                d = np.uint64(0)
                for w in range(nw):
                    d += _popcount(qc[qi, w] ^ dc[j, w])
                hit = np.uint64(0)
                for w in range(ncw):
                    hit |= ql[qi, w] & dl[j, w]
                rel = np.uint64(hit != 0)
                top = _append(cur, d, rel, pool_w, pool_next, head, tail, top)

        # Walk the buckets in distance order; ranks are 1-based, s = items ranked so far.
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
                while ki < nk and ks[ki] <= s + m:
                    e = ks[ki] - s
                    lo = w & ((_ONE << np.uint64(e)) - _ONE)
                    part, count = _word_sum(lo, count, s, inv)
                    bucket += part
                    w ^= lo
                    apk_sum[qi, ki] = total + bucket
                    relk[qi, ki] = count
                    ki += 1
                part, count = _word_sum(w, count, s, inv)
                bucket += part
                s += m
                if m < 63:
                    break
            total += bucket
            nhist[qi, d] = s - s0
            rhist[qi, d] = count - c0
        ap_sum[qi] = total
