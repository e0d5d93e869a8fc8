"""Leaderboard tables from fixture results stores (no training involved): grouping, seeds
expected and missing, failed cells, tie-aware mAP beside mAP@all, duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.leaderboard import long_table, pivot_table, write_leaderboard
from bench.results import ResultStore
from bench.schema import Definition, ErrorInfo, ResultRecord, TrialConfig, failed_record


def record(method: str, bits: int, budget: str, seed: int, i2t: float, t2i: float,
           params: dict | None = None, seeds=(42, 1, 2), preset: str = "p",
           method_version: str = "1", **extra) -> ResultRecord:
    d = Definition(method=method, method_version=method_version, dataset="toy",
                   dataset_version="1", preset={"name": preset}, bits=(bits,), budget=budget,
                   seed=seed, params=params or {}, protocol_version=2, k_values=(50,),
                   data_fingerprint="f" * 64)
    cfg = TrialConfig(definition=d, budget=None, results_dir="/r", cache_dir="/c",
                      requested_seeds=tuple(seeds))
    if i2t is None:
        return failed_record(cfg, ErrorInfo("RuntimeError", "boom", "fit"))
    from bench.schema import record_identity

    def m(v):
        return {"map_all": v, "map_at_k": {"50": v + 0.1}, "p_at_k": {"50": 0.5},
                "map_tie_aware": v - 0.01, "n_queries": 10, "n_empty_queries": 0}

    return ResultRecord(key=cfg.key, status="finished", **record_identity(cfg), n_train=10,
                        metrics={str(bits): {"i2t": m(i2t), "t2i": m(t2i)}}, **extra)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    s = ResultStore(tmp_path)
    for seed, (a, b) in zip((42, 1, 2), ((0.60, 0.50), (0.62, 0.52), (0.64, 0.54)), strict=True):
        s.write_record(record("gnah", 32, "80", seed, a, b))
        s.write_record(record("gnah", 32, "20", seed, a - 0.1, b - 0.1))
    s.write_record(record("lsh", 32, "80", 42, 0.3, 0.3, params={"center": True}, seeds=(42,)))
    s.write_record(record("lsh", 32, "80", 42, 0.2, 0.2, params={"center": False}, seeds=(42,)))
    s.write_record(record("prompthash", 32, "80", 42, 0.9, 0.9, seeds=(42,),
                          labels_at_encode=True, n_train_used=8))
    # cca-itq: seed 42 finished, seed 1 failed, seed 2 never ran
    s.write_record(record("cca-itq", 32, "80", 42, 0.7, 0.7))
    s.write_record(record("cca-itq", 32, "80", 1, None, None))
    return s


def test_long_table(store):
    df = long_table(store.load_records())
    assert len(df) == (6 + 3 + 1) * 2  # finished records only
    assert {"map_at_50", "p_at_50", "n_empty_queries", "result_key", "group",
            "data_fingerprint"} <= set(df.columns)
    used = df.groupby("method")["n_train_used"].first()  # a method's own cap, else the budget
    assert used["prompthash (labels at encoding) (trained on 8 pairs)"] == 8
    assert used["gnah"] == 10
    assert set(df["method"]) == {"gnah", "lsh", "lsh[center=False]", "cca-itq",
                                 "prompthash (labels at encoding) (trained on 8 pairs)"}


def test_pivot_counts_seeds_against_the_expected_ones(store):
    table = pivot_table(store.load_records())
    assert list(table.columns)[:2] == ["20 / I→T / 32", "20 / I→T / 32 tie-aware"]
    assert table.loc["gnah", "80 / I→T / 32"] == "0.6200 ± 0.0200 (n=3/3)"
    assert table.loc["gnah", "80 / I→T / 32 tie-aware"] == "0.6100 ± 0.0200"
    assert table.loc["lsh", "80 / I→T / 32"] == "0.3000 (n=1/1)"
    assert table.loc["lsh[center=False]", "80 / I→T / 32"] == "0.2000 (n=1/1)"
    assert table.loc["cca-itq", "80 / I→T / 32"] == \
        "0.7000 (n=1/3; failed: seed 1; missing: seed 2)"
    assert table.loc["lsh", "20 / I→T / 32"] == ""


def test_write_leaderboard_lists_failed_trials(store, tmp_path):
    paths = write_leaderboard(store.root, tmp_path / "out")
    md = paths["markdown"].read_text()
    assert "| gnah |" in md and "labels at encoding" in md and "on toy" in md
    assert "## Failed trials" in md and "RuntimeError: boom" in md
    assert len(pd.read_csv(paths["long"])) == 20
    assert pd.read_csv(paths["pivot"]).shape[0] == 5


def test_empty_store(tmp_path):
    paths = write_leaderboard(tmp_path)
    assert "No results yet" in paths["markdown"].read_text()


def test_null_metric_round_trips(tmp_path):
    s = ResultStore(tmp_path)
    s.write_record(record("lsh", 16, "all", 0, float("nan"), 0.5, seeds=(0,)))
    raw = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert raw["metrics"]["16"]["i2t"]["map_all"] is None
    table = pivot_table(s.load_records())
    assert table.loc["lsh", "I→T / 16"] == "n/a (n=1/1)"


# -- cells never mix results that are not comparable --------------------


def legacy(tmp_path: Path, name: str, seed: int, value: float, day: int = 1,
           **definition) -> None:
    """A record as the harness before protocol 2 wrote it (schema 1)."""
    d = {"method": "gnah", "method_version": "1", "dataset": "toy", "dataset_options": {},
         "preset": {"name": "gnah"}, "bits": [32], "budget": "80", "seed": seed,
         "params": {"tau": 1.0}, "protocol_version": 1, "k_values": [50]}
    d.update(definition)
    m = {"map_all": value, "map_tie_aware": value, "map_at_k": {}, "p_at_k": {}}
    rec = {"schema": 1, "key": name, "status": "finished", "method": "gnah", "dataset": "toy",
           "bits": [32], "budget": "80", "seed": seed, "params": d["params"],
           "preset": d["preset"], "method_version": d["method_version"], "definition": d,
           "metrics": {"32": {"i2t": m, "t2i": m}}, "created": f"2026-01-0{day}T00:00:00"}
    path = tmp_path / "records" / "gnah" / "toy" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))


def test_results_differing_in_preset_or_version_are_never_averaged(tmp_path, capsys):
    legacy(tmp_path, "a", 0, 0.4)
    legacy(tmp_path, "b", 0, 0.6, preset={"name": "small"})
    legacy(tmp_path, "c", 0, 0.8, method_version="2")
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    md = (tmp_path / "leaderboard.md").read_text()
    assert "± 0.2000" not in md and "(n=3" not in md
    rows = {line.split(" | ")[0].strip("| ") for line in md.splitlines()
            if line.startswith("| gnah")}
    assert len(rows) == 3, rows  # one row per definition, each label says what differs
    assert any("preset=small" in r for r in rows) and any("v2" in r for r in rows)


# -- one result never counts twice -----------------------------------------


def test_same_definition_and_seed_counts_once(tmp_path, capsys):
    legacy(tmp_path, "old", 0, 0.8, day=1, params={"tau": 1.0})
    legacy(tmp_path, "new", 0, 0.8, day=2, params={"tau": 1})  # --set gnah.tau=1, later
    assert main(["leaderboard", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    md = (tmp_path / "leaderboard.md").read_text()
    assert "(n=2" not in md and "0.8000 (n=1/1)" in md
    assert "same definition and seed" in out and "old.json" in out
