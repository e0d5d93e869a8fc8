"""Result records -> leaderboard tables.

* ``leaderboard.csv``: long format, one row per (record, bits, direction) with every metric.
* ``leaderboard_pivot.csv`` / ``leaderboard.md``: paper style, methods × dataset/direction/bits
  (and budget when there are several), mAP@all as mean ± std over seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.results import ResultStore, atomic_write_bytes

DIRECTIONS = {"i2t": "I→T", "t2i": "T→I"}


def _defaults(method: str) -> dict[str, Any] | None:
    from bench import registry
    from bench.errors import PluginError

    try:
        return dict(registry.methods.get(method).defaults)
    except PluginError:
        return None


def _label(name: str, values: dict[str, Any], defaults: dict[str, Any] | None) -> str:
    """``name`` or ``name[k=v,...]`` listing what differs from the defaults."""
    if defaults is None:
        changed = dict(values)
    else:
        changed = {k: v for k, v in values.items() if defaults.get(k, object()) != v}
    if not changed:
        return name
    return name + "[" + ",".join(f"{k}={changed[k]}" for k in sorted(changed)) + "]"


def long_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per record × bits × direction. Results of non-default hyperparameters or
    dataset options get their own method / dataset label, so they are never averaged together."""
    rows = []
    for rec in records:
        method = _label(rec["method"], rec.get("params") or {}, _defaults(rec["method"]))
        if rec.get("labels_at_encode"):
            method += " (labels at encoding)"
        used, offered = rec.get("n_train_used"), rec.get("n_train")
        if used is not None and offered is not None and used < offered:
            method += f" (trained on {used} pairs)"  # the method capped its training set
        dataset = _label(rec["dataset"], rec.get("dataset_options") or {}, {})
        for bits, per_dir in rec["metrics"].items():
            for direction, m in per_dir.items():
                row = {
                    "method": method, "dataset": dataset,
                    "preset": (rec.get("preset") or {}).get("name"), "budget": rec["budget"],
                    "n_train": rec.get("n_train"),
                    "n_train_used": rec.get("n_train_used", rec.get("n_train")),
                    "seed": rec["seed"], "bits": int(bits),
                    "direction": direction, "map_all": m.get("map_all"),
                    "map_tie_aware": m.get("map_tie_aware"),
                }
                for k, v in (m.get("map_at_k") or {}).items():
                    row[f"map_at_{k}"] = v
                for k, v in (m.get("p_at_k") or {}).items():
                    row[f"p_at_{k}"] = v
                row.update({
                    "n_queries": m.get("n_queries"), "n_empty_queries": m.get("n_empty_queries"),
                    "validation_map": (rec.get("validation") or {}).get("map_mean_first_bits"),
                    "fit_time_s": (rec.get("timing") or {}).get("fit_s"),
                    "split_checksum": (rec.get("split") or {}).get("checksum"),
                    "protocol_version": (rec.get("protocol") or {}).get("version"),
                    "method_version": rec.get("method_version"),
                    "git_commit": (rec.get("environment") or {}).get("git_commit"),
                    "result_key": rec["key"],
                })
                rows.append(row)
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["dataset", "method", "bits", "direction", "budget", "seed"],
                            kind="stable").reset_index(drop=True)
    return df


def budget_order(value: str) -> tuple[int, float]:
    """Sort key of a budget label: counts and fractions by value, then 'all'."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, 0.0)


# The columns of the long table that define a leaderboard cell: everything but the seed. Every
# aggregation over seeds (the pivot, the report's figures and tables) groups by these.
CELL_COLUMNS = ("dataset", "method", "budget", "direction", "bits")


def cell_columns(df: pd.DataFrame) -> list[str]:
    """The grouping columns of a leaderboard cell present in ``df`` (all but the seed)."""
    return [c for c in CELL_COLUMNS if c in df.columns]


def seed_groups(df: pd.DataFrame, extra: tuple[str, ...] = ()):
    """``df`` grouped into leaderboard cells (rows that differ only by seed), optionally split
    further by ``extra`` columns; a pandas GroupBy."""
    return df.groupby([*cell_columns(df), *extra], dropna=False, sort=False)


def cell_stats(df: pd.DataFrame, metric: str = "map_all") -> pd.DataFrame:
    """One row per leaderboard cell: its grouping columns, ``mean``, ``std``, ``count`` of
    ``metric`` over seeds and ``seeds`` (the sorted seeds of the cell)."""
    if df.empty:
        return pd.DataFrame(columns=[*cell_columns(df), "mean", "std", "count", "seeds"])
    groups = seed_groups(df)
    stats = groups[metric].agg(["mean", "std", "count"])
    stats["seeds"] = groups["seed"].agg(lambda s: tuple(sorted(s)))
    return stats.reset_index()


def pivot_table(df: pd.DataFrame, metric: str = "map_all") -> pd.DataFrame:
    """Methods × (dataset, [budget,] direction, bits): mean ± std over seeds."""
    if df.empty:
        return pd.DataFrame()
    several_budgets = df.groupby("dataset")["budget"].nunique().max() > 1
    cols = ["dataset"] + (["budget"] if several_budgets else []) + ["direction", "bits"]
    stats = cell_stats(df, metric)

    def cell(r: pd.Series) -> str:
        if pd.isna(r["mean"]):
            return "n/a"
        if r["count"] > 1:
            return f"{r['mean']:.4f} ± {r['std']:.4f} (n={int(r['count'])})"
        return f"{r['mean']:.4f}"

    stats["cell"] = stats.apply(cell, axis=1)
    stats["direction"] = stats["direction"].map(lambda d: DIRECTIONS.get(d, d))
    table = stats.pivot(index="method", columns=cols, values="cell")
    order = sorted(table.columns, key=lambda c: tuple(
        budget_order(v) if name == "budget" else (0, v) if name == "bits" else (0, str(v))
        for name, v in zip(cols, c if isinstance(c, tuple) else (c,), strict=True)))
    table = table[order]
    table.columns = [" / ".join(str(x) for x in (c if isinstance(c, tuple) else (c,)))
                     for c in table.columns]
    return table


def to_markdown(table: pd.DataFrame, title: str) -> str:
    if table.empty:
        return f"# {title}\n\nNo results yet.\n"
    header = ["method", *table.columns]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for method, row in table.iterrows():
        lines.append("| " + " | ".join([str(method), *[str(v) if isinstance(v, str) else ""
                                                        for v in row]]) + " |")
    lines += ["", "mAP@all (Hamming ranking, ties by database index, relevance = ≥1 shared "
              "label, empty queries excluded); mean ± std over seeds when n > 1. Rows marked "
              "'(labels at encoding)' read ground-truth labels when encoding query and database "
              "items (a label leak of the reference method), so they are not comparable. "
              "'(trained on N pairs)': the method used a seeded subset of N of the budget's "
              "training pairs (its own cap).", ""]
    return "\n".join(lines)


def write_leaderboard(results_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Build the tables from every record under ``results_dir``; returns the written paths."""
    store = ResultStore(results_dir)
    out = Path(out_dir or results_dir).resolve()
    df = long_table(store.load_records())
    pivot = pivot_table(df)
    paths = {"long": out / "leaderboard.csv", "pivot": out / "leaderboard_pivot.csv",
             "markdown": out / "leaderboard.md"}
    atomic_write_bytes(paths["long"], df.to_csv(index=False).encode())
    atomic_write_bytes(paths["pivot"], pivot.to_csv().encode())
    atomic_write_bytes(paths["markdown"],
                       to_markdown(pivot, "Leaderboard: mAP@all").encode())
    return paths
