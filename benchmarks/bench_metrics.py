"""Benchmark of the metric engine on NUS-WIDE-sized random data (seeded).

Default case: 2,100 queries x 190,421 database items x 64 bits, 21 label classes with a
NUS-like skewed label frequency (every item has at least one label). Times the engine (warm:
a small warm-up call compiles or loads the numba cache first, and its time is printed
separately) and the float64 reference of ``bench.metrics.reference`` on a subset of queries,
extrapolated linearly to all queries; checks that both agree on that subset; reports the peak
extra memory of the engine and PASS/FAIL against the targets (>= 100x faster than the
reference, <= 0.5 s, <= 1 GB).

    python benchmarks/bench_metrics.py [--queries 2100] [--database 190421] [--bits 64]
                                       [--threads 2] [--ref-queries 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics import evaluate_retrieval, numba_available, reference_evaluate  # noqa: E402
from bench.metrics.engine import prepare_inputs  # noqa: E402
from bench.metrics.packing import unpack_codes  # noqa: E402
from bench.metrics.reference import _multi_hot, reference_query  # noqa: E402

TARGET_RATIO = 100.0
TARGET_SECONDS = 0.5
TARGET_BYTES = 1 << 30


def make_data(
    nq: int, nd: int, n_bits: int, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """±1 codes correlated with skewed multi-hot labels (class prototypes + noise)."""
    rng = np.random.default_rng(seed)
    n = nq + nd
    freq = 0.3 * 0.85 ** np.arange(n_classes)
    labels = rng.random((n, n_classes)) < freq
    empty = ~labels.any(axis=1)
    labels[np.flatnonzero(empty), rng.choice(n_classes, empty.sum(), p=freq / freq.sum())] = True
    prototypes = rng.standard_normal((n_classes, n_bits)).astype(np.float32)
    feats = labels.astype(np.float32) @ prototypes
    feats += 1.5 * rng.standard_normal((n, n_bits)).astype(np.float32)
    codes = np.where(feats >= 0, 1, -1).astype(np.int8)
    return codes[:nq], codes[nq:], labels[:nq].astype(np.uint8), labels[nq:].astype(np.uint8)


def rss_peak_reset() -> bool:
    """Return freed heap to the OS (glibc malloc_trim) and reset the RSS high-water mark
    (Linux >= 4.0), so that memory the call reuses from the heap counts; False if impossible."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def flatten(res: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, val in res.items():
        name = f"{prefix}{key}"
        if isinstance(val, dict):
            out.update(flatten(val, name + "."))
        elif isinstance(val, list):
            for i, v in enumerate(val):
                if isinstance(v, float):
                    out[f"{name}[{i}]"] = v
        elif isinstance(val, float):
            out[name] = val
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2100)
    ap.add_argument("--database", type=int, default=190421)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--classes", type=int, default=21)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ref-queries", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default=None, help="auto (default) | numba | numpy")
    args = ap.parse_args(argv)

    if numba_available():
        import numba

        numba.set_num_threads(max(1, min(args.threads, numba.config.NUMBA_NUM_THREADS)))
        threads = f"{numba.get_num_threads()} numba threads"
    else:
        threads = "numba not available: numpy backend, single-threaded"

    nq, nd, n_bits = args.queries, args.database, args.bits
    t0 = time.perf_counter()
    qb, db, ql, dl = make_data(nq, nd, n_bits, args.classes, args.seed)
    print(
        f"data: {nq} queries x {nd} database items x {n_bits} bits, {args.classes} classes, "
        f"seed {args.seed} (generated in {time.perf_counter() - t0:.1f} s)"
    )
    rel_frac = float(np.mean((dl[: min(nd, 20000)] @ ql[:50].T) > 0))
    print(f"relevant fraction (sampled): {rel_frac:.3f}; {threads}; CPUs: {os.cpu_count()}")
    if hasattr(os, "getloadavg"):
        print("load average before timing: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    # Warm-up: numba import + compile (or cache load). Small case, same array types.
    kw: dict[str, Any] = {"backend": args.backend}
    t0 = time.perf_counter()
    warm = evaluate_retrieval(qb[:4], db[:1000], ql[:4], dl[:1000], **kw)
    print(f"warm-up call (numba import + compile or cache load): {time.perf_counter() - t0:.2f} s")
    backend = warm["backend"]

    # Engine, warm: the whole evaluate_retrieval (packing, map_all, map@k, p@k, tie-aware, PR).
    walls, cpus = [], []
    for _ in range(max(1, args.repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        result = evaluate_retrieval(qb, db, ql, dl, **kw)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = min(walls)
    print(
        f"engine ({backend}, warm, all metrics): best {best:.3f} s, median "
        f"{statistics.median(walls):.3f} s over {len(walls)} runs; CPU time of the best run "
        f"{cpus[walls.index(best)]:.3f} s"
    )
    n_thr = int(threads.split()[0]) if threads[0].isdigit() else 1
    print(
        f"  CPU time / threads = {cpus[walls.index(best)] / n_thr:.3f} s (rough wall time on "
        "otherwise idle cores; compare the load average above)"
    )
    print(
        f"  map_all={result['map_all']:.6f} map@50={result['map_at_k'].get('50')} "
        f"map_tie_aware={result.get('map_tie_aware')} empty={result['n_empty_queries']}"
    )

    # Peak extra memory (separate, untimed run).
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    reset = rss_peak_reset()
    rss_before = rss_kib("VmRSS")
    evaluate_retrieval(qb, db, ql, dl, **kw)
    traced_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    hwm = rss_kib("VmHWM")
    rss_extra = (hwm - rss_before) * 1024 if reset and hwm and rss_before else None
    print(
        f"peak extra memory: {traced_peak / 2**20:.1f} MiB (tracemalloc: numpy/python allocations)"
        + (
            f"; {rss_extra / 2**20:.1f} MiB (RSS high-water mark minus RSS before the call, "
            "includes numba's own allocations)"
            if rss_extra is not None
            else "; RSS high-water mark not available"
        )
    )

    # Reference on a subset of queries, extrapolated linearly.
    nr = min(args.ref_queries, nq)
    t0 = time.perf_counter()
    ref = reference_evaluate(qb[:nr], db, ql[:nr], dl)
    ref_full = (time.perf_counter() - t0) * nq / nr
    # Core reference only (distances + stable argsort + AP/AP@k/P@k), no tie-aware / PR.
    qc, dc, qlp, dlp, _ = prepare_inputs(qb[:nr], db, ql[:nr], dl)
    qf = unpack_codes(qc, n_bits).astype(np.float64)
    dbf = unpack_codes(dc, n_bits).astype(np.float64)
    qlab, dlab = _multi_hot(qlp).astype(np.float64), _multi_hot(dlp).astype(np.float64)
    t0 = time.perf_counter()
    for i in range(nr):
        dist = np.rint((n_bits - dbf @ qf[i]) / 2.0).astype(np.int64)
        reference_query(dist, (dlab @ qlab[i]) > 0, (50, 1000, 5000))
    ref_core = (time.perf_counter() - t0) * nq / nr
    eng = evaluate_retrieval(qb[:nr], db, ql[:nr], dl, **kw)
    a, b = flatten(eng), flatten(ref)
    diffs = [abs(a[k] - b[k]) for k in b if k in a]
    max_diff = max(diffs) if diffs else 0.0
    same_keys = set(a) == set(b) and eng["n_empty_queries"] == ref["n_empty_queries"]
    agree = same_keys and max_diff <= 1e-12
    print(
        f"reference (all metrics) on {nr} queries, extrapolated linearly to {nq}: {ref_full:.1f} s"
    )
    print(
        f"reference core only (distances + stable argsort + AP/AP@k/P@k), extrapolated: "
        f"{ref_core:.1f} s"
    )
    print(
        f"agreement on the {nr}-query subset: {len(diffs)} values, max |diff| = {max_diff:.2e}"
        f" -> {'OK' if agree else 'MISMATCH'}"
    )
    ratio, ratio_core = ref_full / best, ref_core / best
    print(f"speed-up: {ratio:.0f}x vs full reference, {ratio_core:.0f}x vs core reference")

    checks = [
        (f"speed-up >= {TARGET_RATIO:.0f}x (vs full reference)", ratio >= TARGET_RATIO),
        (f"engine time <= {TARGET_SECONDS} s", best <= TARGET_SECONDS),
        (
            "peak extra memory <= 1 GB",
            max(traced_peak, rss_extra or 0) <= TARGET_BYTES,
        ),
        ("values agree with the reference (<= 1e-12)", agree),
    ]
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
