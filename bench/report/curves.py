"""Precision–recall over Hamming radius and precision@N, recomputed from the stored codes with
the metric engine (not read from the records' summaries)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bench.leaderboard import seed_groups
from bench.metrics import evaluate_retrieval

# N of the precision@N curve (capped at the retrieval set's size, which is always included).
N_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
# Codes file arrays of each direction: (query modality, database modality).
DIRECTION_CODES = {"i2t": ("img", "txt"), "t2i": ("txt", "img")}
CURVE_COLUMNS = ["curve", "x", "precision", "recall"]


def n_grid(n_database: int) -> list[int]:
    return [n for n in N_GRID if n < n_database] + [n_database]


def curves_from_codes(codes: dict[str, np.ndarray], bits: int, direction: str) -> pd.DataFrame:
    """The engine's PR curve (radius 0..bits; macro precision and recall) and P@N of one
    result's codes in one direction: columns ``curve`` ('pr' | 'p_at_n'), ``x`` (radius or N),
    ``precision``, ``recall`` (NaN for P@N)."""
    q_mod, r_mod = DIRECTION_CODES[direction]
    query, database = codes[f"q_{q_mod}_{bits}"], codes[f"r_{r_mod}_{bits}"]
    ks = n_grid(database.shape[0])
    res = evaluate_retrieval(query, database, codes["q_labels"], codes["r_labels"],
                             n_bits=bits, k_values=ks, tie_aware=False, pr_curve=True)
    pr = res["pr_curve"]
    rows = [("pr", r, np.nan if p is None else p, np.nan if c is None else c)
            for r, p, c in zip(pr["radius"], pr["precision"], pr["recall"], strict=True)]
    rows += [("p_at_n", k, np.nan if res["p_at_k"][str(k)] is None else res["p_at_k"][str(k)],
              np.nan) for k in ks]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def curve_table(rows: pd.DataFrame, bits: int,
                codes_of: Callable[[str], dict[str, np.ndarray] | None]) -> tuple[pd.DataFrame,
                                                                                   list[str]]:
    """Per-seed curves of the long-table ``rows`` at ``bits`` (one per result and direction).

    Returns the long frame (the rows' cell columns, seed, result_key, then ``CURVE_COLUMNS``)
    and the keys whose codes file was missing.
    """
    parts, missing = [], []
    for _, r in rows[rows["bits"] == bits].iterrows():
        codes = codes_of(r["result_key"])
        if codes is None or f"q_img_{bits}" not in codes:
            missing.append(r["result_key"])
            continue
        c = curves_from_codes(codes, bits, r["direction"])
        for col in ("dataset", "method", "row", "budget", "bits", "direction", "seed",
                    "result_key"):
            c[col] = r[col]
        parts.append(c)
    if not parts:
        return pd.DataFrame(), sorted(set(missing))
    out = pd.concat(parts, ignore_index=True)
    front = [c for c in out.columns if c not in CURVE_COLUMNS]
    return out[front + CURVE_COLUMNS], sorted(set(missing))


def mean_curves(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Curves averaged over seeds per leaderboard cell and point (NaN-aware), with ``n``."""
    if per_seed.empty:
        return per_seed
    groups = seed_groups(per_seed, extra=("row", "curve", "x"))
    out = groups[["precision", "recall"]].mean()
    out["n"] = groups["seed"].nunique()
    return out.reset_index()
