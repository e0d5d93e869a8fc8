"""What the report reads, in one place: result records and their codes files.

records (``ResultStore``) -> long table (``bench.leaderboard.long_table``: one row per record ×
bits × direction) -> leaderboard cells (``bench.leaderboard.seed_groups``: rows that differ only
by seed). Every other report module works on these frames and never opens a file itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.files import sha256_file
from bench.leaderboard import budget_order, cell_columns, long_table
from bench.results import ResultStore, load_codes
from bench.schema import ResultRecord

# Cell columns that the report lays out itself (panels, axes) or that the row label already
# separates (``group``); any further cell column is shown in the row label.
LAYOUT_COLUMNS = ("dataset", "method", "group", "budget", "direction", "bits")
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
    """The records of one results folder (optionally some datasets only): ``records`` holds
    every record by key (finished and failed), ``table`` the long table of the finished ones
    with a ``row`` label and ``requested`` (how many seeds the result's run asked for)."""

    root: Path
    records: dict[str, ResultRecord]
    table: pd.DataFrame
    _codes: dict[str, dict[str, np.ndarray] | None] = field(default_factory=dict, repr=False)

    def datasets(self) -> list[str]:
        return sorted(self.table["dataset"].unique()) if not self.table.empty else []

    def of_dataset(self, dataset: str) -> pd.DataFrame:
        return self.table[self.table["dataset"] == dataset].reset_index(drop=True)

    def record(self, key: str) -> ResultRecord:
        return self.records[key]

    def records_of(self, keys: Sequence[str]) -> list[ResultRecord]:
        """The records of ``keys`` and the failed records of the same groups."""
        groups = {self.records[k].group for k in keys}
        return [r for r in self.records.values()
                if r.key in set(keys) or (r.status == "failed" and r.group in groups)]

    def codes(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays of a result's codes file; None when it is missing, unreadable or does not
        match the record's SHA-256."""
        if key not in self._codes:
            self._codes[key] = self._read_codes(self.records[key])
            if len(self._codes) > 16:  # keep memory bounded: forget the oldest
                self._codes.pop(next(iter(self._codes)))
        return self._codes[key]

    def _read_codes(self, rec: ResultRecord) -> dict[str, np.ndarray] | None:
        info = rec.codes or {}
        try:
            path = ResultStore(self.root).codes_file(rec)  # never outside the folder
            if info.get("sha256") and sha256_file(path) != info["sha256"]:
                return None
            return load_codes(path)
        except (OSError, ValueError, BenchError):
            return None


def load_results(results_dir: Path, datasets: Sequence[str] | None = None,
                 warn: Callable[[str], None] | None = None) -> Results:
    """Read every record under ``results_dir`` (the store's scan: unreadable records set aside
    and duplicates resolved, each reported through ``warn``); only those of ``datasets`` when
    given (a name such as ``wiki`` or a dataset label such as
    ``synthetic-features[n_items=1500]``)."""
    root = Path(results_dir).resolve()
    if not root.is_dir():
        raise BenchError(f"results folder {root} does not exist")
    records = [r for r in ResultStore(root).scan(warn).records
               if r.status in ("finished", "failed")]
    table = long_table(records)
    if table.empty:
        raise BenchError(f"no finished results under {root} (run `python -m bench run` first)")
    by_key = {r.key: r for r in records}
    table["row"] = row_labels(table)
    table["requested"] = table["result_key"].map(lambda k: len(by_key[k].requested_seeds))
    if datasets:
        names = table["result_key"].map(lambda k: by_key[k].dataset)
        missing = [d for d in datasets if d not in set(table["dataset"]) | set(names)]
        if missing:
            raise BenchError(f"no results for dataset {', '.join(missing)} under {root} "
                             f"(it has: {', '.join(sorted(set(names)))})")
        table = table[table["dataset"].isin(datasets) | names.isin(datasets)]
        table = table.reset_index(drop=True)
        wanted = {by_key[k].dataset for k in table["result_key"]}
        by_key = {k: r for k, r in by_key.items() if r.dataset in wanted}
    return Results(root, by_key, table)


def sorted_budgets(values) -> list[str]:
    return sorted({str(v) for v in values}, key=budget_order)


def headline_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows at each leaderboard row's largest budget (the dataset's largest where it was
    run): the budget that the bits, curve and cost views show."""
    if df.empty:
        return df
    top = {row: sorted_budgets(part["budget"])[-1] for row, part in df.groupby("row")}
    return df[df["budget"].astype(str) == df["row"].map(top)].reset_index(drop=True)
