"""Straightforward float64 reference of the metrics (slow; for tests and benchmarks only).

Per query: Hamming distances from ±1 codes, d = (L - b_q . b_x) / 2; relevance from the
multi-hot label product; ``np.argsort(dist, kind="stable")``; AP / AP@k / P@k read off the sorted
relevance vector. The tie-aware AP is the expectation over random orders inside each distance
group, summed position by position (no harmonic-number closed form), and the PR curve is
computed radius by radius with boolean masks. Same conventions and metric keys as
:func:`bench.metrics.evaluate_retrieval` (see its module docstring).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .engine import DEFAULT_K_VALUES, EMPTY_QUERY_POLICIES, PROTOCOL_VERSION, prepare_inputs
from .packing import unpack_codes

__all__ = ["reference_evaluate", "reference_query", "tie_aware_ap_direct"]


def _multi_hot(packed: np.ndarray) -> np.ndarray:
    """Packed label words -> bool multi-hot matrix (n, 64 * words)."""
    as_bytes = np.ascontiguousarray(packed.astype("<u8")).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little").astype(bool)


def tie_aware_ap_direct(dist: np.ndarray, rel: np.ndarray) -> float:
    """Expected AP when the order inside each equal-distance group is uniformly random.

    Position i (1-based) of a group with n items, r relevant, s items and c relevant items
    before it, is relevant with probability r/n, and then the expected number of relevant items
    at or before it is c + 1 + (i-1)(r-1)/(n-1) (hypergeometric). Summed term by term.
    """
    total_rel = int(rel.sum())
    if total_rel == 0:
        return float("nan")
    acc = 0.0
    s = 0
    c = 0
    for value in np.unique(dist):
        group = dist == value
        n = int(group.sum())
        r = int(rel[group].sum())
        if r:
            i = np.arange(1, n + 1, dtype=np.float64)
            expected_c = c + 1 + (i - 1) * ((r - 1) / (n - 1) if n > 1 else 0.0)
            acc += float(np.sum((r / n) * expected_c / (s + i)))
        s += n
        c += r
    return acc / total_rel


def reference_query(dist: np.ndarray, rel: np.ndarray, k_values: Iterable[int]) -> dict[str, Any]:
    """Metrics of one query from its distances and relevance (bool) over the database."""
    nd = dist.shape[0]
    order = np.argsort(dist, kind="stable")
    rel_sorted = rel[order]
    ranks = np.arange(1, nd + 1, dtype=np.float64)
    count = np.cumsum(rel_sorted)
    total_rel = int(rel_sorted.sum())
    ap = float(np.sum(count[rel_sorted] / ranks[rel_sorted]) / total_rel) if total_rel else 0.0
    apk, pk = {}, {}
    for k in k_values:
        kk = min(int(k), nd)
        top = rel_sorted[:kk]
        n_top = int(top.sum())
        apk[k] = float(np.sum(count[:kk][top] / ranks[:kk][top]) / n_top) if n_top else 0.0
        pk[k] = n_top / kk
    return {"ap": ap, "apk": apk, "pk": pk, "n_rel": total_rel}


def reference_evaluate(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    *,
    k_values: Iterable[int] = DEFAULT_K_VALUES,
    empty_queries: str = "exclude",
    tie_aware: bool = True,
    pr_curve: bool = True,
    n_bits: int | None = None,
) -> dict[str, Any]:
    """Reference implementation of :func:`bench.metrics.evaluate_retrieval` (same output)."""
    if empty_queries not in EMPTY_QUERY_POLICIES:
        raise ValueError(f"empty_queries must be one of {EMPTY_QUERY_POLICIES}")
    ks = [int(k) for k in k_values]
    qc, dc, ql, dl, n_bits = prepare_inputs(query_codes, db_codes, query_labels, db_labels, n_bits)
    qb = unpack_codes(qc, n_bits).astype(np.float64)
    db = unpack_codes(dc, n_bits).astype(np.float64)
    qlab = _multi_hot(ql).astype(np.float64)
    dlab = _multi_hot(dl).astype(np.float64)
    nq, nd = qb.shape[0], db.shape[0]

    aps, apks, pks, ties, n_rels = [], [], [], [], []
    prec_sum = np.zeros(n_bits + 1)
    prec_n = np.zeros(n_bits + 1)
    rec_sum = np.zeros(n_bits + 1)
    micro_num = np.zeros(n_bits + 1)
    micro_den = np.zeros(n_bits + 1)
    micro_rel = 0.0
    n_counted = 0
    for i in range(nq):
        dist = np.rint((n_bits - db @ qb[i]) / 2.0).astype(np.int64)
        rel = (dlab @ qlab[i]) > 0
        res = reference_query(dist, rel, ks)
        n_rels.append(res["n_rel"])
        if res["n_rel"] == 0 and empty_queries == "exclude":
            continue
        n_counted += 1
        aps.append(res["ap"])
        apks.append([res["apk"][k] for k in ks])
        pks.append([res["pk"][k] for k in ks])
        if tie_aware:
            ties.append(tie_aware_ap_direct(dist, rel) if res["n_rel"] else 0.0)
        if pr_curve:
            for rho in range(n_bits + 1):
                retrieved = dist <= rho
                n_ret = int(retrieved.sum())
                n_hit = int((retrieved & rel).sum())
                if n_ret:
                    prec_sum[rho] += n_hit / n_ret
                    prec_n[rho] += 1
                rec_sum[rho] += n_hit / res["n_rel"] if res["n_rel"] else 0.0
                micro_num[rho] += n_hit
                micro_den[rho] += n_ret
            micro_rel += res["n_rel"]

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    out: dict[str, Any] = {
        "map_all": mean(aps),
        "map_at_k": {str(k): mean([row[j] for row in apks]) for j, k in enumerate(ks)},
        "p_at_k": {str(k): mean([row[j] for row in pks]) for j, k in enumerate(ks)},
    }
    if tie_aware:
        out["map_tie_aware"] = mean(ties)
    if pr_curve:

        def ratio(num: np.ndarray, den: np.ndarray | float) -> list[float | None]:
            den = np.broadcast_to(np.asarray(den, dtype=np.float64), num.shape)
            return [None if d == 0 else float(x / d) for x, d in zip(num, den, strict=True)]

        out["pr_curve"] = {
            "radius": list(range(n_bits + 1)),
            "precision": ratio(prec_sum, prec_n),
            "recall": ratio(rec_sum, float(n_counted)),
            "precision_micro": ratio(micro_num, micro_den),
            "recall_micro": ratio(micro_num, micro_rel),
        }
    out.update(
        {
            "n_queries": nq,
            "n_empty_queries": sum(1 for r in n_rels if r == 0),
            "empty_queries": empty_queries,
            "n_database": nd,
            "n_bits": n_bits,
            "k_values": ks,
            "k_effective": {str(k): min(k, nd) for k in ks},
            "protocol_version": PROTOCOL_VERSION,
        }
    )
    return out
