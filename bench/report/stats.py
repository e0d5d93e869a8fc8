"""Seed statistics: mean ± std and n of every leaderboard cell, and paired per-seed comparisons
of the top rows (is a lead bigger than the seed-to-seed noise?)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.leaderboard import cell_stats, seed_groups

from .data import SHORT_DIRECTION, row_labels, sorted_budgets

METRICS = {"map_all": "mAP@all", "map_tie_aware": "tie-aware mAP"}


def seed_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: budget, bits, direction, row, then mean, std, n of every metric in
    ``METRICS``, the finished ``seeds`` and ``requested`` (seeds the runs asked for) - numbers,
    not strings: the renderers format them."""
    base = cell_stats(df, "map_all")
    base["row"] = row_labels(base)
    out = base[["row", "budget", "bits", "direction"]].copy()
    for metric in METRICS:
        if metric not in df.columns or df[metric].isna().all():
            continue
        st = cell_stats(df, metric)
        out[f"{metric}_mean"] = st["mean"].to_numpy()
        out[f"{metric}_std"] = st["std"].to_numpy()
        out[f"{metric}_n"] = st["count"].to_numpy()
    out["seeds"] = base["seeds"].map(lambda s: ",".join(str(x) for x in s))
    if "requested" in df.columns:  # how many seeds the runs asked for (0: not recorded)
        out["requested"] = seed_groups(df)["requested"].max().to_numpy()
    out["direction"] = out["direction"].map(SHORT_DIRECTION)
    order = sorted_budgets(out["budget"])
    out["_b"] = out["budget"].astype(str).map(order.index)
    return out.sort_values(["_b", "bits", "direction", "map_all_mean"],
                           ascending=[True, True, True, False]).drop(columns="_b") \
              .reset_index(drop=True)


def paired_comparisons(df: pd.DataFrame, top: int = 3, metric: str = "map_all") -> pd.DataFrame:
    """For every (budget, bits, direction) column: the leading row against each of the next
    ``top - 1`` rows, paired by seed (same seed = same split and training draw).

    Columns: budget, bits, direction, leader, other, n (shared seeds), diff_mean, diff_std,
    signs (one '+', '-' or '=' per shared seed, seed order), wins, verdict.
    """
    if df.empty:
        return pd.DataFrame()
    per_seed = seed_groups(df, extra=("seed",))[metric].mean().reset_index()
    per_seed["row"] = row_labels(per_seed)
    rows = []
    for (budget, bits, direction), col in per_seed.groupby(["budget", "bits", "direction"]):
        wide = col.pivot_table(index="seed", columns="row", values=metric, aggfunc="mean")
        ranking = wide.mean().sort_values(ascending=False)
        if len(ranking) < 2:
            continue
        leader = ranking.index[0]
        for other in ranking.index[1:top]:
            pair = wide[[leader, other]].dropna()
            diff = (pair[leader] - pair[other]).to_numpy()
            n = len(diff)
            signs = "".join("+" if d > 0 else "-" if d < 0 else "=" for d in diff)
            wins = int((diff > 0).sum())
            if n < 2:
                verdict = "one shared seed: no comparison"
            elif wins == n:
                verdict = f"ahead on every seed ({n}/{n})"
            else:
                verdict = f"mixed ({wins}/{n} seeds)"
            rows.append({
                "budget": budget, "bits": bits, "direction": SHORT_DIRECTION[direction],
                "leader": leader, "other": other, "n": n,
                "diff_mean": float(diff.mean()) if n else np.nan,
                "diff_std": float(diff.std(ddof=1)) if n > 1 else np.nan,
                "signs": signs, "wins": wins, "verdict": verdict,
            })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = sorted_budgets(out["budget"])
    out["_b"] = out["budget"].astype(str).map(order.index)
    return out.sort_values(["_b", "bits", "direction"], kind="stable").drop(columns="_b") \
              .reset_index(drop=True)
