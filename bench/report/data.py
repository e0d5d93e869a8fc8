"""What the report reads, in one place: result records and their codes files.

records (``ResultStore``) -> long table (``bench.leaderboard.long_table``: one row per record ×
bits × direction) -> leaderboard cells (``bench.leaderboard.seed_groups``: rows that differ only
by seed). Every other report module works on these frames and never opens a file itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.leaderboard import budget_order, cell_columns, long_table
from bench.results import ResultStore, load_codes

# Cell columns that the report lays out itself (panels, axes); any further cell column (a
# harness that separates more ingredients) is shown in the row label instead.
LAYOUT_COLUMNS = ("dataset", "method", "budget", "direction", "bits")
DIRECTIONS = ("i2t", "t2i")
DIRECTION_NAMES = {"i2t": "I→T (image queries, text database)",
                   "t2i": "T→I (text queries, image database)"}
SHORT_DIRECTION = {"i2t": "I→T", "t2i": "T→I"}


def row_labels(frame: pd.DataFrame) -> pd.Series:
    """The label of a leaderboard row: the method label, plus any further cell column."""
    extra = [c for c in cell_columns(frame) if c not in LAYOUT_COLUMNS]
    labels = frame["method"].astype(str)
    for c in extra:
        labels = labels + f" [{c}=" + frame[c].astype(str) + "]"
    return labels


@dataclass
class Results:
    """The finished results of one results folder (optionally some datasets only)."""

    root: Path
    records: dict[str, dict[str, Any]]
    table: pd.DataFrame
    _codes: dict[str, dict[str, np.ndarray] | None] = field(default_factory=dict, repr=False)

    def datasets(self) -> list[str]:
        return sorted(self.table["dataset"].unique()) if not self.table.empty else []

    def of_dataset(self, dataset: str) -> pd.DataFrame:
        return self.table[self.table["dataset"] == dataset].reset_index(drop=True)

    def record(self, key: str) -> dict[str, Any]:
        return self.records[key]

    def codes(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays of a result's codes file, or None when it is missing or unreadable."""
        if key not in self._codes:
            rec = self.records[key]
            path = self.root / (rec.get("codes_file") or f"codes/{key}.npz")
            try:
                self._codes[key] = load_codes(path)
            except (OSError, ValueError):
                self._codes[key] = None
            if len(self._codes) > 16:  # keep memory bounded: forget the oldest
                self._codes.pop(next(iter(self._codes)))
        return self._codes[key]


def load_results(results_dir: Path, datasets: Sequence[str] | None = None) -> Results:
    """Read every record under ``results_dir`` (only those of ``datasets`` when given: a name
    such as ``wiki`` or a full dataset label such as ``synthetic-features[n_items=1500]``)."""
    root = Path(results_dir).resolve()
    if not root.is_dir():
        raise BenchError(f"results folder {root} does not exist")
    records = {r["key"]: r for r in ResultStore(root).load_records()
               if r.get("status", "finished") == "finished"}
    table = long_table(list(records.values()))
    if table.empty:
        raise BenchError(f"no finished results under {root} (run `python -m bench run` first)")
    table["row"] = row_labels(table)
    if datasets:
        names = table["result_key"].map(lambda k: records[k]["dataset"])
        wanted = table["dataset"].isin(datasets) | names.isin(datasets)
        missing = [d for d in datasets if d not in set(table["dataset"]) | set(names)]
        if missing:
            raise BenchError(f"no results for dataset {', '.join(missing)} under {root} "
                             f"(it has: {', '.join(sorted(set(names)))})")
        table = table[wanted].reset_index(drop=True)
        keys = set(table["result_key"])
        records = {k: r for k, r in records.items() if k in keys}
    return Results(root, records, table)


def sorted_budgets(values) -> list[str]:
    return sorted({str(v) for v in values}, key=budget_order)


def headline_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows at each leaderboard row's largest budget (the dataset's largest where it was
    run): the budget that the bits, curve and cost views show."""
    if df.empty:
        return df
    top = {row: sorted_budgets(part["budget"])[-1] for row, part in df.groupby("row")}
    return df[df["budget"].astype(str) == df["row"].map(top)].reset_index(drop=True)
