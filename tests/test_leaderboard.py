"""Leaderboard tables from a fixture results store (no training involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.leaderboard import long_table, pivot_table, write_leaderboard
from bench.results import ResultStore, result_key


def record(method: str, bits: int, budget: str, seed: int, i2t: float, t2i: float,
           params: dict | None = None, **extra) -> dict:
    definition = {"method": method, "dataset": "toy", "bits": [bits], "budget": budget,
                  "seed": seed, "params": params or {}}
    return {
        "schema": 1, "key": result_key(definition), "method": method, "dataset": "toy",
        "bits": [bits], "budget": budget, "seed": seed, "params": params or {},
        "preset": {"name": "p"}, "n_train": 10,
        "metrics": {str(bits): {
            "i2t": {"map_all": i2t, "map_at_k": {"50": i2t + 0.1}, "p_at_k": {"50": 0.5},
                    "map_tie_aware": i2t, "n_queries": 10, "n_empty_queries": 0},
            "t2i": {"map_all": t2i, "map_at_k": {"50": t2i + 0.1}, "p_at_k": {"50": 0.5},
                    "map_tie_aware": t2i, "n_queries": 10, "n_empty_queries": 1}}},
        **extra,
    }


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    s = ResultStore(tmp_path)
    for seed, (a, b) in zip((42, 1, 2), ((0.60, 0.50), (0.62, 0.52), (0.64, 0.54)), strict=True):
        s.write_record(record("gnah", 32, "80", seed, a, b))
        s.write_record(record("gnah", 32, "20", seed, a - 0.1, b - 0.1))
    s.write_record(record("lsh", 32, "80", 42, 0.3, 0.3, params={"center": True}))
    s.write_record(record("lsh", 32, "80", 42, 0.2, 0.2, params={"center": False}))
    s.write_record(record("prompthash", 32, "80", 42, 0.9, 0.9, labels_at_encode=True,
                          n_train_used=8))
    return s


def test_long_table(store):
    df = long_table(store.load_records())
    assert len(df) == (6 + 3) * 2
    assert {"map_at_50", "p_at_50", "n_empty_queries", "result_key"} <= set(df.columns)
    used = df.groupby("method")["n_train_used"].first()  # a method's own cap, else the budget
    assert used["prompthash (labels at encoding) (trained on 8 pairs)"] == 8
    assert used["gnah"] == 10
    assert set(df["method"]) == {"gnah", "lsh", "lsh[center=False]",
                                 "prompthash (labels at encoding) (trained on 8 pairs)"}


def test_pivot_mean_std_over_seeds_with_budget_axis(store):
    table = pivot_table(long_table(store.load_records()))
    assert list(table.columns)[:2] == ["toy / 20 / I→T / 32", "toy / 20 / T→I / 32"]
    assert table.loc["gnah", "toy / 80 / I→T / 32"] == "0.6200 ± 0.0200 (n=3)"
    assert table.loc["lsh", "toy / 80 / I→T / 32"] == "0.3000"
    assert table.loc["lsh[center=False]", "toy / 80 / I→T / 32"] == "0.2000"
    assert pd.isna(table.loc["lsh", "toy / 20 / I→T / 32"])


def test_write_leaderboard(store, tmp_path):
    paths = write_leaderboard(store.root, tmp_path / "out")
    md = paths["markdown"].read_text()
    assert "| gnah |" in md and "labels at encoding" in md
    assert len(pd.read_csv(paths["long"])) == 18
    assert pd.read_csv(paths["pivot"]).shape[0] == 4


def test_empty_store(tmp_path):
    paths = write_leaderboard(tmp_path)
    assert "No results yet" in paths["markdown"].read_text()


def test_null_metric_round_trips(tmp_path):
    s = ResultStore(tmp_path)
    s.write_record(record("lsh", 16, "all", 0, float("nan"), 0.5))
    raw = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert raw["metrics"]["16"]["i2t"]["map_all"] is None
    table = pivot_table(long_table(s.load_records()))
    assert table.loc["lsh", "toy / I→T / 16"] == "n/a"
