"""GNAH's claim, measured: tables and a per-cell verdict from the records of a results folder.

Reads ``RESULTS/leaderboard.csv`` (written by ``bench run`` / ``bench leaderboard``) and prints,
per dataset, bit length and direction, a table methods × training budget of mAP@all mean ± std
over seeds, then for every (dataset, bits, direction, budget) cell GNAH's mean against the best
other method's, with the number of seeds on which GNAH beats each method (paired by seed), and
the fit time per trial of every method.

Run: ``python benchmarks/gnah_claim.py RESULTS [RESULTS ...] [--reference gnah]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

DIRECTIONS = {"i2t": "I→T", "t2i": "T→I"}


def load(folders: list[str]) -> pd.DataFrame:
    frames = [pd.read_csv(Path(f) / "leaderboard.csv") for f in folders]
    df = pd.concat(frames, ignore_index=True)
    df["base"] = df["method"].str.replace(r" \(trained on \d+ pairs\)", "", regex=True)
    df["budget"] = df["budget"].astype(str)
    return df


def budget_key(b: str) -> tuple[int, float]:
    return (1, 0.0) if b == "all" else (0, float(b))


def tables(df: pd.DataFrame, reference: str) -> str:
    out = []
    for (dataset, bits, direction), part in df.groupby(["dataset", "bits", "direction"]):
        budgets = sorted(part["budget"].unique(), key=budget_key)
        stats = part.groupby(["base", "budget"])["map_all"].agg(["mean", "std", "count"])
        best = stats["mean"].groupby(level="budget").max()
        methods = sorted(part["base"].unique(),
                         key=lambda m: (m != reference, -stats.loc[m]["mean"].mean()))
        out.append(f"\n{dataset}, {bits} bits, {DIRECTIONS.get(direction, direction)} "
                   f"(mAP@all, mean ± std over seeds; bold = best mean)\n")
        out.append("| method | " + " | ".join(budgets) + " |")
        out.append("|---|" + "---|" * len(budgets))
        for m in methods:
            cells = []
            for b in budgets:
                if (m, b) not in stats.index:
                    cells.append("")
                    continue
                r = stats.loc[(m, b)]
                txt = f"{r['mean']:.3f} ± {0.0 if pd.isna(r['std']) else r['std']:.3f}"
                cells.append(f"**{txt}**" if r["mean"] == best[b] else txt)
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def verdict(df: pd.DataFrame, reference: str) -> str:
    lines = [f"\n| dataset | bits | direction | budget | {reference} | best other | Δ | "
             f"{reference} ahead of (seeds won / seeds) |", "|---|---|---|---|---|---|---|---|"]
    wins = cells = 0
    groups = df.groupby(["dataset", "bits", "direction", "budget"])
    for (dataset, bits, direction, budget), part in sorted(
            groups, key=lambda g: (*g[0][:3], budget_key(g[0][3]))):
        per_seed = part.pivot_table(index="seed", columns="base", values="map_all")
        if reference not in per_seed:
            continue
        means = per_seed.mean()
        others = means.drop(reference)
        best_name = others.idxmax()
        delta = means[reference] - others.max()
        beaten = []
        for m in others.sort_values(ascending=False).index:
            paired = per_seed[[reference, m]].dropna()
            beaten.append(f"{m} {int((paired[reference] > paired[m]).sum())}/{len(paired)}")
        cells += 1
        wins += int(delta > 0)
        lines.append(f"| {dataset} | {bits} | {DIRECTIONS.get(direction, direction)} | {budget} "
                     f"| {means[reference]:.3f} | {best_name} {others.max():.3f} | "
                     f"{delta:+.3f} | {', '.join(beaten[:4])} |")
    lines.append(f"\n{reference} has the best mean in {wins} of {cells} cells.")
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
    args = p.parse_args(argv)
    df = load(args.results)
    used = df.groupby(["base", "budget"])["n_train_used"].max()
    print(tables(df, args.reference))
    print(verdict(df, args.reference))
    print(fit_times(df))
    capped = used[used.index.get_level_values("budget") == "all"]
    if len(capped):
        print("\nTraining pairs actually used at budget 'all': "
              + ", ".join(f"{m} {int(n)}" for (m, _), n in capped.items()))


if __name__ == "__main__":
    main()
