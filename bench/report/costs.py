"""What a method costs, per leaderboard row and bit length: fit time, encode throughput, code
size and Hamming-ranking query latency (ann-benchmarks' habit: speed reported with quality).

Fit and encode times come from the records (wall-clock seconds measured in the trial); the query
latency is measured here, on the stored packed codes, with the metric engine's ranking.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bench.leaderboard import seed_groups
from bench.metrics import hamming_rank
from bench.schema import ResultRecord

from .curves import DIRECTION_CODES

LATENCY_QUERIES = 100  # single queries timed per (row, bits): per direction, median reported


def code_bytes(bits: int) -> tuple[float, int]:
    """(bytes per item of the code itself, bytes in the engine's uint64-word layout)."""
    return bits / 8, 8 * ((bits + 63) // 64)


def encode_throughput(record: ResultRecord) -> dict[str, float]:
    """Items per second of encoding, from a record's timing: per modality when the record has
    ``timing.encode_image_s`` / ``encode_text_s``, else both modalities together (the trial's
    ``encode_s`` times image and text encoding of the query and retrieval sets in one span)."""
    timing = record.timing or {}
    sizes = (record.split or {}).get("sizes") or {}
    items = sizes.get("query", 0) + sizes.get("retrieval", 0)
    out = {}
    for modality in ("image", "text"):
        seconds = timing.get(f"encode_{modality}_s")
        if seconds:
            out[modality] = items / seconds
    if not out and timing.get("encode_s"):
        out["both"] = 2 * items / timing["encode_s"]
    return out


def query_latency_ms(codes: dict[str, np.ndarray], bits: int,
                     n_queries: int = LATENCY_QUERIES) -> float:
    """Median milliseconds to rank the whole retrieval set for one query (both directions'
    queries, one at a time, packed codes, stable Hamming ranking)."""
    times = []
    for q_mod, r_mod in DIRECTION_CODES.values():
        queries, database = codes[f"q_{q_mod}_{bits}"], codes[f"r_{r_mod}_{bits}"]
        hamming_rank(queries[0], database, bits)  # warm-up
        for q in queries[:n_queries]:
            t0 = time.perf_counter_ns()
            hamming_rank(q, database, bits)
            times.append(time.perf_counter_ns() - t0)
    return float(np.median(times)) / 1e6


def cost_table(rows: pd.DataFrame, record_of: Callable[[str], ResultRecord],
               codes_of: Callable[[str], dict[str, np.ndarray] | None],
               latency_queries: int = LATENCY_QUERIES) -> pd.DataFrame:
    """One row per leaderboard row × bits of ``rows`` (a long table at one budget per row)."""
    if rows.empty:
        return pd.DataFrame()
    one_dir = rows[rows["direction"] == rows["direction"].iloc[0]]
    out = []
    for _, cell in seed_groups(one_dir):
        first = cell.iloc[0]
        records = [record_of(k) for k in cell["result_key"]]
        speeds = [encode_throughput(r) for r in records]
        bits = int(first["bits"])
        latency, n_database = np.nan, None
        for key in cell["result_key"]:
            codes = codes_of(key)
            if codes is not None and f"q_img_{bits}" in codes:
                latency = query_latency_ms(codes, bits, latency_queries)
                n_database = int(codes[f"r_img_{bits}"].shape[0])
                break
        fit = cell["fit_time_s"].astype(float)
        raw, packed = code_bytes(bits)
        row = {"row": first["row"], "budget": first["budget"], "bits": bits,
               "n": len(cell), "multi_bit": any(len(r.bits) > 1 for r in records),
               "fit_s_mean": fit.mean(), "fit_s_std": fit.std(ddof=1) if len(fit) > 1 else np.nan}
        for modality in ("image", "text", "both"):
            vals = [s[modality] for s in speeds if modality in s]
            if vals:
                row[f"encode_{modality}_items_s"] = float(np.mean(vals))
        row.update({"code_bytes": raw, "packed_bytes": packed, "latency_ms": latency,
                    "n_database": n_database})
        out.append(row)
    return pd.DataFrame(out).sort_values(["bits", "row"], kind="stable").reset_index(drop=True)
