"""GNAH's claim, measured: tables and a per-cell verdict from the records of results folders.

Reads ``RESULTS/leaderboard.csv`` (written by ``bench run`` / ``bench leaderboard``) and prints:

1. per dataset, bit length and direction, a table methods × training budget of the metric's
   mean ± std over seeds (n seeds);
2. the verdict matrix: for every (dataset, bits, direction, budget) cell and every other method,
   GNAH's advantage paired by seed, Δ = GNAH − peer as mean ± std over the n shared seeds, and
   the verdict: ``beats`` (GNAH ahead on every shared seed), ``loses`` (behind on every seed) or
   ``mixed``; then per cell whether GNAH beats *every* peer;
3. per peer, the number of cells GNAH beats / is mixed / loses;
4. the fit time per trial of every method and budget.

Run: ``python benchmarks/gnah_claim.py RESULTS [RESULTS ...] [--reference gnah]
[--metric map_all|map_tie_aware]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

DIRECTIONS = {"i2t": "I→T", "t2i": "T→I"}
CELL = ["dataset", "bits", "direction", "budget"]


def load(folders: list[str]) -> pd.DataFrame:
    frames = [pd.read_csv(Path(f) / "leaderboard.csv") for f in folders]
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["result_key", "direction"])
    df["base"] = df["method"].str.replace(r" \(trained on \d+ pairs\)", "", regex=True)
    df["budget"] = df["budget"].astype(str)
    return df


def budget_key(b: str) -> tuple[int, float]:
    return (1, 0.0) if b == "all" else (0, float(b))


def _pm(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {0.0 if pd.isna(std) else std:.3f}"


def tables(df: pd.DataFrame, reference: str, metric: str) -> str:
    out = []
    for (dataset, bits, direction), part in df.groupby(["dataset", "bits", "direction"]):
        budgets = sorted(part["budget"].unique(), key=budget_key)
        stats = part.groupby(["base", "budget"])[metric].agg(["mean", "std", "count"])
        best = stats["mean"].groupby(level="budget").max()
        methods = sorted(part["base"].unique(),
                         key=lambda m: (m != reference, -stats.loc[m]["mean"].mean()))
        out.append(f"\n{dataset}, {bits} bits, {DIRECTIONS.get(direction, direction)} "
                   f"({metric}, mean ± std (n seeds); bold = best mean)\n")
        out.append("| method | " + " | ".join(budgets) + " |")
        out.append("|---|" + "---|" * len(budgets))
        for m in methods:
            cells = []
            for b in budgets:
                if (m, b) not in stats.index:
                    cells.append("")
                    continue
                r = stats.loc[(m, b)]
                txt = f"{_pm(r['mean'], r['std'])} ({int(r['count'])})"
                cells.append(f"**{txt}**" if r["mean"] == best[b] else txt)
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def paired(per_seed: pd.DataFrame, reference: str, peer: str) -> tuple[float, float, int, str]:
    """Δ = reference − peer over the seeds both have: mean, std, n and the verdict word."""
    both = per_seed[[reference, peer]].dropna()
    d = both[reference] - both[peer]
    n = len(d)
    word = "beats" if n and (d > 0).all() else "loses" if n and (d < 0).all() else "mixed"
    return float(d.mean()), float(d.std()) if n > 1 else float("nan"), n, word


def verdict(df: pd.DataFrame, reference: str, metric: str) -> str:
    peers = sorted(set(df["base"]) - {reference})
    lines = [f"\nΔ = {reference} − peer ({metric}), mean ± std over the n seeds both have, "
             "and beats / loses (on every seed) / mixed\n",
             "| dataset | bits | dir | budget | " + " | ".join(peers)
             + " | beats/mixed/loses |",
             "|---|---|---|---|" + "---|" * (len(peers) + 1)]
    cells = all_beaten = 0
    for key, part in sorted(df.groupby(CELL), key=lambda g: (*g[0][:3], budget_key(g[0][3]))):
        per_seed = part.pivot_table(index="seed", columns="base", values=metric)
        if reference not in per_seed:
            continue
        row, words = [], []
        for peer in peers:
            if peer not in per_seed:
                row.append("")
                continue
            mean, std, n, word = paired(per_seed, reference, peer)
            words.append(word)
            row.append(f"{mean:+.3f}±{0.0 if pd.isna(std) else std:.3f} n={n} {word}")
        cells += 1
        complete = len(words) == len(peers)
        all_beaten += complete and all(w == "beats" for w in words)
        tally = (f"{words.count('beats')}/{words.count('mixed')}/{words.count('loses')}"
                 + ("" if complete else f" ({len(words)} of {len(peers)} measured)"))
        dataset, bits, direction, budget = key
        lines.append(f"| {dataset} | {bits} | {DIRECTIONS.get(direction, direction)} | "
                     f"{budget} | " + " | ".join(row) + f" | {tally} |")
    lines.append(f"\n{reference} beats every peer on every seed in {all_beaten} of {cells} cells "
                 "(last column: peers beaten / mixed / lost to).")
    return "\n".join(lines)


def peer_summary(df: pd.DataFrame, reference: str, metric: str) -> str:
    """Per dataset and bit length, for every peer: in how many (direction, budget) cells the
    reference beats it on every seed, is mixed, loses on every seed."""
    lines = [f"\nper peer: cells (direction × budget) where {reference} beats / is mixed / loses "
             f"({metric}, paired by seed)\n", "| dataset | bits | peer | beats | mixed | loses |",
             "|---|---|---|---|---|---|"]
    for (dataset, bits), part in df.groupby(["dataset", "bits"]):
        tally: dict[str, list[str]] = {}
        for _, cell in part.groupby(["direction", "budget"]):
            per_seed = cell.pivot_table(index="seed", columns="base", values=metric)
            if reference not in per_seed:
                continue
            for peer in per_seed.columns.drop(reference):
                tally.setdefault(peer, []).append(paired(per_seed, reference, peer)[3])
        for peer, words in sorted(tally.items()):
            lines.append(f"| {dataset} | {bits} | {peer} | {words.count('beats')} | "
                         f"{words.count('mixed')} | {words.count('loses')} |")
    return "\n".join(lines)


def fit_times(df: pd.DataFrame) -> str:
    """Median and maximum ``fit`` time per trial (seconds) by method and budget."""
    one = df.drop_duplicates("result_key")
    stats = one.groupby(["dataset", "base", "budget"])["fit_time_s"].agg(["median", "max"])
    budgets = sorted(one["budget"].unique(), key=budget_key)
    lines = ["\n| dataset | method | " + " | ".join(budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for dataset, method in sorted({k[:2] for k in stats.index}):
        cells = []
        for b in budgets:
            key = (dataset, method, b)
            cells.append(f"{stats.loc[key, 'median']:.1f} / {stats.loc[key, 'max']:.1f}"
                         if key in stats.index else "")
        lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nfit time per trial, median / max seconds over seeds and bits"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+")
    p.add_argument("--reference", default="gnah")
    p.add_argument("--metric", default="map_all", choices=("map_all", "map_tie_aware"))
    args = p.parse_args(argv)
    df = load(args.results)
    used = df.groupby(["base", "budget"])["n_train_used"].max()
    print(tables(df, args.reference, args.metric))
    print(verdict(df, args.reference, args.metric))
    print(peer_summary(df, args.reference, args.metric))
    print(fit_times(df))
    capped = used[used.index.get_level_values("budget") == "all"]
    if len(capped):
        print("\nTraining pairs actually used at budget 'all': "
              + ", ".join(f"{m} {int(n)}" for (m, _), n in capped.items()))


if __name__ == "__main__":
    main()
